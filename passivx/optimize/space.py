"""The search space: the settings' `ranges` for one mode, the mutation schedule, and mutation itself.

Schedule (seed 000: the mutation coefficient is inversely proportional to k): candidate k of n is drawn
with `m_k = 1 / (1 + 19 k / n)`, 1 at the start, 0.5 at k = n/19, 0.1 at k ~ n/2 and 0.05 at the end.
Each ranged parameter is drawn uniformly from the window of width `(max - min) * m_k` centred on the
parent's value (the centre first clamped into the range), cut to the range, then rounded to the range's
step (`min + i * step`, never above max), to a whole number for integer keys, and to 10 significant
digits (so configs stay readable and equal draws compare equal).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from passivx.config.live import MODES, param_ranges
from passivx.errors import ConfigError

FINAL_COEFFICIENT = 0.05


def mutation_coefficient(k: int, n: int) -> float:
    """m_k of the module doc: 1 at k = 0, falling inversely with k to 0.05 at k = n."""
    return 1.0 / (1.0 + (1.0 / FINAL_COEFFICIENT - 1.0) * k / max(1, n))


class Uniform(Protocol):
    """A source of uniform draws: numpy's `Generator`, or `rng.Pcg64`."""

    def random(self) -> float: ...


@dataclass(frozen=True)
class Param:
    name: str
    lo: float
    hi: float
    step: float | None
    integer: bool

    def snap(self, value: float) -> float:
        """`value` cut to [lo, hi] and rounded as the module doc says."""
        lo, hi = (math.ceil(self.lo), math.floor(self.hi)) if self.integer else (self.lo, self.hi)
        v = min(hi, max(lo, value))
        if self.step:
            i = min(round((v - self.lo) / self.step), math.floor((self.hi - self.lo) / self.step + 1e-9))
            v = self.lo + i * self.step
        if self.integer:
            v = float(min(hi, max(lo, round(v))))
        return min(self.hi, max(self.lo, float(f"{v:.10g}")))


@dataclass(frozen=True)
class Space:
    """The ranged parameters of one mode, in the settings' order."""

    mode: str
    params: tuple[Param, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def middle(self) -> dict[str, float]:
        return {p.name: p.snap((p.lo + p.hi) / 2) for p in self.params}

    def mutate(self, parent: dict[str, float], m: float, rng: Uniform) -> dict[str, float]:
        """A child of `parent` drawn with mutation coefficient `m` (one uniform draw per parameter)."""
        child = {}
        for p in self.params:
            half = (p.hi - p.lo) * m / 2
            centre = min(p.hi, max(p.lo, parent[p.name]))
            a, b = max(p.lo, centre - half), min(p.hi, centre + half)
            child[p.name] = p.snap(a + (b - a) * rng.random())
        return child

    def uniform(self, rng: Uniform) -> dict[str, float]:
        """A draw over the whole ranges."""
        return self.mutate({p.name: (p.lo + p.hi) / 2 for p in self.params}, 1.0, rng)

    def key(self, params: dict[str, float]) -> tuple[float, ...]:
        """What makes two candidates the same."""
        return tuple(params[n] for n in self.names)


def modes_of(ranges: dict) -> list[str]:
    """The modes whose parameters include every key of `ranges`."""
    return [m for m in MODES if set(ranges) <= set(param_ranges(m))]


def build_space(ranges: dict[str, list[float]], mode: str, source: str, max_leverage: float) -> Space:
    """The space of `ranges` for `mode`; ConfigError (one line) when a key is not a parameter of the mode,
    nothing is ranged, or a classic `leverage` range lies above the market's `max_leverage` (a range
    reaching above it is cut there)."""
    if not ranges:
        raise ConfigError(f"{source}: key 'ranges' is empty: give [min, max] (or [min, max, step]) for the "
                          f"parameters to optimize, e.g. long.wallet_exposure_limit: [0.5, 2]")
    known = param_ranges(mode)
    params = []
    for name, r in ranges.items():
        f = known.get(name)
        if f is None:
            owners = modes_of({name: r})
            raise ConfigError(f"{source}: key 'ranges': {name!r} is not a parameter of mode {mode} "
                              f"(it belongs to {', '.join(owners)}); known: {', '.join(known)}")
        lo, hi = float(r[0]), float(r[1])
        if name == "leverage":
            if lo > max_leverage:
                raise ConfigError(f"{source}: key 'ranges': leverage {r} lies above the market's maximum "
                                  f"leverage {max_leverage:g}")
            hi = min(hi, max_leverage)
        step = float(r[2]) if len(r) == 3 else None
        if f.integer and math.ceil(lo) > math.floor(hi):
            raise ConfigError(f"{source}: key 'ranges': {name} {r} holds no whole number")
        params.append(Param(name, lo, hi, step, f.integer))
    return Space(mode, tuple(params))
