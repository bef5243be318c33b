"""The backtest report: per-side and risk statistics, the daily table, report.html, and a result folder that
is never lost (refused --out, --overwrite, unique default names, Ctrl-C while writing)."""
from __future__ import annotations

import csv
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from passivx.backtest import layout as B
from passivx.backtest.stats import DAY_MS, daily_table, risk_stats, side_stats
from passivx.errors import PassivxError

ROOT = Path(__file__).resolve().parents[1]
SIDE = {"enabled": True, "ema_span_0": 5, "ema_span_1": 30, "wallet_exposure_limit": 0.5,
        "min_markup": 0.001, "markup_range": 0.004, "n_close_orders": 4, "backwards_tp": False,
        "initial_qty_pct": 0.02, "initial_eprice_ema_dist": 0.0, "ddown_factor": 0.8,
        "rentry_pprice_dist": 0.003, "rentry_pprice_dist_wallet_exposure_weighting": 1.0,
        "auto_unstuck_threshold": 0.5, "auto_unstuck_ema_dist": 0.001, "auto_unstuck_delay_minutes": 60,
        "auto_unstuck_qty_pct": 0.05}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    """A real replay: the shipped 7 days of 1-minute candles through a recursive grid on both sides."""
    import realdata
    from passivx.backtest.runner import run_backtest
    from passivx.config.backtest import parse_backtest_settings
    from passivx.config.live import parse_live_config

    sample = realdata.import_sample("candles", tmp_path_factory.mktemp("cache"))
    settings = parse_backtest_settings(sample.settings(latency_simulation_ms=1000), "test")
    config = parse_live_config({"mode": "recursive_grid", "config_name": "report", "symbol": "BTCUSDT",
                                "long": SIDE, "short": SIDE}, "test")
    return run_backtest(settings, config, progress=False)


def test_per_side_figures_add_up_to_the_totals(result):
    s = result.stats
    assert s["n_fills_long"] > 0 and s["n_fills_short"] > 0
    assert s["n_fills_long"] + s["n_fills_short"] == s["n_fills"]
    assert s["pnl_long"] + s["pnl_short"] == pytest.approx(s["realized_pnl"], rel=1e-9, abs=1e-9)
    assert s["fees_long"] + s["fees_short"] == pytest.approx(s["fees_paid"], rel=1e-9)
    pnl = result.fills[:, B.F_PNL]
    assert s["profit_factor"] == pytest.approx(pnl[pnl > 0].sum() / -pnl[pnl < 0].sum())


def test_daily_table_covers_each_day_and_adds_up(result):
    s, daily = result.stats, result.daily
    assert [r["date"] for r in daily] == [f"2025-05-{d:02d}" for d in range(5, 12)]
    assert s["coverage"] > 0.99 and s["requested_days"] == 7
    assert sum(r["fills"] for r in daily) == s["n_fills"]
    assert sum(r["pnl"] for r in daily) == pytest.approx(s["realized_pnl"], rel=1e-9, abs=1e-9)
    assert sum(r["fees"] for r in daily) == pytest.approx(s["fees_paid"], rel=1e-9)
    assert daily[-1]["equity"] == pytest.approx(s["final_equity"], rel=1e-12)
    assert max(r["drawdown"] for r in daily) <= s["max_drawdown"] + 1e-12  # sampled vs exact
    assert s["sharpe_ratio"] is not None and s["sortino_ratio"] is not None
    first = result.samples[0, B.SM_PRICE]
    assert s["first_price"] == first and s["buy_and_hold_gain"] == pytest.approx(s["last_price"] / first - 1)


def _samples(hours_and_equity: list[tuple[float, float]]) -> np.ndarray:
    smp = np.zeros((len(hours_and_equity), B.SM_W))
    for k, (h, e) in enumerate(hours_and_equity):
        smp[k, B.SM_T], smp[k, B.SM_EQUITY], smp[k, B.SM_PRICE] = h * 3_600_000, e, 100.0 + h
    return smp


