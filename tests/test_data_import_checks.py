"""`passivx data import` checks what it is told: a file naming another symbol or market is refused (--force
overrides), spot data over futures days is refused, and prices far from the neighbouring cached days warn."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from passivx.cli import main
from passivx.data.importers import import_files, named_market
from passivx.errors import DataError

SAMPLE = Path(__file__).resolve().parent / "data" / "binance-usdm_BTCUSDT_trades_2024-08-08.csv.gz"
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def normalised(folder: Path, name: str, price: float, day: int = 0, symbol: str = "BTCUSDT") -> Path:
    path = folder / name
    rows = [f"{T0 + day * 86_400_000 + k * 60_000},{price + k * 0.1},0.5,buy,{symbol}" for k in range(20)]
    path.write_text("ts_ms,price,qty,side,symbol\n" + "\n".join(rows) + "\n")
    return path


def run(*args):
    return CliRunner().invoke(main, ["data", "import", *map(str, args)])


@pytest.mark.parametrize("name,content,expected", [
    ("BTCUSDT-aggTrades-2024-01-01.zip", None, ("binance", "BTCUSDT")),
    ("ETHUSDT-1m-2024-01.zip", None, ("binance", "ETHUSDT")),
    ("BTCUSD2024-01-01.csv.gz", None, ("bybit", "BTCUSD")),
    ("1000PEPEUSDT2024-01-01.csv.gz", None, ("bybit", "1000PEPEUSDT")),
    ("binance-coinm_BTCUSD_PERP_trades_2024-08-08.csv.gz", None, ("binance-coinm", "BTCUSD_PERP")),
    ("ftx_BTC-PERP_1m_2021-12-31_2022-02-01.csv", None, ("ftx", "BTC-PERP")),
    ("mine.csv", b"ts_ms,price,qty,side,symbol\n1,2,3,buy,ETHUSDT\n", (None, "ETHUSDT")),
    ("mine.csv", b"ts_ms,price,qty,side\n1,2,3,buy\n", (None, None)),
])
def test_names_in_file_names_and_symbol_columns(name, content, expected):
    assert named_market(name, content) == expected


def test_another_symbol_or_market_is_refused_and_force_overrides(tmp_path):
    cache = tmp_path / "cache"
    r = run(SAMPLE, "--exchange", "binance", "--symbol", "ETHUSDT", "--cache-dir", cache)
    assert r.exit_code == 1 and r.stderr.startswith(f"error: {SAMPLE}: the file is for symbol BTCUSDT, not "
                                                    "--symbol ETHUSDT") and "--force" in r.stderr
    r = run(SAMPLE, "--exchange", "bybit", "--symbol", "BTCUSDT", "--cache-dir", cache)
    assert r.exit_code == 1 and "binance-usdm data, not bybit perpetual futures" in r.stderr
    assert not cache.exists()  # nothing written
    r = run(SAMPLE, "--exchange", "bybit", "--symbol", "ETHUSDT", "--force", "--cache-dir", cache)
    assert r.exit_code == 0 and "imported 21,313 trades rows" in r.output
    assert run(SAMPLE, "--exchange", "binance", "--symbol", "BTCUSDT", "--cache-dir", cache).exit_code == 0
    assert run(SAMPLE, "--exchange", "my-label", "--symbol", "btcusdt", "--cache-dir", cache).exit_code == 0


def test_spot_data_over_futures_is_refused(tmp_path):
    cache = tmp_path / "cache"
    spot = normalised(tmp_path, "binance-spot_BTCUSDT_trades_2024-01-01.csv", 42_000.0)
    r = run(spot, "--exchange", "binance", "--symbol", "BTCUSDT", "--cache-dir", cache)
    assert r.exit_code == 1 and "binance-spot data, not binance perpetual futures" in r.stderr
    futures = normalised(tmp_path, "binance-usdm_BTCUSDT_trades_2024-01-01.csv", 42_000.0)
    assert run(futures, "--exchange", "mine", "--symbol", "BTCUSDT", "--cache-dir", cache).exit_code == 0
    r = run(spot, "--exchange", "mine", "--symbol", "BTCUSDT", "--cache-dir", cache)
    assert r.exit_code == 1 and "spot data over cached futures days of mine BTCUSDT" in r.stderr
    assert run(spot, "--exchange", "other", "--symbol", "BTCUSDT", "--cache-dir", cache).exit_code == 0


def test_prices_far_from_the_neighbouring_days_warn(tmp_path):
    cache = tmp_path / "cache"
    for day, price in ((0, 42_000.0), (2, 43_000.0)):
        import_files([normalised(tmp_path, f"d{day}.csv", price, day)], "x", "BTCUSDT", cache)
    ok = import_files([normalised(tmp_path, "d1.csv", 42_500.0, 1)], "x", "BTCUSDT", cache)
    assert ok.warnings == []
    far = normalised(tmp_path, "d1b.csv", 42.5, 1)  # a price in thousands of dollars, say
    r = run(far, "--exchange", "x", "--symbol", "BTCUSDT", "--cache-dir", cache)
    assert r.exit_code == 0 and "imported 20 trades rows" in r.output
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 3 and all("another market or unit?" in w for w in warnings)
    assert "last price of the cached day 2024-01-01" in warnings[0] and "-100%" in warnings[0]


def test_library_refuses_a_mismatch_too(tmp_path):
    with pytest.raises(DataError, match="symbol BTCUSDT, not --symbol XRPUSDT"):
        import_files([SAMPLE], "binance", "XRPUSDT", tmp_path)
