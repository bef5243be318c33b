"""Exchange REST through ccxt: trades and 1-minute candles of one UTC day, paged and rate limited.

Base URLs can be moved (tests point them at 127.0.0.1) with PASSIVX_BINANCE_REST_URL and
PASSIVX_BYBIT_REST_URL: the scheme and host of every ccxt API URL are replaced, paths kept."""
from __future__ import annotations

import datetime as dt
import os
import re
import time

import numpy as np

from passivx.data.cache import DAY_MS, day_start_ms
from passivx.errors import DataError, ExchangeError
from passivx.markets import canonical_exchange

REST_ENV = {"binance": "PASSIVX_BINANCE_REST_URL", "bybit": "PASSIVX_BYBIT_REST_URL"}
CCXT_IDS = {"binance": "binanceusdm", "bybit": "bybit"}
CCXT_OPTIONS = {"binance": {"fetchCurrencies": False},
                "bybit": {"fetchMarkets": {"types": ["linear", "inverse"]}}}
PAGE = 1000
_URL = re.compile(r"^(https?|wss?)://[^/]+")


def rewrite_urls(node, base: str):
    """Replace scheme and host of every URL in a ccxt `urls['api']` tree with `base` (http://host:port)."""
    if isinstance(node, dict):
        return {k: rewrite_urls(v, base) for k, v in node.items()}
    if isinstance(node, str):
        host = base.split("://", 1)[-1].rstrip("/")
        return _URL.sub(lambda m: ("ws" if m.group(1).startswith("ws") else "http") + "://" + host, node)
    return node


def ccxt_client(exchange: str, rate_limit: bool = True):
    """A ccxt client for Binance USDT-M or Bybit, honouring the base-URL override."""
    import ccxt

    ex = canonical_exchange(exchange)
    if ex not in CCXT_IDS:
        raise DataError(f"exchange {ex!r}: downloads support {', '.join(CCXT_IDS)}; import other data with "
                        f"`passivx data import`")
    client = getattr(ccxt, CCXT_IDS[ex])({"enableRateLimit": rate_limit, "options": CCXT_OPTIONS[ex]})
    client.has["fetchCurrencies"] = False
    base = os.environ.get(REST_ENV[ex])
    if base:
        client.urls["api"] = rewrite_urls(client.urls["api"], base)
    return client


def call(fn, what: str, *args, retries: int = 4, wait: float = 1.0, **kwargs):
    """Call a ccxt method, retrying network errors with doubling waits; ExchangeError on failure."""
    import ccxt

    for attempt in range(retries):
        try:
            return fn(*args, **kwargs)
        except ccxt.NetworkError as e:
            if attempt == retries - 1:
                raise ExchangeError(f"{what}: network error after {retries} attempts ({e}); re-run to resume") from None
            time.sleep(wait * 2 ** attempt)
        except ccxt.BaseError as e:
            raise ExchangeError(f"{what}: {type(e).__name__}: {str(e)[:200]}") from None


def _symbol(client, market: str) -> str:
    import ccxt

    call(client.load_markets, f"{client.id} load_markets")
    try:
        return client.market(market)["symbol"]
    except ccxt.BadSymbol:
        raise DataError(f"{client.id} has no market {market!r}") from None


def fetch_trades_day(client, market: str, day: dt.date) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """All trades of one UTC day (Binance aggTrades: find the first id by time, then page by id)."""
    if client.id != "binanceusdm":
        raise DataError(f"{client.id} trades for {day} are not archived yet and its REST API only serves the "
                        f"latest trades; try again once the daily archive is published (usually the next day)")
    sym = _symbol(client, market)
    start, end = day_start_ms(day), day_start_ms(day) + DAY_MS
    what = f"{client.id} fetch_trades {market} {day}"
    page, since = [], start
    while not page and since < end:  # aggTrades by time allows one-hour windows
        page = call(client.fetch_trades, what, sym, since, PAGE)
        since += 3_600_000
    rows = []
    while page:
        rows.extend(t for t in page if t["timestamp"] < end)
        if page[-1]["timestamp"] >= end:
            break
        page = call(client.fetch_trades, what, sym, None, PAGE, {"fromId": int(page[-1]["id"]) + 1})
    rows = [t for t in rows if t["timestamp"] >= start]
    cols = {"ts": np.array([t["timestamp"] for t in rows], np.int64),
            "price": np.array([t["price"] for t in rows], np.float64),
            "qty": np.array([t["amount"] for t in rows], np.float64),
            "side": np.array([1 if t["side"] == "buy" else -1 for t in rows], np.int8)}
    return cols, np.array([int(t["id"]) for t in rows], np.int64)


def fetch_candles_day(client, market: str, day: dt.date) -> dict[str, np.ndarray]:
    """The 1-minute candles of one UTC day, paged by open time. Volume is what ccxt reports: the
    base asset (for Bybit inverse contracts, the coin turnover)."""
    sym = _symbol(client, market)
    start, end = day_start_ms(day), day_start_ms(day) + DAY_MS
    what = f"{client.id} fetch_ohlcv {market} {day}"
    rows: dict[int, list] = {}
    since = start
    while since < end:  # windows of PAGE minutes, so either result order returns all of a window
        until = min(since + PAGE * 60_000, end) - 1
        page = call(client.fetch_ohlcv, what, sym, "1m", since, PAGE, {"until": until})
        rows.update((int(c[0]), c) for c in page if since <= c[0] <= until)
        since = until + 1
    data = np.array([rows[k] for k in sorted(rows)], np.float64).reshape(-1, 6)
    return {"ts": data[:, 0].astype(np.int64), "open": data[:, 1], "high": data[:, 2], "low": data[:, 3],
            "close": data[:, 4], "volume": data[:, 5]}
