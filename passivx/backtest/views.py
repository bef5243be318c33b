"""Views of the workspace vector `w` (`passivx.backtest.layout`): the calculator's vectors for the rare
paths that call it, and offset-based reads of a state vector inside `w` for the hot paths (a numba
call costs a reference count per array argument; these take one). `unowned` takes those reference
counts away altogether for the arrays of a replay."""
import numba
from numba.extending import intrinsic

from passivx.calc.jit import jit
from passivx.calc.layout import (
    CFG_SIZE, MEMO_SIZE, MKT_SIZE, S_LONG_EMA0, S_LONG_LAST_ENTRY_MS, S_LONG_PRICE, S_LONG_SIZE, S_SHORT_EMA0,
    S_SHORT_LAST_ENTRY_MS, S_SHORT_PRICE, S_SHORT_SIZE, ST_SIZE,
)
from passivx.backtest.layout import RING_W, W_CFG, W_MEMO, W_MKT, W_ST


@jit
def cfg_of(w):
    return w[W_CFG:W_CFG + CFG_SIZE]


@jit
def mkt_of(w):
    return w[W_MKT:W_MKT + MKT_SIZE]


@jit
def memo_of(w):
    return w[W_MEMO:W_MEMO + MEMO_SIZE]


@jit
def st_of(w):
    return w[W_ST:W_ST + ST_SIZE]


@jit
def decision_at(w, o: int):
    """The decision (state vector, time, version, fill number) stored at offset `o`."""
    return w[o:o + RING_W]


@jit
def position(w, o: int, k: int):
    """(size, price) of side k (0 long, 1 short) of the state at offset `o`."""
    if k == 0:
        return w[o + S_LONG_SIZE], w[o + S_LONG_PRICE]
    return w[o + S_SHORT_SIZE], w[o + S_SHORT_PRICE]


@jit
def timers(w, o: int, k: int):
    """(last entry, last close, last unstuck) fill times of side k of the state at offset `o`."""
    i = o + (S_LONG_LAST_ENTRY_MS if k == 0 else S_SHORT_LAST_ENTRY_MS)
    return w[i], w[i + 1], w[i + 2]


@jit
def band(w, o: int, k: int):
    """(lower, upper) of side k's three band EMAs in the state at offset `o`."""
    i = o + (S_LONG_EMA0 if k == 0 else S_SHORT_EMA0)
    return min(w[i], w[i + 1], w[i + 2]), max(w[i], w[i + 1], w[i + 2])


@intrinsic
def _unowned(typingctx, arr):
    def codegen(context, builder, sig, args):
        src = context.make_array(sig.args[0])(context, builder, value=args[0])
        dst = context.make_array(sig.return_type)(context, builder)  # zero-filled: no meminfo, no parent
        for field in ("nitems", "itemsize", "data", "shape", "strides"):
            setattr(dst, field, getattr(src, field))
        return dst._getvalue()
    return arr(arr), codegen


def _same(arr):
    return arr


# `unowned(a)`: the array `a` (same type and data) without its owner, as `numba.carray` makes them. Numba
# counts references to an array's owner atomically at every call that passes it and every view taken of it
# (most calls keep those counts, as any call may raise); without an owner they are a test of a null pointer.
# For arrays the caller keeps alive for the whole jitted call, as the replay's are: a third of the replay's
# time on candles went to those counts (perf). Without JIT: the array itself.
unowned = _same if numba.config.DISABLE_JIT else _unowned
