"""A candidate's statistics are `passivx backtest`'s stats.json (same keys, same values apart from timing)
on the shipped real data, objectives reach every statistic, a replay never reads the fills buffer it
leaves unset, the local pool evaluates in its own process, and the daily and drawdown-time statistics on
hand-made curves."""
from __future__ import annotations

import gc
import json

import numpy as np
import psutil
import pytest

from passivx.backtest import layout as B
from passivx.calc import layout as L
from passivx.backtest.context import new_context
from passivx.backtest.runner import replay_days, run_backtest
from passivx.backtest.stats import DAY_MS, daily_table, risk_stats
from passivx.config.backtest import parse_backtest_settings
from passivx.errors import ConfigError
from passivx.markets import MarketSpec
from passivx.optimize.backends import LocalBackend
from passivx.optimize.evaluate import TIMING_KEYS, Evaluator, Job
from passivx.optimize.search import check_objective
from passivx.optimize.start import starting_point

HOUR = 3_600_000


def _no_timing(stats: dict) -> dict:
    return {k: v for k, v in stats.items() if k not in TIMING_KEYS}


@pytest.mark.parametrize("sample, mode", [("candles", "recursive_grid"), ("coinm", "classic")])
def test_a_candidate_has_the_stats_json_of_its_backtest(real_samples, sample, mode):
    s = real_samples[sample]
    ranges = {"leverage": [2, 10]} if mode == "classic" else {"long.wallet_exposure_limit": [0.5, 2]}
    settings = parse_backtest_settings(s.settings(latency_simulation_ms=500, funding=0.0001, ranges=ranges), "s.hjson")
    market = MarketSpec.from_dict(s.market, "market")
    _, base, start = starting_point(settings, None, mode, market.inverse, market.max_leverage)
    ev = Evaluator(Job.make(settings, base))
    warm = ev.warm_up()
    config = ev.config(start)
    first, again = ev(config.to_array()), ev(config.to_array())
    result = run_backtest(settings, config, progress=False)
    report = result.stats  # what stats.json holds
    assert set(first) == set(report) | {"replay_cpu_seconds"}
    assert _no_timing(first) == _no_timing(report) == _no_timing(again)
    assert set(warm) < set(report)  # the objective is checked against the replay's own statistics
    assert first["n_fills"] > 0 and first["sharpe_ratio"] is not None and first["requested_days"] >= 1
    # the replay's risk statistics are those of the daily table (each day's closing equity)
    risk = risk_stats(result.daily, result.samples, settings.starting_balance, market.inverse)
    assert risk == {k: first[k] for k in risk}


def test_the_objective_may_be_any_numeric_statistic_of_the_replay(real_samples):
    settings = parse_backtest_settings(real_samples["candles"].settings(end_date="2025-05-05",
                                                                        ranges={"leverage": [2, 10]}), "s.hjson")
    _, base, _ = starting_point(settings, None, "classic", False, 125.0)
    warm = _no_timing(Evaluator(Job.make(settings, base)).warm_up())
    for objective in ("adg", "-max_drawdown", "sharpe_ratio", "pnl_long", "-drawdown_hours_max", "profit_factor"):
        check_objective(objective, warm, "s.hjson")
    for objective in ("liquidated", "fills_by_kind", "symbol"):
        with pytest.raises(ConfigError, match=f"{objective!r} is not a numeric statistic"):
            check_objective(objective, warm, "s.hjson")


@pytest.fixture(scope="module")
def candles(real_samples) -> tuple[Evaluator, np.ndarray]:
    """An evaluator of the shipped 7 days of candles and a recursive grid's config vector (fills on several
    days)."""
    settings = parse_backtest_settings(real_samples["candles"].settings(ranges={"long.wallet_exposure_limit":
                                                                                [0.5, 2]}), "s.hjson")
    _, base, start = starting_point(settings, None, "recursive_grid", False, 125.0)
    ev = Evaluator(Job.make(settings, base))
    return ev, ev.config(start).to_array()


