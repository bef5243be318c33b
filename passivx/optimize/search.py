"""Jackrabbit (seed 000), made parallel without changing its answer.

Candidate 0 is the starting config. Candidate k >= 1 is a mutation (`space.Space.mutate`, coefficient
`m_k`) of its parent, the best candidate that met the constraints among those numbered at most
`k - batch`; while none has, it is drawn uniformly over the whole ranges (a scan). So at
most `batch` candidates are in flight at once, and candidate k depends only on the seed, k and the
results of candidates before it: whatever the number of workers, the order they finish in, or an
interruption and resume, the same candidates are drawn and the same best comes out (`batch` = 1 is the
sequential algorithm).

Each candidate draws from its own generator, numpy's `default_rng([seed, k])` (`rng.Pcg64`: the same
numbers computed in Python, cheaper to start): up to 100 draws in its window, then 100 over the whole
ranges, until one is new (not drawn before), a valid config, and inside the market's maximum leverage.
When none is, every reachable candidate has been tried and the search ends.

A candidate meets the constraints when it was not liquidated and every `constraints` key of the
settings holds (`CONSTRAINTS`: stats key and comparison). Better means a higher objective (the settings'
`objective` stats key, default `adg`; `-key` to minimise), ties going to the lower k.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any
from dataclasses import dataclass

from passivx.config.backtest import CONSTRAINTS
from passivx.errors import ConfigError
from passivx.optimize.rng import Pcg64
from passivx.optimize.space import Space, mutation_coefficient

DRAWS = 100


@dataclass(frozen=True)
class Judge:
    """The objective and constraints of the settings."""

    objective: str
    constraints: dict[str, float]

    @property
    def key(self) -> str:
        return self.objective.lstrip("-")

    def value(self, stats: dict) -> float:
        """The objective of `stats`, higher is better (NaN when it is not a number)."""
        v = stats.get(self.key)
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return math.nan
        return -float(v) if self.objective.startswith("-") else float(v)

    def broken(self, stats: dict) -> list[dict]:
        """The constraints `stats` breaks: name, value, limit and how far off (relative to a non-zero limit)."""
        out = []
        if stats["liquidated"]:
            out.append({"constraint": "liquidated", "value": True, "limit": False, "off": 1.0})
        for name, limit in self.constraints.items():
            key, op = CONSTRAINTS[name]
            v = float(stats[key])
            miss = limit - v if op == ">=" else v - limit
            if miss > 0:
                off = miss / abs(limit) if limit else miss
                out.append({"constraint": name, "value": v, "limit": limit, "off": off})
        if math.isnan(self.value(stats)):
            out.append({"constraint": "objective", "value": None, "limit": None, "off": 1.0})
        return out


def check_objective(objective: str, stats_keys: dict, source: str) -> None:
    """ConfigError unless `objective` names a numeric statistic (optionally with a leading '-'): a key of
    `stats_keys` (a short replay's statistics) holding a number, or None there (not defined on so short a
    replay, such as the Sharpe ratio)."""
    key = objective.lstrip("-")
    numeric = [k for k, v in stats_keys.items()
               if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))]
    if key not in numeric:
        raise ConfigError(f"{source}: key 'objective': {objective!r} is not a numeric statistic; one of "
                          f"{', '.join(numeric)} (prefix '-' to minimise)")


class Search:
    """The candidates and results of one run. `ready(k)` says whether candidate k can be drawn,
    `draw(k)` draws it (None: nothing new is reachable), `record(k, stats)` stores a result."""

    def __init__(self, space: Space, start: dict[str, float], n: int, seed: int, batch: int, judge: Judge,
                 vector: Callable[[dict[str, float]], Any]) -> None:
        """`vector(params)`: the calculator's cfg vector of the base config with `params`, None when that
        is not a valid config (or exceeds the market's leverage)."""
        self.space, self.n, self.seed, self.batch, self.judge, self.vector = space, n, seed, batch, judge, vector
        self.candidates: list[dict] = []  # k -> {"params", "parent", "m", "cfg"}
        self.results: dict[int, dict] = {}  # k -> {"stats", "objective", "broken"}
        self.seen: set[tuple] = set()
        self.exhausted = False
        self._start = start  # candidate 0
        self._best: int | None = None
        self._best_upto = (-1, None)  # (j, best k among results 0..j), advanced as results arrive

    def ready(self, k: int) -> bool:
        return all(j in self.results for j in range(max(0, self._best_upto[0] + 1), k - self.batch + 1))

    def best(self) -> int | None:
        """The best candidate recorded so far that met the constraints (None: none has)."""
        return self._best

    def _better(self, j: int, best: int | None) -> bool:
        r = self.results[j]
        if r["broken"]:
            return False
        if best is None:
            return True
        b = self.results[best]["objective"]
        return r["objective"] > b or (r["objective"] == b and j < best)

    def _parent(self, k: int) -> int | None:
        upto = k - self.batch
        j, best = self._best_upto
        while j < upto:  # incremental: the results up to `upto` are all known (ready)
            j += 1
            if self._better(j, best):
                best = j
        self._best_upto = (j, best)
        return best

    def draw(self, k: int) -> dict | None:
        """Candidate k (in order: k == len(candidates)); None when no new valid candidate is reachable."""
        assert k == len(self.candidates)
        if self.exhausted:
            return None
        if k == 0:
            cand = {"params": dict(self._start), "parent": None, "m": None, "cfg": self.vector(self._start)}
        else:
            parent = self._parent(k)
            m = mutation_coefficient(k, self.n) if parent is not None else 1.0
            rng = Pcg64([self.seed, k])
            cand = None
            for attempt in range(2 * DRAWS):
                if parent is None or attempt >= DRAWS:
                    params = self.space.uniform(rng)
                else:
                    params = self.space.mutate(self.candidates[parent]["params"], m, rng)
                cfg = self.vector(params) if self.space.key(params) not in self.seen else None
                if cfg is not None:
                    cand = {"params": params, "parent": parent, "m": m, "cfg": cfg}
                    break
            if cand is None:
                self.exhausted = True
                return None
        self.seen.add(self.space.key(cand["params"]))
        self.candidates.append(cand)
        return cand

    def record(self, k: int, stats: dict) -> dict:
        """Store candidate k's statistics; returns its result (objective, broken constraints)."""
        r = {"stats": stats, "objective": self.judge.value(stats), "broken": self.judge.broken(stats)}
        self.results[k] = r
        if self._better(k, self._best):
            self._best = k
        return r
