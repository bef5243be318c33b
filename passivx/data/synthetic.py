"""The built-in default data: seeded SYNTHETIC trades for trying passivx without a download.

It is generated, not market data, and is labelled so everywhere (exchange name "synthetic", the
manifest's `synthetic` flag and source, `passivx data info`). The model, per minute: trending and
ranging regimes (drift, or mean reversion to the level where the range began), volatility that
clusters (a slowly mean-reverting log-volatility), fat-tailed returns and occasional jumps that
also lift volatility; per second: a Brownian bridge between minute closes; trade arrivals: Poisson
counts whose rate follows the time of day, the volatility, the size of the move and self-exciting
bursts; trades sit on the bid or ask by taker side (buyers dominate rising seconds) and larger
taker orders sweep a few price levels in the same millisecond.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from passivx.data import cache, manifest
from passivx.data.candles import trades_to_candles

EXCHANGE, SYMBOL = "synthetic", "BTCUSDT"
START = dt.date(2024, 1, 1)
DAYS = 7
SEED = 42
VERSION = 1
PRICE_STEP, QTY_STEP = 0.1, 0.001
SOURCE = f"SYNTHETIC generator v{VERSION} seed {SEED} (generated, not market data)"


def _minute_path(rng: np.random.Generator, minutes: int, start_price: float):
    """Per-minute log price and log-volatility state with regimes, clustering and jumps."""
    phi = np.exp(-1 / 360)  # log-vol memory ~6 h
    eta = rng.normal(0, 0.45 * np.sqrt(1 - phi ** 2), minutes)
    z = rng.standard_t(4, minutes) / np.sqrt(2.0)
    jump_at = rng.random(minutes) < 2 / 1440
    jumps = np.where(jump_at, rng.choice([-1.0, 1.0], minutes) * rng.gamma(2.0, 0.003, minutes), 0.0)
    # regimes: (length in minutes, drift per minute, mean-reversion speed)
    lengths = np.maximum(60, rng.exponential(480, minutes // 60 + 2)).astype(np.int64)
    kinds = rng.choice(3, len(lengths), p=[0.3, 0.3, 0.4])  # 0 up, 1 down, 2 range
    drift = np.where(kinds == 2, 0.0, np.where(kinds == 0, 1, -1) * rng.uniform(0.015, 0.06, len(lengths)) / 1440)
    seg = np.repeat(np.arange(len(lengths)), lengths)[:minutes]
    seg_start = np.r_[True, seg[1:] != seg[:-1]]
    mu, kappa = drift[seg], np.where(kinds[seg] == 2, 1 / 120, 0.0)
    lp = np.empty(minutes)
    h = np.empty(minutes)
    x, hv, anchor = np.log(start_price), 0.0, np.log(start_price)
    for m in range(minutes):  # per minute, not per trade: 1440 steps a day
        hv = phi * hv + eta[m] + (0.5 if jump_at[m] else 0.0)
        if seg_start[m]:
            anchor = x
        x += mu[m] - kappa[m] * (x - anchor) + 6e-4 * np.exp(hv) * z[m] + jumps[m]
        lp[m], h[m] = x, hv
    return lp, h, jump_at


def _shot_noise(rng: np.random.Generator, n: int, per_second: float, tau: float, forced: np.ndarray) -> np.ndarray:
    """Self-exciting-looking bursts: Pareto-sized impulses decaying over ~tau seconds."""
    impulses = np.where(rng.random(n) < per_second, rng.pareto(1.5, n) * 2.0, 0.0) + forced
    kernel = np.exp(-np.arange(int(5 * tau)) / tau)
    return np.convolve(impulses, kernel)[:n]


def generate_trades(start: dt.date = START, days: int = DAYS, seed: int = SEED, start_price: float = 42_000.0,
                    rate: float = 1.5) -> dict[str, np.ndarray]:
    """SYNTHETIC trades for `days` UTC days from `start`: columns ts (ms), price, qty, side.
    Deterministic for a given seed; `rate` scales the mean number of trades per second."""
    rng = np.random.default_rng(seed)
    minutes = days * 1440
    lp, h, jump_at = _minute_path(rng, minutes, start_price)
    # per second: bridge between minute closes
    sigma_s = 6e-4 * np.exp(h) / np.sqrt(60)
    e = rng.normal(0, 1, (minutes, 60)) * sigma_s[:, None]
    r = np.diff(np.r_[np.log(start_price), lp])
    e -= (e.sum(axis=1) - r)[:, None] / 60
    lp_sec = (np.r_[np.log(start_price), lp[:-1]][:, None] + np.cumsum(e, axis=1)).ravel()
    move = (np.abs(e) / sigma_s[:, None]).ravel()
    secs = minutes * 60
    hour = (np.arange(secs) // 3600) % 24
    season = 1 + 0.5 * np.cos(2 * np.pi * (hour - 15) / 24)
    forced = np.zeros(secs)
    forced[np.flatnonzero(jump_at) * 60] = 40.0
    burst = _shot_noise(rng, secs, 40 / 3600, 20.0, forced)
    lam = rate * season * np.repeat(np.exp(0.9 * h), 60) * (1 + np.minimum(burst, 20)) * (1 + np.minimum(move, 4))
    counts = rng.poisson(lam)
    # takers: side leans with the second's move; some orders sweep 2-4 levels in one millisecond
    sec_of = np.repeat(np.arange(secs), counts)
    n = len(sec_of)
    t0 = cache.day_start_ms(start)
    ts = np.sort(t0 + sec_of * 1000 + rng.integers(0, 1000, n))
    sec_of = (ts - t0) // 1000
    p_buy = 0.5 + 0.4 * np.tanh(0.5 * (e.ravel() / np.repeat(sigma_s, 60)))
    side = np.where(rng.random(n) < p_buy[sec_of], 1, -1).astype(np.int8)
    fills = np.where(rng.random(n) < 0.12, 1 + rng.geometric(0.5, n), 1)
    ts, side, sec_of = np.repeat(ts, fills), np.repeat(side, fills), np.repeat(sec_of, fills)
    level = np.arange(len(ts)) - np.repeat(np.cumsum(fills) - fills, fills)  # 0, 1, 2.. within a sweep
    t_sec = np.arange(secs + 1) * 1000.0
    mid = np.exp(np.interp(ts - t0, t_sec, np.r_[lp_sec, lp_sec[-1]]))
    bid = np.floor(mid / PRICE_STEP)
    ticks = np.where(side > 0, bid + 1 + level, bid - level)
    qty = np.maximum(np.round(rng.lognormal(np.log(0.012), 1.5, len(ts)) / QTY_STEP), 1) * QTY_STEP
    return {"ts": ts, "price": np.round(ticks * PRICE_STEP, 1), "qty": np.round(qty, 3), "side": side}


def _intact(cache_dir: Path | None) -> bool:
    want = [d.isoformat() for d in cache.date_range(START, START + dt.timedelta(days=DAYS - 1))]
    for kind in ("trades", "candles"):
        directory = cache.dataset_dir(cache_dir, kind, EXCHANGE, SYMBOL)
        man = manifest.load(directory, EXCHANGE, SYMBOL, kind)
        if any(d not in man.days or man.days[d].get("source") != SOURCE
               or cache.check_day(directory, man, d) for d in want):  # a changed file is re-hashed
            return False
    return True


def ensure_default_data(cache_dir: str | Path | None = None) -> tuple[str, str]:
    """Write the SYNTHETIC default set (trades and 1-minute candles, 2024-01-01..2024-01-07) into
    the cache unless it is already there and intact (a missing, truncated or modified day file
    regenerates the set); return its (exchange, symbol)."""
    if not _intact(cache_dir):
        trades = generate_trades()
        cache.store_days(EXCHANGE, SYMBOL, "trades", trades, SOURCE, cache_dir, synthetic=True)
        candles = trades_to_candles(trades["ts"], trades["price"], trades["qty"])
        cache.store_days(EXCHANGE, SYMBOL, "candles", candles, SOURCE, cache_dir, synthetic=True)
    return EXCHANGE, SYMBOL
