"""The statistics of one replay (stats.json), from the engine's counters and the fills.

The optimizer computes them after every candidate's replay, on CPU caches the replay has flushed, where
each numpy entry point costs several times its warm time: it gathers the fills' counts and selections and
the curve's day closes and time under water in one jitted pass (`passivx.optimize.tally`) and builds the
statistics from them with `compute_stats`, `side_sums` and `curve_stats`, as `replay_stats` does. Here the
reductions call the ufunc (`np.add.reduce`, what `ndarray.sum` runs, without its Python wrapper) and the
arithmetic avoids numpy's Python-level helpers.
"""
from __future__ import annotations

import math

import numpy as np

from passivx.calc import layout as L
from passivx.backtest import layout as B
from passivx.backtest.accounting import equity

DAY_MS = 86_400_000


def compute_stats(w: np.ndarray, fills: np.ndarray, starting_balance: float, seconds: float,
                  counts: tuple[list[int], int] | None = None) -> dict:
    """Statistics of a finished replay (workspace `w` after `finish`, every fill row, replay seconds).

    `gain` and `adg` are on equity (balance plus unrealised PnL at the last price); `adg` compounds over
    the days the data spans; `max_drawdown` is the largest fall of equity from its running peak, as a
    fraction of the peak; `closest_liquidation` the smallest `|price - liquidation price| / price` seen (1.0
    when the run never had a liquidation price); `hours_stuck_max` the longest time without a fill,
    counting from the first print and to the end of the data. A liquidated run stops at the liquidation;
    the rest of the period counts as flat, without fills (`trades_processed` counts the rows replayed).
    `counts`: `fill_counts(fills)` when the caller has them."""
    st = w[B.W_ST:B.W_ST + L.ST_SIZE]
    mkt = w[B.W_MKT:B.W_MKT + L.MKT_SIZE]
    v, s = w[:B.E_SIZE].tolist(), st.tolist()  # the engine's counters and the state as Python numbers
    final_equity = float(equity(st, mkt, s[L.S_LAST_PRICE]))
    days = max(1.0, v[B.E_LAST_T] - v[B.E_FIRST_T]) / DAY_MS
    ratio = final_equity / starting_balance
    by_kind, n_taker = fill_counts(fills) if counts is None else counts
    n_rows = int(v[B.E_N_TRADES])
    return {
        "final_balance": s[L.S_BALANCE],
        "final_equity": final_equity,
        "gain": ratio - 1.0,
        "adg": ratio ** (1.0 / days) - 1.0 if ratio > 0.0 else -1.0,
        "max_drawdown": v[B.E_MAX_DD],
        "closest_liquidation": v[B.E_CLOSEST_LIQ],
        "hours_stuck_max": v[B.E_MAX_GAP] / 3_600_000,
        "n_fills": int(v[B.E_N_FILLS]),
        "n_entries": int(v[B.E_N_ENTRIES]),
        "n_closes": int(v[B.E_N_CLOSES]),
        "n_stop_losses": int(v[B.E_N_SL]),
        "n_unstuck": int(v[B.E_N_UNSTUCK]),
        "n_liquidations": int(v[B.E_N_LIQ]),
        "n_taker_fills": n_taker,
        "fills_per_day": int(v[B.E_N_FILLS]) / days,
        "fees_paid": v[B.E_FEES],
        "volume": v[B.E_VOLUME],
        "realized_pnl": v[B.E_RPNL],
        "funding": v[B.E_FUNDING],
        "liquidated": bool(v[B.E_LIQUIDATED]),
        "liquidation_timestamp": int(fills[-1, B.F_T]) if v[B.E_LIQUIDATED] else None,
        "trades_processed": n_rows,
        "seconds": seconds,
        "rows_per_second": n_rows / seconds if seconds > 0 else None,
        "days": days,
        "first_timestamp": int(v[B.E_FIRST_T]),
        "last_timestamp": int(v[B.E_LAST_T]),
        "last_price": s[L.S_LAST_PRICE],
        "long_size": s[L.S_LONG_SIZE],
        "long_price": s[L.S_LONG_PRICE],
        "short_size": s[L.S_SHORT_SIZE],
        "short_price": s[L.S_SHORT_PRICE],
        "n_decisions": int(v[B.E_N_DECISIONS]),
        "n_ideal_orders_calls": int(v[B.E_N_CALLS]),
        "fills_by_kind": dict(zip(B.FILL_KIND_NAMES, by_kind)),
    }