def test_a_replay_never_reads_the_buffers_it_leaves_unset_or_reuses(candles):
    """`fills` starts unset and the evaluator hands one candidate's buffers to the next: garbage, or another
    config's leftovers, in any of them changes nothing."""
    ev, cfg = candles
    s = ev.settings
    other = cfg.copy()
    other[L.C_LONG + L.P_WEL] *= 1.7  # another candidate: other fills, other rows left behind

    def run(vector, reuse=None, garbage=None, chunks=None):
        ctx = new_context(vector, ev.mkt, s.starting_balance, s.latency_simulation_ms, ev.span, ev.funding,
                          reuse=reuse)
        if garbage is not None:
            for buf in (ctx.ring, ctx.out, ctx.bk, ctx.rf, ctx.fills, ctx.smp):
                buf[:] = garbage
        replay_days(ctx, ev.days, s.kind, chunks=chunks)
        return ctx, (ctx.fill_rows(), ctx.w.copy(), ctx.samples())

    _, expected = run(cfg)
    left, _ = run(other)
    runs = [run(cfg, garbage=g)[1] for g in (np.nan, -1e300, 7.0)] + [run(cfg, reuse=left)[1]]
    runs.append(run(cfg, reuse=left, chunks=ev.chunks)[1])  # the evaluator's column views, cut once
    assert run(cfg, reuse=left)[0].bk is left.bk  # the buffers were reused
    assert len(expected[0]) > 10
    for fills, w, samples in runs:
        assert np.array_equal(fills, expected[0]) and np.array_equal(w, expected[1])
        assert np.array_equal(samples, expected[2])


def test_the_local_pool_evaluates_in_its_own_process_and_hands_back_errors(candles):
    ev, cfg = candles
    before = set(psutil.Process().children())
    pool = LocalBackend(Job.make(ev.settings, ev.base), 1)
    try:
        assert set(psutil.Process().children()) == before  # one worker: this process, nothing spawned
        assert gc.get_freeze_count() > 0  # what was loaded is left out of garbage collections
        good, bad = pool.submit(0, cfg), pool.submit(1, cfg[:-1])  # a config vector one value short
        done: set = set()
        while len(done) < 2:
            done |= pool.wait({t: k for k, t in enumerate((good, bad)) if t not in done})
        k, stats, text, seconds = good.result()
        assert k == 0 and stats == _no_timing(ev(cfg)) == json.loads(text) and seconds["replay_cpu"] > 0
        with pytest.raises(ValueError):
            bad.result()
    finally:
        pool.close()
    assert gc.get_freeze_count() == 0


def _samples(rows: list[tuple[float, float]]) -> np.ndarray:
    out = np.zeros((len(rows), B.SM_W))
    for i, (t, eq) in enumerate(rows):
        out[i, B.SM_T], out[i, B.SM_EQUITY], out[i, B.SM_PRICE] = t, eq, 100.0
    return out


def test_the_longest_time_under_water_counts_from_the_sample_before_to_the_one_back_at_the_peak():
    # under the peak (100, then 102): samples 0-1 (from the first sample: 2 h), 3-5 (from 2 h to 6 h: 4 h)
    # and 7 (from 6 h to the last sample at 7 h: 1 h)
    curve = _samples([(k * HOUR, eq) for k, eq in enumerate([90, 95, 100, 99, 98, 97, 102, 101])])
    assert risk_stats([], curve, 100.0, inverse=False)["drawdown_hours_max"] == 4.0
    assert risk_stats([], curve[2:3], 100.0, inverse=False)["drawdown_hours_max"] == 0.0
    assert risk_stats([], curve[:2], 100.0, inverse=False)["drawdown_hours_max"] == 1.0


def test_the_daily_table_splits_fills_and_samples_by_utc_day():
    day = 19_000 * DAY_MS
    curve = _samples([(day, 100.0), (day + 20 * HOUR, 90.0), (day + DAY_MS, 95.0), (day + 3 * DAY_MS, 110.0),
                      (day + 3 * DAY_MS + HOUR, 99.0)])
    fills = np.zeros((4, B.F_W))
    fills[:, B.F_T] = [day + HOUR, day + DAY_MS - 1, day + 3 * DAY_MS, day + 3 * DAY_MS + 2]
    fills[:, B.F_PNL] = [1.0, 2.0, 4.0, 8.0]
    fills[:, B.F_FEE] = [0.1, 0.2, 0.4, 0.8]
    rows = daily_table(fills, curve, 100.0)
    assert [r["date"] for r in rows] == ["2022-01-08", "2022-01-09", "2022-01-11"]  # no sample on 01-10
    assert [(r["pnl"], r["fees"], r["fills"]) for r in rows] == [(3.0, 0.1 + 0.2, 2), (0.0, 0.0, 0),
                                                                    (12.0, 0.4 + 0.8, 2)]
    assert [r["equity"] for r in rows] == [90.0, 95.0, 99.0]
    assert [r["drawdown"] for r in rows] == [1.0 - 90.0 / 100.0, 1.0 - 95.0 / 100.0, 1.0 - 99.0 / 110.0]


