"""`passivx data info`: per-day coverage (first/last print, share of the day), partial days, leading and
trailing gaps, --strict, a robust overview, and bad --gap-minutes / --kind hints as one line."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from passivx.cli import main
from passivx.data import cache
from passivx.data.info import coverage

DAY, MIN = 86_400_000, 60_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def every(start: int, stop: int, step: int = 10_000) -> dict[str, np.ndarray]:
    ts = np.arange(start, stop, step, dtype=np.int64)
    return {"ts": ts, "price": np.full(len(ts), 100.0), "qty": np.full(len(ts), 1.0),
            "side": np.ones(len(ts), np.int8)}


def store(tmp_path, *parts) -> None:
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    cache.store_days("binance", "BTCUSDT", "trades", cols, "test", tmp_path)


def info(tmp_path, *args):
    return CliRunner().invoke(main, ["data", "info", *args, "--cache-dir", str(tmp_path)])


def test_covered_share_and_partial_first_and_last_days(tmp_path):
    # day 1 from 18:00, day 2 whole but for a 2-hour hole, day 3 until 00:06 (a 6-minute day)
    store(tmp_path, every(T0 + 18 * 3_600_000, T0 + DAY + 10 * 3_600_000),
          every(T0 + DAY + 12 * 3_600_000, T0 + 2 * DAY + 6 * MIN))
    cov = coverage("binance", "BTCUSDT", cache_dir=tmp_path)
    d1, d2, d3 = cov.days
    assert (d1.starts_late, d1.ends_early, d1.partial) == (True, False, True)
    assert d1.covered == pytest.approx(0.25, abs=1e-3)
    assert not d2.partial and d2.covered == pytest.approx(22 / 24, abs=1e-3)
    assert d3.ends_early and not d3.starts_late and d3.covered == pytest.approx(6 / 1440, abs=1e-3)
    assert cov.gaps[0] == (T0, T0 + 18 * 3_600_000)  # leading gap of the first day
    assert cov.gaps[-1][1] == T0 + 3 * DAY  # trailing gap up to the end of the last day
    assert any(b - a > 2 * 3_600_000 - 20_000 for a, b in cov.gaps[1:-1])  # the hole inside day 2
    assert not cov.complete

    r = info(tmp_path, "binance", "BTCUSDT")
    assert r.exit_code == 0, r.output
    assert "partial: starts late" in r.output and "partial: ends early" in r.output and "25.0%" in r.output
    r = info(tmp_path, "binance", "BTCUSDT", "--strict")
    assert r.exit_code == 1 and r.stderr.strip().startswith("error: --strict:") and "2 partial day(s)" in r.stderr


def test_whole_days_pass_strict_and_a_missing_day_fails_it(tmp_path):
    store(tmp_path, every(T0, T0 + 2 * DAY))
    r = info(tmp_path, "binance", "BTCUSDT", "--strict")
    assert r.exit_code == 0 and r.output.count("100.0%  ok") == 2, r.output
    store(tmp_path, every(T0 + 3 * DAY, T0 + 4 * DAY))
    r = info(tmp_path, "binance", "BTCUSDT", "--strict")
    assert r.exit_code == 1 and "missing days: 2024-01-03" in r.output and "1 missing day(s)" in r.stderr
    assert info(tmp_path, "--strict").exit_code == 1 and info(tmp_path).exit_code == 0


def test_overview_flags_a_bad_day_and_survives_a_broken_manifest(tmp_path):
    store(tmp_path, every(T0, T0 + 2 * DAY))
    cache.store_days("bybit", "BTCUSD", "trades", every(T0, T0 + DAY), "test", tmp_path)
    (day,) = (tmp_path / "trades" / "binance" / "BTCUSDT").glob("2024-01-02.*.pxd")
    day.write_bytes(day.read_bytes()[:-8])
    (tmp_path / "trades" / "bybit" / "BTCUSD" / "manifest.json").write_text("{not json")
    cache.store_days("okx", "ETHUSDT", "trades", every(T0, T0 + DAY), "test", tmp_path)
    r = info(tmp_path)
    assert r.exit_code == 0, r.output
    lines = {line.split()[1]: line for line in r.output.splitlines()}
    assert "BAD: 1 corrupt day(s) 2024-01-02" in lines["binance"]
    assert "BAD:" in lines["bybit"] and "manifest" in lines["bybit"] and lines["okx"].rstrip().endswith("ok")
    r = info(tmp_path, "--strict")
    assert r.exit_code == 1 and "2 problem(s)" in r.stderr


@pytest.mark.parametrize("value", ["nan", "-1", "0", "inf"])
def test_bad_gap_minutes_is_a_usage_error_not_a_flood(tmp_path, value):
    store(tmp_path, every(T0, T0 + DAY))
    r = info(tmp_path, "binance", "BTCUSDT", "--gap-minutes", value)
    assert r.exit_code == 2 and "--gap-minutes" in r.stderr and "must be a number of minutes > 0" in r.stderr
    assert "Traceback" not in r.output and len(r.output.splitlines()) <= 4


def test_a_symbol_with_only_candles_suggests_kind_candles(tmp_path):
    from passivx.data.candles import trades_to_candles

    t = every(T0, T0 + DAY)
    cache.store_days("binance", "BTCUSDT", "candles", trades_to_candles(t["ts"], t["price"], t["qty"]), "test",
                     tmp_path)
    r = info(tmp_path, "binance", "BTCUSDT")
    assert r.exit_code == 1 and r.stderr.strip().endswith("there are candles: add --kind candles")
    r = info(tmp_path, "binance", "BTCUSDT", "--kind", "candles", "--strict")
    assert r.exit_code == 0 and "100.0%  ok" in r.output, r.output