def fill_counts(fills: np.ndarray) -> tuple[list[int], int]:
    """The fills of each kind (`FILL_KIND_NAMES` order) and the taker fills (flags 1.0 / 0.0)."""
    by_kind = np.bincount(fills[:, B.F_KIND].astype(np.int64), minlength=len(B.FILL_KIND_NAMES)).tolist()
    return by_kind, int(np.count_nonzero(fills[:, B.F_TAKER]))


def replay_stats(w: np.ndarray, fills: np.ndarray, samples: np.ndarray, starting_balance: float, inverse: bool,
                 seconds: float) -> dict:
    """The stats.json keys that come from a finished replay: `compute_stats`, `side_stats`, `risk_stats`."""
    stats = compute_stats(w, fills, starting_balance, seconds)
    stats.update(side_stats(fills))
    t, eq = _curve(samples)
    closes, longest = [], 0.0
    if len(t):
        closes = eq[_days(t)[2]].tolist()  # each day's closing equity, as in `daily_table`
        longest = under_water_ms(t, eq, starting_balance)
    stats.update(curve_stats(closes, longest, samples, starting_balance, inverse))
    return stats


def side_stats(fills: np.ndarray) -> dict:
    """Per position side (long, short): fills, realised PnL and fees; profit factor of the closing fills
    (gross realised profit / gross realised loss, before fees; None without a losing close)."""
    pos, pnl, fee = (np.ascontiguousarray(fills[:, c]) for c in (B.F_POS_SIDE, B.F_PNL, B.F_FEE))
    long, short = pos == 1.0, pos == -1.0
    return side_sums(pnl[long], fee[long], pnl[short], fee[short], pnl[pnl > 0], pnl[pnl < 0])


def side_sums(pnl_long: np.ndarray, fee_long: np.ndarray, pnl_short: np.ndarray, fee_short: np.ndarray,
              gains: np.ndarray, losses: np.ndarray) -> dict:
    """`side_stats` of the fills' selections, each in fill order: pnl and fees of the long and the short
    side, the positive and the negative pnl."""
    out = {}
    for name, pnl, fee in (("long", pnl_long, fee_long), ("short", pnl_short, fee_short)):
        out[f"n_fills_{name}"] = len(pnl)
        out[f"pnl_{name}"] = float(np.add.reduce(pnl))
        out[f"fees_{name}"] = float(np.add.reduce(fee))
    wins, lost = float(np.add.reduce(gains)), -float(np.add.reduce(losses))
    out["profit_factor"] = wins / lost if lost > 0 else None
    return out


