"""Exchange adapters: the one place that knows ccxt and each exchange's protocol details.

`adapter(name)` returns the adapter of "bybit" (v5, inverse perpetuals) or "binance" (USDT-M
perpetuals); see `passivx.exchanges.base.Adapter` for the interface. `markets`, `data` and `live`
use this package; it imports none of them.
"""
from __future__ import annotations

from passivx.errors import ExchangeError

# "binance" is Binance USDT-M futures, "bybit" is Bybit; other names are allowed for imported data.
EXCHANGE_ALIASES = {"binanceusdm": "binance", "binance-usdm": "binance", "binance_usdm": "binance",
                    "bybit-inverse": "bybit", "bybit_inverse": "bybit"}
SUPPORTED = ("binance", "bybit")


def canonical_exchange(name: str) -> str:
    """Lower-case exchange name with aliases resolved ("binanceusdm" -> "binance")."""
    key = str(name).strip().lower()
    return EXCHANGE_ALIASES.get(key, key)


def market_id(symbol: str) -> str:
    """Exchange market id from an id or a ccxt symbol: "BTC/USDT:USDT" -> "BTCUSDT", "btcusd" -> "BTCUSD"."""
    s = str(symbol).strip()
    if "/" in s:
        base, rest = s.split("/", 1)
        s = base + rest.split(":", 1)[0]
    return s.upper()


def adapter(name: str):
    """The adapter of exchange `name` (ExchangeError naming the supported ones if there is none)."""
    ex = canonical_exchange(name)
    if ex == "bybit":
        from passivx.exchanges.bybit import Bybit

        return Bybit()
    if ex == "binance":
        from passivx.exchanges.binance import Binance

        return Binance()
    raise ExchangeError(f"exchange {name!r}: supported are {', '.join(SUPPORTED)}")
