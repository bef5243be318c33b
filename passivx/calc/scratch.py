"""Scratch space for a call of the calculator, in the caller's memo (`entry.new_memo`) where it fits."""
import numpy as np

from passivx.calc.jit import jit
from passivx.calc.layout import MEMO_SCRATCH, MEMO_SCRATCH_SIZE, MEMO_SIZE


@jit
def scratch(memo, size: int) -> np.ndarray:
    """`size` float64 of scratch space, contents undefined (like `np.empty`): the memo's scratch area when it
    has one that large (nothing allocated; where the caller's memo has no owner, as in the backtester, no
    reference counting either), else a new array. One user at a time: the area is shared."""
    if len(memo) >= MEMO_SIZE and size <= MEMO_SCRATCH_SIZE:
        return memo[MEMO_SCRATCH:MEMO_SCRATCH + size]
    return np.empty(size)