def _days(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(UTC day number, index of its first sample, of its last) of each day the sample times `t` (>= 0)
    cover; samples are in time order, as the replay writes them, so each day's are one run, found by a
    binary search for each midnight."""
    span = np.arange(int(t[0]) // DAY_MS, int(t[-1]) // DAY_MS + 2)
    edges = t.searchsorted(span * DAY_MS)  # the first sample at or after each midnight
    held = edges[1:] > edges[:-1]  # days with a sample
    return span[:-1][held], edges[:-1][held], edges[1:][held] - 1


def _curve(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The samples' times and equities, each contiguous."""
    return np.ascontiguousarray(samples[:, B.SM_T]), np.ascontiguousarray(samples[:, B.SM_EQUITY])


def daily_table(fills: np.ndarray, samples: np.ndarray, starting_balance: float) -> list[dict]:
    """One row per UTC day the replay covered: date, realised pnl, fees, fills, equity at the day's last
    sample, and the day's deepest drawdown from the running equity peak (sampled curve, peak counting the
    starting balance). Fills are in time order, as the replay writes them, so each day's are one run."""
    if not len(samples):
        return []
    t, eq = _curve(samples)
    dd = 1.0 - eq / np.maximum.accumulate(np.maximum(eq, starting_balance))
    days, first, last = _days(t)
    fill_day = fills[:, B.F_T].astype(np.int64) // DAY_MS
    lo, hi = fill_day.searchsorted(days), fill_day.searchsorted(days, "right")
    money = np.array([fills[:, B.F_PNL], fills[:, B.F_FEE]])  # contiguous rows: a day's sum is numpy's sum
    rows = []
    for date, a, b, close, drawdown in zip(np.datetime_as_string(days.astype("datetime64[D]")).tolist(),
                                           lo.tolist(), hi.tolist(), eq[last].tolist(),
                                           np.maximum.reduceat(dd, first).tolist()):
        pnl, fees = np.add.reduce(money[:, a:b], axis=1).tolist()
        rows.append({"date": date, "pnl": pnl, "fees": fees, "fills": b - a, "equity": close, "drawdown": drawdown})
    return rows


def risk_stats(daily: list[dict], samples: np.ndarray, starting_balance: float, inverse: bool) -> dict:
    """Sharpe and Sortino ratios of the daily equity returns (annualised with sqrt(365); None with fewer
    than two days or no variation), the longest time equity spent below its running peak (hours, sampled
    curve), and buy-and-hold over the replayed span: the price change, and what holding the starting
    balance in the coin would have gained in the balance's currency (inverse: the balance is the coin, 0).
    `daily`: the rows of `daily_table`."""
    longest = under_water_ms(*_curve(samples), starting_balance) if len(samples) else 0.0
    return curve_stats([r["equity"] for r in daily], longest, samples, starting_balance, inverse)


def under_water_ms(t: np.ndarray, eq: np.ndarray, starting_balance: float) -> float:
    """The longest time the sampled equity `eq` (times `t`, at least one sample) spent below its running
    peak (counting the starting balance): from the sample before a run under the peak to the first one back
    at it (or to the last sample)."""
    under = np.zeros(len(t) + 2, dtype=bool)
    np.less(eq, np.maximum.accumulate(np.maximum(eq, starting_balance)), out=under[1:-1])
    flips = (under[1:] != under[:-1]).nonzero()[0]  # where runs under the peak start and end, alternately
    if not len(flips):
        return 0.0
    spans = t[np.minimum(flips[1::2], len(t) - 1)] - t[np.maximum(flips[::2] - 1, 0)]
    return max(0.0, float(np.maximum.reduce(spans)))


def curve_stats(closes: list[float], longest_ms: float, samples: np.ndarray, starting_balance: float,
                inverse: bool) -> dict:
    """`risk_stats` of the days' closing equities and the longest time under water (`under_water_ms`)."""
    equity = np.array([starting_balance] + closes)
    returns = equity[1:] / equity[:-1] - 1.0 if len(equity) > 1 else np.zeros(0)
    sharpe = sortino = None
    if len(returns) >= 2:
        # numpy's mean and std(ddof=1), step by step (their Python wrappers cost more than the arithmetic)
        n = len(returns)
        mean = float(np.add.reduce(returns)) / n
        dev = returns - mean
        std = math.sqrt(float(np.add.reduce(dev * dev)) / (n - 1))
        low = np.minimum(returns, 0.0)
        down = math.sqrt(float(np.add.reduce(low * low)) / n)
        sharpe = mean / std * np.sqrt(365.0) if std > 0 else None
        sortino = mean / down * np.sqrt(365.0) if down > 0 else None
    first, last = (float(samples[0, B.SM_PRICE]), float(samples[-1, B.SM_PRICE])) if len(samples) else (0.0, 0.0)
    change = last / first - 1.0 if first > 0 else 0.0
    return {
        "sharpe_ratio": None if sharpe is None else float(sharpe),
        "sortino_ratio": None if sortino is None else float(sortino),
        "drawdown_hours_max": longest_ms / 3_600_000,
        "first_price": first,
        "price_change": change,
        "buy_and_hold_gain": 0.0 if inverse else change,
    }
