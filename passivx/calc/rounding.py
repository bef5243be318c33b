"""Step rounding with a float-noise guard (STRATEGY.md §1).

`x/s` is first snapped to 10 decimals (from a million steps up, to a whole number a few ulps away:
`steps`) so 0.30000000000000004 does not move a value a step; results are snapped too. Ties go to even
(like NumPy and Python `round`). Only IEEE operations that NumPy and numba perform identically are used,
so JIT on and off agree to the bit.

The roundings skip the guard where it cannot change their result (`_rounding_steps`, the same results to the
bit): under a million steps it moves `x/s` by at most 2.1e-10, so where `x/s` lies farther than `_CLEAR` from
every integer and half-integer, `x/s` itself has the same floor, ceiling and nearest integer; within `_ON` of
an integer (a value already on the grid) the guard gives that integer exactly.
"""
import math

import numpy as np

from passivx.calc.jit import jit

_CLEAR = 1e-8  # farther than this from an integer or half-integer, the guard (<= 2.1e-10) cannot cross one
_ON = 1e-11  # this near an integer n, the guard gives n exactly (it moves n*1e10 by under 0.5)


@jit
def snap(v: float) -> float:
    """Round `v` to 10 decimals (the float-noise guard). From 1e6 up a float has no 10th decimal
    left to guard, so `v` is returned as it is (scaling it would only add rounding error)."""
    if abs(v) >= 1e6:
        return v
    return np.rint(v * 1e10) / 1e10


@jit
def _guard(q: float) -> float:
    """The float-noise guard of `steps` on `q = x/step`."""
    if abs(q) < 1e6:
        return np.rint(q * 1e10) / 1e10
    r = np.rint(q)
    return r if abs(q - r) <= abs(q) * 1e-14 else q


@jit
def steps(x: float, step: float) -> float:
    """`x/step` with the float-noise guard: snapped to 10 decimals, or from 1e6 up (where a float has no
    10th decimal) to the nearest whole number when within 1e-14 of it relatively (a few ulps: the error of
    one division), so 2062.352/0.001 counts 2062352 steps, not 2062351.9999999998."""
    return _guard(x / step)


@jit
def _rounding_steps(x: float, step: float) -> float:
    """A stand-in for `steps(x, step)` with the same floor, ceiling and nearest integer, without the guard
    where it cannot matter (module doc)."""
    q = x / step
    n = np.rint(q)
    d = abs(q - n)  # exact: q and n are within a factor 2 of each other (or n is 0)
    if abs(q) < 1e6:
        if d <= _ON:
            return n
        if _CLEAR < d < 0.5 - _CLEAR:
            return q
    return _guard(q)


@jit
def round_up(x: float, step: float) -> float:
    """Smallest multiple of `step` >= x."""
    return snap(math.ceil(_rounding_steps(x, step)) * step)


@jit
def round_dn(x: float, step: float) -> float:
    """Largest multiple of `step` <= x."""
    return snap(math.floor(_rounding_steps(x, step)) * step)


@jit
def round_(x: float, step: float) -> float:
    """Nearest multiple of `step`, ties to even."""
    return snap(np.rint(_rounding_steps(x, step)) * step)


@jit
def iround(x: float) -> int:
    """`int(round(x))` with ties to even."""
    return int(np.rint(x))
