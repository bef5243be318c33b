"""One side of the grid modes (STRATEGY.md §3): its entries, then its closes."""
from passivx.calc.clock import clock_close, clock_entries
from passivx.calc.crop import side_base, side_position
from passivx.calc.jit import jit
from passivx.calc.layout import (
    C_MODE, MODE_CLOCK, MODE_NEAT, MODE_RECURSIVE, O_WE_AFTER, P_ENABLED, P_WEL, S_BALANCE, S_BEST_ASK, S_BEST_BID,
)
from passivx.calc.neat import neat_entries
from passivx.calc.recursive import recursive_entries
from passivx.calc.rounding import iround
from passivx.calc.takeprofit import tp_grid
from passivx.calc.unstuck import au_close

WE_TOLERANCE = 1.01 + 1e-9  # entries may end at most 1 % past the wallet exposure limit


@jit
def _within_limit(wel: float, out, first: int, n: int) -> int:
    """Drop the entry rows from the first one that would take wallet exposure past `WEL` by more than
    the solvers' 1 % tolerance (a minimum order size coarse next to the balance can force that)."""
    for i in range(first, n):
        if out[i, O_WE_AFTER] > wel * WE_TOLERANCE:
            return i
    return n


@jit
def side_orders(cfg, mkt, st, side: int, whole_grid: bool, out, n: int, memo) -> int:
    """Write one side's orders in mode cfg[C_MODE] and return the new row count.

    An enabled side gets its entries (recursive / neat / clock); a side with a position, enabled or
    not, gets its closes: the auto-unstuck close (recursive, neat) and the take-profit grid sized on
    what it leaves, or for clock the take-profit grid then the clock close."""
    base = side_base(side)
    mode = iround(cfg[C_MODE])
    if cfg[base + P_ENABLED] != 0.0:
        first = n
        if mode == MODE_RECURSIVE:
            n = recursive_entries(cfg, base, mkt, st, side, whole_grid, out, n)
        elif mode == MODE_NEAT:
            n = neat_entries(cfg, base, mkt, st, side, whole_grid, out, n, memo)
        elif mode == MODE_CLOCK:
            n = clock_entries(cfg, base, mkt, st, side, out, n)
        n = _within_limit(cfg[base + P_WEL], out, first, n)
    size, pos_price = side_position(st, side)
    if size == 0.0:
        return n
    balance, best_bid, best_ask = st[S_BALANCE], st[S_BEST_BID], st[S_BEST_ASK]
    if mode == MODE_CLOCK:
        n = tp_grid(cfg, base, mkt, side, size, pos_price, balance, best_bid, best_ask, out, n, memo)
        return clock_close(cfg, base, mkt, st, side, out, n)
    n, size = au_close(cfg, base, mkt, st, side, out, n)
    return tp_grid(cfg, base, mkt, side, size, pos_price, balance, best_bid, best_ask, out, n, memo)
