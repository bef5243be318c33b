"""The real sample shipped in tests/data: the same rows as ../shared/data, imported whole by the
`real_samples` fixture, and ready to backtest; and missing shared data failing CI instead of skipping."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import realdata
from passivx.backtest.runner import run_backtest
from passivx.config.backtest import parse_backtest_settings
from passivx.config.live import parse_live_config
from passivx.data import cache, importers

ROOT = Path(__file__).resolve().parents[1]
TIGHT = {"enabled": True, "ema_span_0": 1, "ema_span_1": 2, "wallet_exposure_limit": 1.0, "min_markup": 0.0002,
         "markup_range": 0.0004, "n_close_orders": 3, "backwards_tp": False, "initial_qty_pct": 0.05,
         "initial_eprice_ema_dist": 0.0, "ddown_factor": 0.7, "rentry_pprice_dist": 0.0005,
         "rentry_pprice_dist_wallet_exposure_weighting": 1.0, "auto_unstuck_threshold": 0.3,
         "auto_unstuck_ema_dist": 0.0005, "auto_unstuck_delay_minutes": 1, "auto_unstuck_qty_pct": 0.05}


@pytest.mark.parametrize("name", sorted(realdata.SAMPLES))
def test_each_sample_is_cached_whole_and_backtests(name, real_samples):
    sample = real_samples[name]
    spec = realdata.SAMPLES[name]
    parsed = [importers.read_file(realdata.DATA_DIR / f) for f in spec.files]
    days = sample.days()
    assert [d.date for d in days] == cache.date_range(dt.date.fromisoformat(spec.start_date),
                                                      dt.date.fromisoformat(spec.end_date))
    for col in parsed[0].columns:
        assert np.array_equal(np.concatenate([getattr(d, col) for d in days]),
                              np.concatenate([p.columns[col] for p in parsed]))
    assert sample.rows == sum(d.rows for d in days) > 900
    config = parse_live_config({"mode": "recursive_grid", "config_name": "tight", "symbol": sample.symbol,
                                "long": TIGHT, "short": TIGHT})
    result = run_backtest(parse_backtest_settings(sample.settings(latency_simulation_ms=200)), config, progress=False)
    assert result.stats["trades_processed"] == sample.rows and result.stats["data"] == sample.kind
    assert result.stats["n_entries"] >= 1 and result.stats["n_closes"] >= 1
    assert result.market.inverse == (sample.symbol == "BTCUSD_PERP")


@realdata.needs_shared_data
@pytest.mark.parametrize("name", sorted(realdata.SAMPLES))
def test_shipped_rows_are_the_shared_rows(name):
    """Each shipped file is its ../shared/data original with columns dropped, values unchanged."""
    for file in realdata.SAMPLES[name].files:
        shipped = pd.read_csv(realdata.DATA_DIR / file, dtype=str)
        if realdata.SAMPLES[name].kind == "trades":
            original = pd.read_csv(realdata.SHARED_DATA / "trades" / file.removesuffix(".gz"), dtype=str)
        else:
            original = pd.read_csv(realdata.SHARED_DATA / "candles_1m" /
                                   "binance-usdm_BTCUSDT_1m_2025-05-04_2025-06-24.csv", dtype=str)
            day = original.open_time_utc.str[:10]
            original = original[(day >= realdata.SAMPLES[name].start_date) & (day <= realdata.SAMPLES[name].end_date)]
        assert len(shipped) == len(original) > 900
        assert shipped.equals(original[list(shipped.columns)].reset_index(drop=True))


def _pytest_on(tmp_path: Path, body: str, require: str | None) -> subprocess.CompletedProcess:
    test = tmp_path / "test_probe.py"
    test.write_text(body)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests"), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop(realdata.REQUIRE_SHARED_DATA, None)
    if require is not None:
        env[realdata.REQUIRE_SHARED_DATA] = require
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-c", os.devnull, "--rootdir",
                           str(tmp_path), "-q", "-rs", str(test)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


def test_missing_shared_data_fails_when_required_and_skips_otherwise(tmp_path):
    body = ("import pytest, realdata\n"
            "def test_needs_a_shared_file():\n"
            "    pytest.skip(f'not found: {realdata.SHARED_DATA / \"trades\" / \"gone.csv\"}')\n"
            "def test_skips_for_another_reason():\n"
            "    pytest.skip('not on this platform')\n")
    strict = _pytest_on(tmp_path, body, "1")
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "1 failed, 1 skipped" in strict.stdout and "PASSIVX_REQUIRE_SHARED_DATA=1" in strict.stdout
    assert "gone.csv" in strict.stdout
    for require in (None, "0"):
        lax = _pytest_on(tmp_path, body, require)
        assert lax.returncode == 0 and "2 skipped" in lax.stdout, lax.stdout + lax.stderr


def test_ci_requires_the_shared_data():
    run = (ROOT / ".ci" / "run").read_text()
    assert f'export {realdata.REQUIRE_SHARED_DATA}="${{{realdata.REQUIRE_SHARED_DATA}:-1}}"' in run
    assert run.index(realdata.REQUIRE_SHARED_DATA) < run.index("python3 -m pytest")


def test_readme_lists_every_shipped_file_with_its_checksum():
    import hashlib

    readme = (realdata.DATA_DIR / "README.md").read_text()
    files = sorted(p.name for p in realdata.DATA_DIR.glob("*.gz"))
    assert files == sorted(f for s in realdata.SAMPLES.values() for f in s.files)
    for name in files:
        digest = hashlib.sha256((realdata.DATA_DIR / name).read_bytes()).hexdigest()[:16]
        assert f"| {digest} | {name} |" in readme
    assert sum((realdata.DATA_DIR / n).stat().st_size for n in files) < 3_000_000
