"""Jackrabbit's search loop with a stand-in backend (candidates scored by a formula, finishing in a
chosen order): constraints, parents, duplicates, and the same answer whatever the completion order."""
from __future__ import annotations

import json
import random
from concurrent.futures import Future

import pytest

from passivx.optimize import journal
from passivx.optimize.run import _search_loop
from passivx.optimize.search import Judge, Search
from passivx.optimize.space import build_space

RANGES = {"grid_spacing": [0.001, 0.02], "grid_coefficient": [0, 300], "min_markup": [0.0001, 0.01]}


def score(p: dict) -> dict:
    """Made-up statistics: adg rises with grid_spacing, and so does the drawdown."""
    markup = p.get("min_markup", 0.001)
    adg = p["grid_spacing"] * 0.3 - abs(p["grid_coefficient"] - 120) * 1e-5 - markup * 0.05
    return {"adg": adg, "gain": adg * 7, "max_drawdown": p["grid_spacing"] * 30, "liquidated": markup > 0.009,
            "closest_liquidation": 0.5, "hours_stuck_max": 1.0}


SECONDS = {"replay": 0.01, "replay_cpu": 0.01, "worker": 0.02, "worker_cpu": 0.02}


class OrderedBackend:
    """Futures that finish one at a time, in an order drawn from `seed` (not in submission order)."""

    def __init__(self, seed: int) -> None:
        self.rng, self.submitted = random.Random(seed), 0

    def submit(self, k: int, params: dict) -> Future:
        f = Future()
        stats = score(params)
        f.payload = (k, stats, journal.encode(stats), SECONDS)  # as `evaluate.evaluate` answers
        self.submitted += 1
        return f

    def wait(self, futures) -> set:
        f = self.rng.choice(sorted(futures, key=futures.get))
        f.set_result(f.payload)
        return {f}


class Bar:
    def set_postfix_str(self, *a, **k):
        pass

    def update(self, n):
        pass


def run(tmp_path, order_seed: int, batch: int = 4, n: int = 80, ranges=RANGES, constraints=None,
        done_before=None, name="run"):
    space = build_space(ranges, "classic", "s.hjson", 125)
    judge = Judge("adg", {"max_drawdown": 0.3} if constraints is None else constraints)
    search = Search(space, space.middle(), n, 7, batch, judge, lambda p: p)
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    backend = OrderedBackend(order_seed)
    _search_loop(search, {"iterations": n}, folder, backend, done_before or {}, Bar())
    return search, folder, backend


def test_the_answer_does_not_depend_on_the_completion_order(tmp_path):
    runs = [run(tmp_path, seed, name=f"r{seed}")[0] for seed in range(4)]
    first = runs[0]
    assert len(first.results) == 80 and first.best() is not None
    for other in runs[1:]:
        assert other.candidates == first.candidates
        assert other.best() == first.best()
    # batch 1 is the sequential algorithm: a different (but again order-free) sequence
    seq = run(tmp_path, 0, batch=1, name="seq")[0]
    assert seq.candidates != first.candidates and seq.candidates[0] == first.candidates[0]


def test_broken_candidates_never_become_parents_and_the_best_meets_the_constraints(tmp_path):
    search, folder, _ = run(tmp_path, 1)
    broken = {k for k, r in search.results.items() if r["broken"]}
    assert broken and len(broken) < len(search.results)
    parents = {c["parent"] for c in search.candidates if c["parent"] is not None}
    assert parents and not parents & broken
    best = search.best()
    ok = [k for k, r in search.results.items() if not r["broken"]]
    assert best == max(ok, key=lambda k: (search.results[k]["objective"], -k))
    assert score(search.candidates[best]["params"])["max_drawdown"] <= 0.3
    # each parent was the best qualifying candidate among those at least `batch` earlier
    for k, c in enumerate(search.candidates[1:], start=1):
        earlier = [j for j in ok if j <= k - 4]
        want = max(earlier, key=lambda j: (search.results[j]["objective"], -j)) if earlier else None
        assert c["parent"] == want
        assert c["m"] == (pytest.approx(1 / (1 + 19 * k / 80)) if want is not None else 1.0)
    # the journal holds every candidate, once, with its parameters, stats and verdict
    records = journal.read_results(folder)
    assert sorted(r["k"] for r in records) == list(range(80))
    for r in records:
        assert r["params"] == search.candidates[r["k"]]["params"]
        assert r["met_constraints"] == (r["k"] not in broken)
        assert r["stats"] == score(r["params"]) and r["seconds"] == SECONDS
    # the stats encoded by the worker make the line the whole record's encoding
    lines = (folder / journal.RESULTS).read_text().splitlines()
    assert lines == [journal.encode(r) for r in records]


def test_liquidated_breaks_and_an_objective_can_be_minimised():
    judge = Judge("-max_drawdown", {"min_adg": 0.0})
    stats = score({"grid_spacing": 0.01, "grid_coefficient": 120, "min_markup": 0.0095})
    assert [b["constraint"] for b in judge.broken(stats)] == ["liquidated"]
    assert judge.value(stats) == -stats["max_drawdown"]
    stats["adg"] = -0.01
    assert [b["constraint"] for b in judge.broken(stats)] == ["liquidated", "min_adg"]


def test_no_candidate_is_evaluated_twice_and_the_search_ends_when_nothing_new_is_reachable(tmp_path):
    small = {"grid_spacing": [0.001, 0.003, 0.001], "grid_coefficient": [10, 30, 10]}  # 9 candidates in all
    search, _, backend = run(tmp_path, 0, n=50, ranges=small, constraints={})
    keys = [search.space.key(c["params"]) for c in search.candidates]
    assert len(keys) == len(set(keys)) == 9 == backend.submitted
    assert search.exhausted and len(search.results) == 9


def test_resuming_from_a_partial_journal_evaluates_only_the_rest(tmp_path):
    full, _, _ = run(tmp_path, 0, name="full")
    _, folder, _ = run(tmp_path, 1, name="part", n=80)
    records = journal.read_results(folder)
    keep = records[:37]
    torn = json.dumps(records[37])[:25]  # a process killed while writing a line
    (folder / journal.RESULTS).write_text("".join(json.dumps(r) + "\n" for r in keep) + torn)
    again = journal.read_results(folder)
    assert again == keep and (folder / journal.RESULTS).read_text().endswith("\n")
    resumed, _, backend = run(tmp_path, 2, name="part", done_before={r["k"]: r for r in again})
    assert backend.submitted == 80 - 37
    assert resumed.candidates == full.candidates and resumed.best() == full.best()
    assert sorted(r["k"] for r in journal.read_results(folder)) == list(range(80))