def _days_reference(t):
    """The day split `stats._days` replaced: a mask of the day changes over every sample."""
    day = t.astype(np.int64) // DAY_MS
    first = np.concatenate(([0], (day[1:] != day[:-1]).nonzero()[0] + 1))
    return day[first], first, np.concatenate((first[1:], [len(t)])) - 1


def test_the_day_split_by_binary_search_equals_the_mask_over_every_sample():
    """Random sorted sample times: one sample, repeated times, samples on midnights and a ms before,
    days without a sample, long spans."""
    from passivx.backtest.stats import _days

    rng = np.random.default_rng(5)
    for _ in range(500):
        n = int(rng.integers(1, 400))
        start = int(rng.integers(0, 20_000)) * DAY_MS + int(rng.integers(-2, 3)) * int(rng.integers(0, DAY_MS))
        steps = rng.choice([0, 1, 60_000, HOUR, DAY_MS - 1, DAY_MS, 3 * DAY_MS], size=n - 1,
                           p=[0.05, 0.05, 0.3, 0.3, 0.1, 0.1, 0.1])
        t = (max(0, start) + np.concatenate(([0], np.cumsum(steps)))).astype(np.float64)
        ours, ref = _days(t), _days_reference(t)
        for a, b in zip(ours, ref):
            assert a.tolist() == b.tolist()


def test_the_sharpe_and_sortino_ratios_equal_numpy_mean_and_std():
    """`risk_stats` computes mean and std(ddof=1) step by step; on random daily closes (rises, falls,
    flat days, 1 to 60 days) every ratio is the one numpy's `mean` and `std` give, bit for bit."""
    rng = np.random.default_rng(8)
    no_samples = np.zeros((0, B.SM_W))
    for _ in range(1000):
        n = int(rng.integers(1, 60))
        start = float(rng.choice([1.0, 1e4, 1e7]))
        moves = rng.normal(0, rng.choice([1e-6, 1e-3, 0.05]), n) * (rng.random(n) > 0.2)
        closes = (start * np.cumprod(1.0 + moves)).tolist()
        got = risk_stats([{"equity": e} for e in closes], no_samples, start, inverse=False)
        equity = np.array([start] + closes)
        returns = equity[1:] / equity[:-1] - 1.0
        sharpe = sortino = None
        if n >= 2:
            std, mean = float(returns.std(ddof=1)), float(returns.mean())
            down = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
            sharpe = float(mean / std * np.sqrt(365.0)) if std > 0 else None
            sortino = float(mean / down * np.sqrt(365.0)) if down > 0 else None
        assert (got["sharpe_ratio"], got["sortino_ratio"]) == (sharpe, sortino)


def test_the_fill_statistics_equal_numpy_sums():
    """`side_stats` reduces with the ufuncs and `n_taker_fills` counts the taker flags; on random fills (no
    fills, one, thousands; both sides, zero and tiny amounts) they equal `ndarray.sum` over the same
    selections, bit for bit."""
    from passivx.backtest.stats import compute_stats, side_stats

    rng = np.random.default_rng(13)
    w = np.zeros(B.W_SIZE)
    w[B.W_ST + L.S_LAST_PRICE], w[B.E_LAST_T] = 100.0, DAY_MS
    for _ in range(300):
        n = int(rng.choice([0, 1, 2, 7, 100, 3000]))
        fills = np.zeros((n, B.F_W))
        fills[:, B.F_POS_SIDE] = rng.choice([1.0, -1.0], n)
        fills[:, B.F_PNL] = rng.normal(0, rng.choice([1e-9, 1.0, 1e6]), n) * (rng.random(n) < 0.7)
        fills[:, B.F_FEE] = rng.random(n) * 1e-3
        fills[:, B.F_TAKER] = rng.random(n) < 0.3
        pos, pnl, fee = fills[:, B.F_POS_SIDE], fills[:, B.F_PNL], fills[:, B.F_FEE]
        losses = -float(pnl[pnl < 0].sum())
        expected = {"profit_factor": float(pnl[pnl > 0].sum()) / losses if losses > 0 else None}
        for name, side in (("long", 1.0), ("short", -1.0)):
            expected |= {f"n_fills_{name}": int((pos == side).sum()), f"pnl_{name}": float(pnl[pos == side].sum()),
                         f"fees_{name}": float(fee[pos == side].sum())}
        assert side_stats(fills) == expected
        assert compute_stats(w, fills, 100.0, 1.0)["n_taker_fills"] == int(fills[:, B.F_TAKER].sum())


