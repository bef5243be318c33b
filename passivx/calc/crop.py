"""Wallet-exposure solvers (STRATEGY.md §3 "Crop solver", legacy auto-unstuck close) and the per-side
view of the state vector that the mode modules share.

Both solvers run the same secant search over qty (multiples of qty_step): up to 15 steps after two
seed guesses, stop once a guess is within 1 % of the target, return the guess with the smallest relative
error (ties: the smaller qty).
"""
import math

from passivx.calc.contracts import pnl, qty_to_cost, wallet_exposure, we_if_filled
from passivx.calc.jit import jit
from passivx.calc.layout import (
    C_LONG, C_SHORT, M_QTY_STEP, S_LONG_EMA0, S_LONG_LAST_CLOSE_MS, S_LONG_LAST_ENTRY_MS,
    S_LONG_LAST_UNSTUCK_MS, S_LONG_PRICE, S_LONG_SIZE, S_SHORT_EMA0, S_SHORT_LAST_CLOSE_MS,
    S_SHORT_LAST_ENTRY_MS, S_SHORT_LAST_UNSTUCK_MS, S_SHORT_PRICE, S_SHORT_SIZE,
)
from passivx.calc.rounding import round_

_TRIES = 15
_TOLERANCE = 0.01
_STEP_DOWN_MAX = 100


# ---- per-side view of the state ------------------------------------------------------------------
@jit
def side_base(side: int) -> int:
    """Offset of the side's block in `cfg`: `C_LONG` for +1, `C_SHORT` for -1."""
    return C_LONG if side > 0 else C_SHORT


@jit
def side_position(st, side: int):
    """(signed size, position price) of one side."""
    if side > 0:
        return st[S_LONG_SIZE], st[S_LONG_PRICE]
    return st[S_SHORT_SIZE], st[S_SHORT_PRICE]


@jit
def ema_band(st, side: int):
    """(lower, upper) of the side's three band EMAs."""
    i = S_LONG_EMA0 if side > 0 else S_SHORT_EMA0
    return min(st[i], st[i + 1], st[i + 2]), max(st[i], st[i + 1], st[i + 2])


@jit
def side_timers(st, side: int):
    """(last entry, last close, last unstuck) fill times of one side in ms (-inf = never)."""
    if side > 0:
        return st[S_LONG_LAST_ENTRY_MS], st[S_LONG_LAST_CLOSE_MS], st[S_LONG_LAST_UNSTUCK_MS]
    return st[S_SHORT_LAST_ENTRY_MS], st[S_SHORT_LAST_CLOSE_MS], st[S_SHORT_LAST_UNSTUCK_MS]


# ---- solvers ------------------------------------------------------------------------------------
@jit
def _exposure(closing: bool, side: int, size: float, pos_price: float, qty: float, price: float,
              balance: float, mkt) -> float:
    """WE after buying `qty` at `price` (entry), or after closing it with its PnL realised (close)."""
    if not closing:
        return we_if_filled(size, pos_price, side * qty, price, balance, mkt)
    equity = balance + pnl(size, pos_price, price, qty, mkt)
    if equity <= 0.0:
        return math.inf
    return qty_to_cost(abs(size) - qty, pos_price, mkt) / equity


@jit
def _clamp(g: float, cap: float) -> float:
    return min(cap, max(0.0, g))


@jit
def _secant(closing: bool, side: int, target: float, size: float, pos_price: float, price: float,
            balance: float, mkt, g0: float, cap: float) -> tuple[float, float]:
    """(qty, its `_exposure`) of the secant search for the qty bringing `_exposure` to `target`, seeded
    with `g0` (see module doc)."""
    step = mkt[M_QTY_STEP]
    ga = g0
    va = _exposure(closing, side, size, pos_price, ga, price, balance, mkt)
    best_g, best_v = ga, va
    best_e = abs(va - target) / target
    gb = _clamp(round_(max(ga * 1.2, ga + step), step), cap)
    vb = _exposure(closing, side, size, pos_price, gb, price, balance, mkt)
    for i in range(_TRIES + 1):
        e = abs(vb - target) / target
        if e < best_e or (e == best_e and gb < best_g):
            best_g, best_v, best_e = gb, vb, e
        if i == _TRIES or (i > 0 and e < _TOLERANCE):
            break
        if gb == ga:
            gb = _clamp(round_(max(ga * 1.1, ga + step), step), cap)
            vb = _exposure(closing, side, size, pos_price, gb, price, balance, mkt)
            e = abs(vb - target) / target
            if e < best_e or (e == best_e and gb < best_g):
                best_g, best_v, best_e = gb, vb, e
        g = gb if vb == va else ga + (target - va) * (gb - ga) / (vb - va)
        ga, va = gb, vb
        gb = _clamp(round_(g, step), cap)
        vb = _exposure(closing, side, size, pos_price, gb, price, balance, mkt)
    return best_g, best_v


@jit
def crop_qty(side: int, target_we: float, size: float, pos_price: float, price: float, balance: float,
             mkt) -> float:
    """Qty (magnitude, multiple of qty_step) to buy (long) / sell (short) at `price` so that the wallet
    exposure after the fill is `target_we` (within ~1 %, never more than 1 % above where the qty step
    allows it); 0.0 when WE >= 0.99 * target already."""
    we = wallet_exposure(size, pos_price, balance, mkt)
    if we >= target_we * 0.99:
        return 0.0
    step = mkt[M_QTY_STEP]
    g0 = round_(abs(size) * target_we / max(0.01, we), step)
    q, v = _secant(False, side, target_we, size, pos_price, price, balance, mkt, g0, math.inf)
    # where the qty step is coarse the nearest guess can overshoot: step down to within the tolerance
    for _ in range(_STEP_DOWN_MAX):
        if q <= 0.0 or v <= target_we * (1.0 + _TOLERANCE):
            break
        q = round_(q - step, step)
        v = we_if_filled(size, pos_price, side * q, price, balance, mkt)
    return q


@jit
def close_qty_to_target(side: int, target_we: float, size: float, pos_price: float, price: float,
                        balance: float, mkt) -> float:
    """Qty (magnitude, at most |size|) to close at `price` so that `cost(|size| - q) / (balance + pnl)`
    comes down to `target_we` (within ~1 %); 0.0 when WE <= 1.001 * target already, |size| for target 0."""
    q = abs(size)
    if target_we <= 0.0:
        return q
    we = wallet_exposure(size, pos_price, balance, mkt)
    if we <= target_we * 1.001:
        return 0.0
    g0 = _clamp(round_(q * (1.0 - target_we / we), mkt[M_QTY_STEP]), q)
    return _secant(True, side, target_we, size, pos_price, price, balance, mkt, g0, q)[0]
