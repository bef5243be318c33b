"""The statistics of one replay (stats.json), from the engine's counters and the fills."""
from __future__ import annotations

import numpy as np

from passivx.calc import layout as L
from passivx.backtest import layout as B
from passivx.backtest.accounting import equity

DAY_MS = 86_400_000


def compute_stats(w: np.ndarray, fills: np.ndarray, starting_balance: float, seconds: float) -> dict:
    """Statistics of a finished replay (workspace `w` after `finish`, every fill row, replay seconds).

    `gain` and `adg` are on equity (balance plus unrealised PnL at the last price); `adg` compounds over
    the days the data spans; `max_drawdown` is the largest fall of equity from its running peak, as a
    fraction of the peak; `closest_liquidation` the smallest `|price - liquidation price| / price` seen (1.0
    when the run never had a liquidation price); `hours_stuck_max` the longest time without a fill,
    counting from the first print and to the end of the data. A liquidated run stops at the liquidation;
    the rest of the period counts as flat, without fills (`trades_processed` counts the rows replayed)."""
    st = w[B.W_ST:B.W_ST + L.ST_SIZE]
    mkt = w[B.W_MKT:B.W_MKT + L.MKT_SIZE]
    last_price = st[L.S_LAST_PRICE]
    final_equity = float(equity(st, mkt, last_price))
    v, s = w.tolist(), st.tolist()  # Python numbers, cheaper to read than numpy scalars
    days = max(1.0, v[B.E_LAST_T] - v[B.E_FIRST_T]) / DAY_MS
    ratio = final_equity / starting_balance
    by_kind = np.bincount(fills[:, B.F_KIND].astype(np.int64), minlength=len(B.FILL_KIND_NAMES)).tolist()
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
        "n_taker_fills": int(fills[:, B.F_TAKER].sum()) if len(fills) else 0,
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


def replay_stats(w: np.ndarray, fills: np.ndarray, samples: np.ndarray, starting_balance: float, inverse: bool,
                 seconds: float) -> dict:
    """The stats.json keys that come from a finished replay: `compute_stats`, `side_stats`, `risk_stats`."""
    stats = compute_stats(w, fills, starting_balance, seconds)
    stats.update(side_stats(fills))
    stats.update(risk_stats(day_closes(samples), samples, starting_balance, inverse))
    return stats


def side_stats(fills: np.ndarray) -> dict:
    """Per position side (long, short): fills, realised PnL and fees; profit factor of the closing fills
    (gross realised profit / gross realised loss, before fees; None without a losing close)."""
    out = {}
    pos, pnl, fee = (np.ascontiguousarray(fills[:, c]) for c in (B.F_POS_SIDE, B.F_PNL, B.F_FEE))
    for name, side in (("long", 1.0), ("short", -1.0)):
        mine = pos == side
        out[f"n_fills_{name}"] = int(np.count_nonzero(mine))
        out[f"pnl_{name}"] = float(pnl[mine].sum())
        out[f"fees_{name}"] = float(fee[mine].sum())
    wins, losses = float(pnl[pnl > 0].sum()), -float(pnl[pnl < 0].sum())
    out["profit_factor"] = wins / losses if losses > 0 else None
    return out


def _days(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(UTC day number, index of its first sample, of its last) of each day the sample times `t` cover;
    samples are in time order, as the replay writes them, so each day's are one run."""
    day = t.astype(np.int64) // DAY_MS  # times are >= 0
    first = np.concatenate(([0], (day[1:] != day[:-1]).nonzero()[0] + 1))
    return day[first], first, np.concatenate((first[1:], [len(t)])) - 1


def day_closes(samples: np.ndarray) -> list[dict]:
    """The rows of `daily_table` with only the column `risk_stats` reads: each day's closing equity."""
    if not len(samples):
        return []
    _, _, last = _days(np.ascontiguousarray(samples[:, B.SM_T]))
    return [{"equity": e} for e in samples[last, B.SM_EQUITY].tolist()]


def daily_table(fills: np.ndarray, samples: np.ndarray, starting_balance: float) -> list[dict]:
    """One row per UTC day the replay covered: date, realised pnl, fees, fills, equity at the day's last
    sample, and the day's deepest drawdown from the running equity peak (sampled curve, peak counting the
    starting balance). Fills are in time order, as the replay writes them, so each day's are one run."""
    if not len(samples):
        return []
    t, eq = np.ascontiguousarray(samples[:, B.SM_T]), np.ascontiguousarray(samples[:, B.SM_EQUITY])
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
    `daily`: the rows of `daily_table` (or `day_closes`)."""
    equity = np.array([starting_balance] + [r["equity"] for r in daily])
    returns = equity[1:] / equity[:-1] - 1.0 if len(equity) > 1 else np.zeros(0)
    sharpe = sortino = None
    if len(returns) >= 2:
        std = float(returns.std(ddof=1))
        down = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
        mean = float(returns.mean())
        sharpe = mean / std * np.sqrt(365.0) if std > 0 else None
        sortino = mean / down * np.sqrt(365.0) if down > 0 else None
    longest = 0.0
    if len(samples):
        t, eq = np.ascontiguousarray(samples[:, B.SM_T]), np.ascontiguousarray(samples[:, B.SM_EQUITY])
        under = np.zeros(len(t) + 2, dtype=bool)
        np.less(eq, np.maximum.accumulate(np.maximum(eq, starting_balance)), out=under[1:-1])
        # where a run of samples below the peak starts and ends, alternately; it lasts from the sample
        # before it to the first one back at the peak (or to the last sample)
        flips = (under[1:] != under[:-1]).nonzero()[0]
        if len(flips):
            spans = t[np.minimum(flips[1::2], len(t) - 1)] - t[np.maximum(flips[::2] - 1, 0)]
            longest = max(longest, float(spans.max()))
    first, last = (float(samples[0, B.SM_PRICE]), float(samples[-1, B.SM_PRICE])) if len(samples) else (0.0, 0.0)
    change = last / first - 1.0 if first > 0 else 0.0
    return {
        "sharpe_ratio": None if sharpe is None else float(sharpe),
        "sortino_ratio": None if sortino is None else float(sortino),
        "drawdown_hours_max": longest / 3_600_000,
        "first_price": first,
        "price_change": change,
        "buy_and_hold_gain": 0.0 if inverse else change,
    }