def test_the_optimizer_tally_equals_replay_stats():
    """`tally.Tally` (one jitted pass over fills and samples) gives `replay_stats`'s statistics, same keys,
    order and values, on random replays: no fills to thousands, every kind, both sides and none, zero
    pnl, taker flags; curves over days with gaps, above and below the starting balance; and on data it
    leaves to `replay_stats` (a fill kind out of range, a NaN equity)."""
    from passivx.backtest.stats import replay_stats
    from passivx.optimize.tally import Tally

    rng = np.random.default_rng(21)
    tally = Tally()
    w = np.zeros(B.W_SIZE)
    w[B.W_ST + L.S_BALANCE], w[B.W_ST + L.S_LAST_PRICE], w[B.E_LAST_T] = 1000.0, 100.0, 5 * DAY_MS
    kinds = len(B.FILL_KIND_NAMES)
    for i in range(400):
        n = int(rng.choice([0, 1, 5, 300, 5000]))
        fills = np.zeros((n, B.F_W))
        fills[:, B.F_T] = np.sort(rng.integers(0, 5 * DAY_MS, n))
        fills[:, B.F_KIND] = rng.integers(0, kinds, n)
        fills[:, B.F_POS_SIDE] = rng.choice([1.0, -1.0, 0.0], n, p=[0.45, 0.45, 0.1])
        fills[:, B.F_PNL] = rng.normal(0, rng.choice([1e-6, 1.0, 1e5]), n) * (rng.random(n) < 0.6)
        fills[:, B.F_FEE] = rng.random(n) * 1e-2
        fills[:, B.F_TAKER] = rng.random(n) < 0.2
        m = int(rng.choice([0, 1, 2, 40, 3000]))
        samples = np.zeros((m, B.SM_W))
        steps = rng.choice([60_000, HOUR, DAY_MS, 3 * DAY_MS], size=m, p=[0.6, 0.3, 0.07, 0.03])
        samples[:, B.SM_T] = int(rng.integers(17_000, 20_000)) * DAY_MS + np.cumsum(steps) - steps[0] if m else 0
        samples[:, B.SM_EQUITY] = 1000.0 * np.cumprod(1.0 + rng.normal(0, 0.01, m))
        samples[:, B.SM_PRICE] = 100.0 + rng.random(m)
        if i % 40 == 1 and n:
            fills[-1, B.F_KIND] = kinds  # unknown to the tally: `replay_stats` decides
        if i % 40 == 2 and m:
            samples[m // 2, B.SM_EQUITY] = np.nan
        inverse = bool(i % 2)
        expected = replay_stats(w, fills, samples, 1000.0, inverse, 1.0)
        assert json.dumps(tally(w, fills, samples, 1000.0, inverse, 1.0)) == json.dumps(expected)


def test_the_optimizer_tally_equals_replay_stats_with_the_jit_off_too():
    """The same comparison with NUMBA_DISABLE_JIT=1 (and on): the plain-Python tally agrees as well."""
    import sys
    from pathlib import Path

    from jit_parity import run_jit_and_python

    here = Path(__file__).resolve().parent
    code = "import test_optimize_evaluate as t; t.test_the_optimizer_tally_equals_replay_stats(); print('ok')"
    assert run_jit_and_python([sys.executable, "-c", code], cwd=here) == ("ok\n", "ok\n")
