"""Real market data for tests: the small sample shipped in tests/data (provenance and licences in its
README), and the larger optional set in ../shared/data.

`import_sample(name, cache_dir)` imports one shipped sample through passivx's own importer and returns a
`Sample` (exchange, symbol, data kind, dates, market spec, cache dir) with its cached `days()` and
backtest `settings()`; conftest.py's `real_samples` fixture does this once per session for every sample.
Tests on the shipped sample never skip. Tests that need ../shared/data carry `needs_shared_data`: they
skip where it is absent, and fail instead when PASSIVX_REQUIRE_SHARED_DATA=1 (set by .ci/run).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DATA_DIR = Path(__file__).resolve().parent / "data"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REQUIRE_SHARED_DATA = "PASSIVX_REQUIRE_SHARED_DATA"
EXCHANGE = "binance-sample"  # not downloadable: a day outside a sample is an error, never a fetch

# Binance's published specs: USDT-M BTCUSDT as in passivx/markets_snapshot.json; COIN-M BTCUSD_PERP
# (inverse, 1 contract = 100 USD, qty in contracts).
BTCUSDT = dict(price_step=0.1, qty_step=0.001, min_qty=0.001, min_cost=100.0, c_mult=1.0, inverse=False,
               maker_fee=0.0002, taker_fee=0.0005, mm_rate=0.004, max_leverage=125.0)
BTCUSD_PERP = dict(BTCUSDT, qty_step=1.0, min_qty=1.0, min_cost=0.0, c_mult=100.0, inverse=True)


@dataclass(frozen=True)
class SampleSpec:
    files: tuple[str, ...]
    symbol: str
    kind: str  # "trades" or "candles"
    start_date: str
    end_date: str
    market: dict
    balance: float  # a sensible starting balance (quote, or coin for inverse)
    about: str


SAMPLES: dict[str, SampleSpec] = {
    "usdm_fast": SampleSpec(("binance-usdm_BTCUSDT_trades_2023-04-04_2358Z.csv.gz",), "BTCUSDT", "trades",
                            "2023-04-04", "2023-04-05", BTCUSDT, 10_000.0,
                            "12,935 trades 23:58:20-00:06:54 across midnight, price moving about 2 %"),
    "usdm_midnight": SampleSpec(("binance-usdm_BTCUSDT_trades_2024-07-18.csv.gz",
                                 "binance-usdm_BTCUSDT_trades_2024-07-19.csv.gz"), "BTCUSDT", "trades",
                                "2024-07-18", "2024-07-19", BTCUSDT, 10_000.0,
                                "10,701 trades 23:57:03-00:05:02 across midnight, quiet"),
    "usdm": SampleSpec(("binance-usdm_BTCUSDT_trades_2024-08-08.csv.gz",), "BTCUSDT", "trades",
                       "2024-08-08", "2024-08-08", BTCUSDT, 10_000.0, "21,313 trades 23:54:16-23:59:59"),
    "coinm": SampleSpec(("binance-coinm_BTCUSD_PERP_trades_2024-08-08.csv.gz",
                         "binance-coinm_BTCUSD_PERP_trades_2024-08-09.csv.gz"), "BTCUSD_PERP", "trades",
                        "2024-08-08", "2024-08-09", BTCUSD_PERP, 0.1,
                        "5,235 inverse trades 23:54:17-00:05:04 across midnight"),
    "candles": SampleSpec(("binance-usdm_BTCUSDT_1m_2025-05-05_2025-05-11.csv.gz",), "BTCUSDT", "candles",
                          "2025-05-05", "2025-05-11", BTCUSDT, 10_000.0,
                          "10,080 one-minute candles, 7 whole days, 93,327-105,000 (a +7 % day on 05-08)"),
}


@dataclass(frozen=True)
class Sample:
    """One shipped sample, imported into `cache_dir`."""

    name: str
    exchange: str
    symbol: str
    kind: str
    start_date: str
    end_date: str
    cache_dir: Path
    rows: int
    market: dict = field(repr=False)
    balance: float = field(repr=False)

    def days(self) -> list:
        """The sample's cached days in order (passivx.data.cache.Day: memory-mapped columns)."""
        from passivx.data import cache

        return cache.open_days(self.exchange, self.symbol, self.start_date, self.end_date, self.kind, self.cache_dir)

    def settings(self, **overrides) -> dict:
        """Backtest settings (the keys of passivx.config.backtest) for this sample; `overrides` win."""
        return {"exchange": self.exchange, "symbol": self.symbol, "start_date": self.start_date,
                "end_date": self.end_date, "data": self.kind, "market": dict(self.market),
                "starting_balance": self.balance, "cache_dir": str(self.cache_dir), **overrides}


def import_sample(name: str, cache_dir: Path) -> Sample:
    """Import shipped sample `name` (a key of SAMPLES) into `cache_dir`."""
    from passivx.data.importers import import_files

    spec = SAMPLES[name]
    report = import_files([DATA_DIR / f for f in spec.files], EXCHANGE, spec.symbol, cache_dir)
    assert report.kind == spec.kind and report.days[0] == spec.start_date and report.days[-1] == spec.end_date
    return Sample(name, EXCHANGE, spec.symbol, spec.kind, spec.start_date, spec.end_date, Path(cache_dir),
                  report.rows, dict(spec.market), spec.balance)


def shared_data_required() -> bool:
    """True when missing shared data must fail the tests that need it (CI) instead of skipping them."""
    return os.environ.get(REQUIRE_SHARED_DATA, "").strip().lower() in ("1", "true", "yes")


needs_shared_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"shared data not found at {SHARED_DATA}")
