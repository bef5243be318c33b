"""`passivx backtest` end to end (subprocesses, as a user runs it): results folder, plain Python against
--jit on a real sample, and one-line errors for bad input."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SAMPLE = DATA / "trades" / "binance-usdm_BTCUSDT_trades_2024-08-08.csv"
STATS_KEYS = ("final_balance", "final_equity", "gain", "adg", "max_drawdown", "closest_liquidation",
              "hours_stuck_max", "n_fills", "n_entries", "n_closes", "n_stop_losses", "n_unstuck", "fees_paid",
              "volume", "liquidated", "trades_processed", "seconds")
RESULT_FILES = ("stats.json", "fills.csv", "equity.csv", "daily.csv", "config.json", "settings.json", "price.png",
                "balance_equity.png", "position.png", "drawdown.png", "report.html")
TIGHT_SIDE = {"enabled": True, "ema_span_0": 1, "ema_span_1": 2, "wallet_exposure_limit": 1.0,
              "min_markup": 0.0002, "markup_range": 0.0004, "n_close_orders": 3, "backwards_tp": False,
              "initial_qty_pct": 0.05, "initial_eprice_ema_dist": 0.0, "ddown_factor": 0.7,
              "rentry_pprice_dist": 0.0005, "rentry_pprice_dist_wallet_exposure_weighting": 1.0,
              "auto_unstuck_threshold": 0.3, "auto_unstuck_ema_dist": 0.0005, "auto_unstuck_delay_minutes": 1,
              "auto_unstuck_qty_pct": 0.05}


def passivx(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PASSIVX_CACHE_DIR": str(cache)}
    env.pop("NUMBA_DISABLE_JIT", None)
    return subprocess.run([sys.executable, "-m", "passivx", "backtest", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in errors[0], errors[0]


@pytest.fixture()
def sample_cache(tmp_path):
    """The real Binance sample imported into a fresh cache as exchange 'testex' (never downloadable)."""
    if not SAMPLE.exists():
        pytest.skip(f"real data sample not found at {SAMPLE}")
    from passivx.data.importers import import_files

    cache = tmp_path / "cache"
    import_files([SAMPLE], "testex", "BTCUSDT", cache)
    settings = tmp_path / "sample.hjson"
    settings.write_text("""{
      exchange: testex
      symbol: BTCUSDT
      start_date: 2024-08-08
      end_date: 2024-08-08
      starting_balance: 10000
      latency_simulation_ms: 500
      market: {"price_step": 0.1, "qty_step": 0.001, "min_qty": 0.001, "min_cost": 5, "mm_rate": 0.004}
    }""")
    config = tmp_path / "tight.json"
    config.write_text(json.dumps({"mode": "recursive_grid", "config_name": "tight", "symbol": "BTCUSDT",
                                  "long": TIGHT_SIDE, "short": TIGHT_SIDE}))
    return cache, settings, config


def test_default_settings_run_offline_on_the_synthetic_data(tmp_path):
    out = tmp_path / "out"
    proc = passivx(str(ROOT / "configs/backtest/default.hjson"), "--config",
                   str(ROOT / "configs/live/binance/ETHUSDT_default.json"), "--jit", "--end", "2024-01-02",
                   "--out", str(out), cwd=tmp_path, cache=tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    assert "max drawdown" in proc.stdout and f"results: {out}" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(RESULT_FILES)
    stats = json.loads((out / "stats.json").read_text())
    assert all(key in stats for key in STATS_KEYS)
    assert stats["n_fills"] > 10 and stats["trades_processed"] > 100_000 and not stats["liquidated"]
    assert stats["final_balance"] == pytest.approx(
        stats["starting_balance"] + stats["realized_pnl"] - stats["fees_paid"] + stats["funding"], rel=1e-12)
    assert "none" in stats["funding_source"] and stats["funding"] == 0.0
    with open(out / "fills.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == stats["n_fills"]
    assert float(rows[-1]["balance"]) == stats["final_balance"]
    assert json.loads((out / "settings.json").read_text())["market_spec"]["price_step"] == 0.1


def test_results_go_under_backtests_by_default(tmp_path, sample_cache):
    cache, settings, config = sample_cache
    proc = passivx(str(settings), "--config", str(config), "--jit", "--no-plots", cwd=tmp_path, cache=cache)
    assert proc.returncode == 0, proc.stderr
    (run,) = (tmp_path / "backtests" / "testex" / "BTCUSDT" / "tight").iterdir()
    assert run.name.endswith("Z") and (run / "stats.json").exists()
    assert not [p for p in run.parent.iterdir() if p.name.startswith(".")]


def test_plain_python_and_jit_give_identical_fills_and_stats(tmp_path, sample_cache):
    cache, settings, config = sample_cache
    results = {}
    for mode in ("--jit", None):
        out = tmp_path / (mode or "python").strip("-")
        args = [str(settings), "--config", str(config), "--no-plots", "--out", str(out)] + ([mode] if mode else [])
        proc = passivx(*args, cwd=tmp_path, cache=cache)
        assert proc.returncode == 0, proc.stderr
        stats = json.loads((out / "stats.json").read_text())
        results[mode] = ((out / "fills.csv").read_text(), {k: v for k, v in stats.items()
                                                            if k not in ("seconds", "rows_per_second")})
    assert results["--jit"][1]["n_fills"] >= 20
    assert results["--jit"] == results[None]


def test_bad_settings_give_one_line(tmp_path, sample_cache):
    cache, settings, config = sample_cache
    bad = tmp_path / "bad.hjson"
    bad.write_text(settings.read_text().replace("latency_simulation_ms: 500", "latency_simulation_ms: 99999999"))
    one_line_error(passivx(str(bad), "--config", str(config), cwd=tmp_path, cache=cache),
                   "bad.hjson", "latency_simulation_ms")
    one_line_error(passivx(str(settings), "--config", str(config), "--start", "2024-02-30", cwd=tmp_path,
                           cache=cache), "start_date")
    broken = tmp_path / "broken.json"
    broken.write_text('{"mode": "recursive_grid"')
    one_line_error(passivx(str(settings), "--config", str(broken), cwd=tmp_path, cache=cache), "broken.json")


def test_a_date_range_without_data_gives_one_line(tmp_path, sample_cache):
    cache, settings, config = sample_cache
    proc = passivx(str(settings), "--config", str(config), "--start", "2030-01-01", "--end", "2030-01-02",
                   cwd=tmp_path, cache=cache)
    one_line_error(proc, "2030-01-01", "not in the cache")
    assert not (tmp_path / "backtests").exists()


def test_a_corrupt_cache_file_gives_one_line(tmp_path, sample_cache):
    cache, settings, config = sample_cache
    (day,) = (cache / "trades" / "testex" / "BTCUSDT").glob("2024-08-08.*.pxd")
    data = bytearray(day.read_bytes())
    data[-100] ^= 0xFF  # same size, different content
    day.write_bytes(bytes(data))
    one_line_error(passivx(str(settings), "--config", str(config), cwd=tmp_path, cache=cache), "2024-08-08")


def test_an_interrupted_run_leaves_no_result_folder(tmp_path, sample_cache, monkeypatch):
    cache, settings, config = sample_cache
    monkeypatch.setenv("PASSIVX_CACHE_DIR", str(cache))
    from passivx.backtest import plots, report
    from passivx.backtest.runner import run_backtest
    from passivx.config.backtest import load_backtest_settings
    from passivx.config.live import load_live_config

    result = run_backtest(load_backtest_settings(settings), load_live_config(config), progress=False)

    def interrupted(folder, result):
        (folder / "price.png").write_bytes(b"half a png")
        raise KeyboardInterrupt

    monkeypatch.setattr(plots, "write_plots", interrupted)
    dest = tmp_path / "results" / "run"
    with pytest.raises(KeyboardInterrupt):
        report.write_results(result, dest)
    assert list((tmp_path / "results").iterdir()) == []
    existing = tmp_path / "existing"
    existing.mkdir()
    with pytest.raises(KeyboardInterrupt):
        report.write_results(result, existing)
    assert list(existing.iterdir()) == [] and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    monkeypatch.undo()
    assert report.write_results(result, existing, plots=False) == existing
    assert (existing / "stats.json").exists() and (existing / "fills.csv").exists()


def test_summary_says_when_no_liquidation_price_came_within_reach():
    from types import SimpleNamespace

    from passivx.backtest.report import summary

    stats = dict(config_name="c", mode="clock", exchange="x", symbol="S", data="trades", start_date="a",
                 end_date="b", days=1.0, trades_processed=10, starting_balance=100.0, final_balance=101.0,
                 final_equity=101.0, gain=0.01, adg=0.01, max_drawdown=0.0, closest_liquidation=1.0,
                 liquidated=False, hours_stuck_max=1.0, n_fills=2, n_entries=1, n_closes=1, n_stop_losses=0,
                 n_unstuck=0, fills_per_day=2.0, fees_paid=0.1, volume=10.0, funding=0.0, funding_source="none",
                 seconds=0.1, rows_per_second=100.0, first_timestamp=0, last_timestamp=86_400_000, coverage=1.0,
                 requested_days=1, first_price=1.0, last_price=1.0, price_change=0.0, buy_and_hold_gain=0.0,
                 drawdown_hours_max=0.0, sharpe_ratio=None, sortino_ratio=None, n_fills_long=1, n_fills_short=1,
                 pnl_long=0.0, pnl_short=0.0, fees_long=0.0, fees_short=0.0, profit_factor=None)
    def line(s: dict) -> str:
        text = summary(SimpleNamespace(stats=s, market=SimpleNamespace(inverse=False)))
        return next(x for x in text.splitlines() if x.startswith("closest liquidation"))

    assert line(stats).endswith("none within 100 % of the price")
    assert line(dict(stats, closest_liquidation=0.25)).endswith("25.0000%")


def test_a_short_day_prints_its_span_and_warns_instead_of_an_adg(tmp_path, sample_cache):
    cache, settings, config = sample_cache  # the sample holds the last 5.7 minutes of 2024-08-08
    proc = passivx(str(settings), "--config", str(config), "--jit", "--no-plots", "--out", str(tmp_path / "r"),
                   cwd=tmp_path, cache=cache)
    assert proc.returncode == 0, proc.stderr
    assert "adg n/a (less than a day of data)" in proc.stdout and "/day" not in proc.stdout
    assert "2024-08-08 23:54 .. 2024-08-08 23:59 UTC, 5.7 min (0.4% of 1 day(s))" in proc.stdout
    assert "warning: the data covers 5.7 min of the 1 requested day(s) (0.4%)" in proc.stderr
    stats = json.loads((tmp_path / "r" / "stats.json").read_text())
    assert stats["requested_days"] == 1 and stats["coverage"] == pytest.approx(stats["days"], rel=1e-3)


def test_out_with_files_is_refused_before_the_run_unless_overwrite(tmp_path, sample_cache):
    cache, settings, config = sample_cache
    out = tmp_path / "r"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = [str(settings), "--config", str(config), "--jit", "--no-plots", "--out", str(out)]
    one_line_error(passivx(*args, cwd=tmp_path, cache=cache), "--out", "not empty", "--overwrite")
    proc = passivx(*args, "--overwrite", cwd=tmp_path, cache=cache)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(set(RESULT_FILES) - {"price.png", "balance_equity.png",
                                                                                "position.png", "drawdown.png"})