def test_time_in_drawdown_and_ratios_follow_the_equity_path():
    rising = _samples([(h, 100.0 + h) for h in range(0, 73)])
    r = risk_stats(daily_table(np.zeros((0, B.F_W)), rising, 100.0), rising, 100.0, inverse=False)
    assert r["drawdown_hours_max"] == 0.0 and r["sortino_ratio"] is None and r["sharpe_ratio"] > 0
    dip = _samples([(0, 100.0), (1, 102.0), (2, 99.0), (5, 101.0), (7, 103.0), (30, 104.0), (50, 90.0)])
    r = risk_stats(daily_table(np.zeros((0, B.F_W)), dip, 100.0), dip, 100.0, inverse=True)
    assert r["drawdown_hours_max"] == 20.0  # 30 h (last peak) .. the end at 50 h beats 1 h .. 7 h
    assert r["sortino_ratio"] < 0 and r["buy_and_hold_gain"] == 0.0 and r["price_change"] == pytest.approx(0.5)


def test_side_stats_without_losing_closes_has_no_profit_factor():
    fills = np.zeros((2, B.F_W))
    fills[:, B.F_POS_SIDE] = (1.0, -1.0)
    fills[:, B.F_PNL] = (0.0, 2.5)
    fills[:, B.F_FEE] = (0.1, 0.2)
    s = side_stats(fills)
    assert s["profit_factor"] is None and s["pnl_short"] == 2.5 and s["fees_long"] == 0.1
    assert daily_table(fills, _samples([(0, 1.0)]), 1.0)[0]["fills"] == 2 and DAY_MS == 86_400_000


def test_result_folder_holds_daily_csv_and_a_self_contained_html(result, tmp_path):
    from passivx.backtest.report import write_results

    dest = write_results(result, tmp_path / "run")
    with open(dest / "daily.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["date", "pnl", "fees", "fills", "equity", "drawdown"] and len(rows) == 7
    page = (dest / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4 and "http" not in page.replace("http-equiv", "")
    assert "profit factor" in page and "2025-05-11" in page
    stats = json.loads((dest / "stats.json").read_text())
    assert stats["sharpe_ratio"] == result.stats["sharpe_ratio"] and "adg" in stats


def test_out_folder_with_files_is_refused_unless_overwrite(result, tmp_path):
    from passivx.backtest.report import check_destination, write_results

    dest = tmp_path / "run"
    write_results(result, dest, plots=False)
    (dest / "mine.txt").write_text("keep me")
    with pytest.raises(PassivxError, match="not empty.*--overwrite"):
        check_destination(dest)
    with pytest.raises(PassivxError, match="--overwrite"):
        write_results(result, dest, plots=False)
    assert (dest / "mine.txt").exists()
    assert write_results(result, dest, plots=False, overwrite=True) == dest
    assert not (dest / "mine.txt").exists() and (dest / "stats.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_default_folders_of_runs_in_the_same_second_differ(result, tmp_path, monkeypatch):
    from passivx.backtest import report

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(report, "default_destination",
                        lambda r: Path("backtests") / r.exchange / r.symbol / "report" / "2025-01-01T00-00-00Z")
    folders = [report.write_results(result, plots=False) for _ in range(3)]
    assert [f.name for f in folders] == ["2025-01-01T00-00-00Z", "2025-01-01T00-00-00Z-2", "2025-01-01T00-00-00Z-3"]
    assert all((f / "stats.json").exists() for f in folders)


def test_ctrl_c_while_writing_completes_the_folder_then_stops(result, tmp_path, monkeypatch):
    from passivx.backtest import plots, report

    def interrupted_midway(folder, res):
        os.kill(os.getpid(), signal.SIGINT)
        (folder / "price.png").write_bytes(b"png")

    monkeypatch.setattr(plots, "write_plots", interrupted_midway)
    with pytest.raises(KeyboardInterrupt):
        report.write_results(result, tmp_path / "run")
    assert (tmp_path / "run" / "stats.json").exists() and (tmp_path / "run" / "report.html").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_liquidated_shows_in_red_in_the_summary_and_the_html(result, tmp_path):
    from dataclasses import replace

    from passivx.backtest.report import summary, write_results

    liquidated = replace(result, stats={**result.stats, "liquidated": True, "closest_liquidation": 0.0})
    assert "\x1b[31m" in summary(liquidated) and "\x1b[31m" not in summary(result)
    assert "0.0000%  LIQUIDATED" in summary(liquidated, color=False)
    page = (write_results(liquidated, tmp_path / "run", plots=False) / "report.html").read_text()
    assert '<span class="liq">LIQUIDATED</span>' in page
