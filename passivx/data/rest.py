"""Exchange REST history for `passivx download`: trades and 1-minute candles of one UTC day, through
the exchange adapters (`passivx.exchanges`), paged and rate limited.

Base URLs can be moved (tests point them at 127.0.0.1) with PASSIVX_BINANCE_REST_URL and
PASSIVX_BYBIT_REST_URL: the scheme and host of every ccxt API URL are replaced, paths kept."""
from __future__ import annotations

import datetime as dt

import numpy as np

from passivx.data.cache import DAY_MS, day_start_ms
from passivx.errors import DataError
from passivx.exchanges import SUPPORTED, adapter, canonical_exchange


def ccxt_client(exchange: str, rate_limit: bool = True):
    """A sync ccxt client for Binance USDT-M or Bybit market data, honouring the base-URL override."""
    ex = canonical_exchange(exchange)
    if ex not in SUPPORTED:
        raise DataError(f"exchange {ex!r}: downloads support {', '.join(SUPPORTED)}; import other data with "
                        f"`passivx data import`")
    return adapter(ex).make_client(rate_limit=rate_limit)


def fetch_trades_day(client, market: str, day: dt.date) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """All trades of one UTC day: columns ts, price, qty, side and the trade ids."""
    start = day_start_ms(day)
    rows = adapter(client.id).trades_between(client, market, start, start + DAY_MS, str(day))
    cols = {"ts": np.array([t["timestamp"] for t in rows], np.int64),
            "price": np.array([t["price"] for t in rows], np.float64),
            "qty": np.array([t["amount"] for t in rows], np.float64),
            "side": np.array([1 if t["side"] == "buy" else -1 for t in rows], np.int8)}
    return cols, np.array([int(t["id"]) for t in rows], np.int64)


def fetch_candles_day(client, market: str, day: dt.date) -> dict[str, np.ndarray]:
    """The 1-minute candles of one UTC day. Volume is what ccxt reports: the base asset (for Bybit
    inverse contracts, the coin turnover)."""
    start = day_start_ms(day)
    rows = adapter(client.id).candles_between(client, market, start, start + DAY_MS, str(day))
    data = np.array(rows, np.float64).reshape(-1, 6)
    return {"ts": data[:, 0].astype(np.int64), "open": data[:, 1], "high": data[:, 2], "low": data[:, 3],
            "close": data[:, 4], "volume": data[:, 5]}
