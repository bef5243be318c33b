"""1-minute OHLCV candles from trades."""
from __future__ import annotations

import numpy as np

MINUTE_MS = 60_000


def trades_to_candles(ts: np.ndarray, price: np.ndarray, qty: np.ndarray) -> dict[str, np.ndarray]:
    """Candles of sorted trades: one per minute that has trades (minutes without trades are absent),
    `ts` = minute open (ms), volume = summed qty."""
    if len(ts) == 0:
        return {k: np.empty(0, np.int64 if k == "ts" else np.float64)
                for k in ("ts", "open", "high", "low", "close", "volume")}
    minute = ts // MINUTE_MS
    starts = np.concatenate(([0], np.flatnonzero(np.diff(minute)) + 1))
    ends = np.concatenate((starts[1:], [len(ts)]))
    return {"ts": minute[starts] * MINUTE_MS, "open": price[starts],
            "high": np.maximum.reduceat(price, starts), "low": np.minimum.reduceat(price, starts),
            "close": price[ends - 1], "volume": np.add.reduceat(qty, starts)}
