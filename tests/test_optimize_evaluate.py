"""A candidate's statistics are `passivx backtest`'s stats.json (same keys, same values apart from timing)
on the shipped real data, objectives reach every statistic, a replay never reads the fills buffer it
leaves unset, the local pool evaluates in its own process, and the daily and drawdown-time statistics on
hand-made curves."""
from __future__ import annotations

import json

import numpy as np
import psutil
import pytest

from passivx.backtest import layout as B
from passivx.calc import layout as L
from passivx.backtest.context import new_context
from passivx.backtest.runner import replay_days, run_backtest
from passivx.backtest.stats import DAY_MS, daily_table, day_closes, risk_stats
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
    report = run_backtest(settings, config, progress=False).stats  # what stats.json holds
    assert set(first) == set(report) | {"replay_cpu_seconds"}
    assert _no_timing(first) == _no_timing(report) == _no_timing(again)
    assert set(warm) < set(report)  # the objective is checked against the replay's own statistics
    assert first["n_fills"] > 0 and first["sharpe_ratio"] is not None and first["requested_days"] >= 1


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

    def run(vector, reuse=None, garbage=None):
        ctx = new_context(vector, ev.mkt, s.starting_balance, s.latency_simulation_ms, ev.span, ev.funding,
                          reuse=reuse)
        if garbage is not None:
            for buf in (ctx.ring, ctx.out, ctx.bk, ctx.rf, ctx.fills, ctx.smp):
                buf[:] = garbage
        replay_days(ctx, ev.days, s.kind)
        return ctx, (ctx.fill_rows(), ctx.w.copy(), ctx.samples())

    _, expected = run(cfg)
    left, _ = run(other)
    runs = [run(cfg, garbage=g)[1] for g in (np.nan, -1e300, 7.0)] + [run(cfg, reuse=left)[1]]
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
    assert [r["equity"] for r in rows] == [90.0, 95.0, 99.0] == [r["equity"] for r in day_closes(curve)]
    assert [r["drawdown"] for r in rows] == [1.0 - 90.0 / 100.0, 1.0 - 95.0 / 100.0, 1.0 - 99.0 / 110.0]
