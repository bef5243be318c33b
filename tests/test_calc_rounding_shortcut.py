"""The roundings skip the float-noise guard where it cannot matter (`rounding._rounding_steps`): random steps and
values, many within a hair of an integer or half-integer step count (around the shortcut's margins and the
guard's reach), values already on the grid, past a million steps; the results equal the guarded roundings' to
the bit, compiled and in plain Python."""
import math

import numpy as np
import pytest

from passivx.calc.rounding import _CLEAR, _ON, round_, round_dn, round_up, snap, steps

_STEPS = (0.1, 0.01, 0.001, 0.5, 0.25, 1.0, 5.0, 1e-5, 1e-8, 0.05, 0.3, 7e-4)
_NEAR = (0.0, 0.01, 0.5, 0.99, 1.0, 1.01, 2.0, 100.0)  # offsets in units of _CLEAR and of _ON


def _reference(kind: str, x: float, step: float) -> float:
    """The guarded rounding: `x/step` snapped by `steps`, then floor / ceil / nearest."""
    pick = {"dn": math.floor, "up": math.ceil, "nearest": np.rint}[kind]
    return snap(pick(steps(x, step)) * step)


def _cases(seed: int, count: int) -> list[tuple[float, float]]:
    """(x, step) pairs of the kinds listed in the module doc."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        step = float(rng.choice(_STEPS)) if rng.random() < 0.8 else float(rng.uniform(1e-6, 10.0))
        whole = float(np.floor(10.0 ** rng.uniform(-1.0, 7.0)))
        sign = float(rng.choice((-1.0, 1.0)))
        kind = rng.integers(6)
        if kind == 0:
            q = whole + rng.random()
        elif kind == 1:
            q = whole + sign * _CLEAR * float(rng.choice(_NEAR))
        elif kind == 2:
            q = whole + 0.5 + sign * _CLEAR * float(rng.choice(_NEAR))
        elif kind == 3:
            q = whole + sign * _ON * float(rng.choice(_NEAR))
        elif kind == 4:  # a multiple as a decimal price or qty holds it (float noise around whole steps)
            q = float(np.round(whole * step, 8)) / step
        else:
            q = whole + float(rng.integers(-3, 4)) * 1e-10
        cases.append((q * step * (-1.0 if rng.random() < 0.2 else 1.0), step))
    return cases


@pytest.mark.parametrize("compiled", [True, False])
def test_shortcut_equals_the_guarded_rounding(compiled):
    funcs = {"dn": round_dn, "up": round_up, "nearest": round_}
    if not compiled:
        funcs = {k: f.py_func for k, f in funcs.items()}
    cases = _cases(11 if compiled else 12, 30_000 if compiled else 8_000)
    for kind, f in funcs.items():
        got = np.array([f(x, s) for x, s in cases])
        want = np.array([_reference(kind, x, s) for x, s in cases])
        bad = np.flatnonzero(got.view(np.int64) != want.view(np.int64))
        assert bad.size == 0, (kind, [(cases[i], got[i], want[i]) for i in bad[:5]])


def test_cases_reach_every_path():
    """The cases take the shortcut both ways and the guard: on the grid, clear of every boundary, in between
    and past a million steps."""
    q = np.array([x / s for x, s in _cases(11, 4000)])
    d = np.abs(q - np.rint(q))
    small = np.abs(q) < 1e6
    on, clear = small & (d <= _ON), small & (_CLEAR < d) & (d < 0.5 - _CLEAR)
    assert on.sum() > 400 and clear.sum() > 1000 and (small & ~on & ~clear).sum() > 400 and (~small).sum() > 100
