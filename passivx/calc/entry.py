"""THE entry point of the calculator, shared by the backtester and the live engine."""
import numpy as np

from passivx.calc.classic import classic_orders
from passivx.calc.jit import jit
from passivx.calc.layout import C_MODE, MEMO_SIZE, MODE_CLASSIC
from passivx.calc.modes import side_orders
from passivx.calc.rounding import iround


@jit
def ideal_orders(cfg, mkt, st, whole_grid: bool, out, memo) -> int:
    """Fill `out` with the ideal orders for state `st` and return their count.

    Classic mode: `classic_orders`. Grid modes: long entries, long closes, short entries, short closes.
    `whole_grid` lists every entry node of a grid instead of only the next one. `memo` (`new_memo()`, or
    an empty array) keeps work for the next call with the same config; the orders do not depend on it."""
    if iround(cfg[C_MODE]) == MODE_CLASSIC:
        return classic_orders(cfg, mkt, st, whole_grid, out)
    n = side_orders(cfg, mkt, st, 1, whole_grid, out, 0, memo)
    return side_orders(cfg, mkt, st, -1, whole_grid, out, n, memo)


def new_memo() -> np.ndarray:
    """A memo for `ideal_orders`: one per caller that computes orders again and again (a replay, a live
    engine); reuse it only with the same config and market for it to help."""
    return np.zeros(MEMO_SIZE)
