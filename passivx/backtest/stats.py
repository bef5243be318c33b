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
    span_ms = max(1.0, w[B.E_LAST_T] - w[B.E_FIRST_T])
    days = span_ms / DAY_MS
    ratio = final_equity / starting_balance
    kinds = fills[:, B.F_KIND].astype(int) if len(fills) else np.zeros(0, int)
    n_rows = int(w[B.E_N_TRADES])
    return {
        "final_balance": float(st[L.S_BALANCE]),
        "final_equity": final_equity,
        "gain": ratio - 1.0,
        "adg": float(ratio ** (1.0 / days) - 1.0) if ratio > 0.0 else -1.0,
        "max_drawdown": float(w[B.E_MAX_DD]),
        "closest_liquidation": float(w[B.E_CLOSEST_LIQ]),
        "hours_stuck_max": float(w[B.E_MAX_GAP]) / 3_600_000,
        "n_fills": int(w[B.E_N_FILLS]),
        "n_entries": int(w[B.E_N_ENTRIES]),
        "n_closes": int(w[B.E_N_CLOSES]),
        "n_stop_losses": int(w[B.E_N_SL]),
        "n_unstuck": int(w[B.E_N_UNSTUCK]),
        "n_liquidations": int(w[B.E_N_LIQ]),
        "n_taker_fills": int(fills[:, B.F_TAKER].sum()) if len(fills) else 0,
        "fills_per_day": int(w[B.E_N_FILLS]) / days,
        "fees_paid": float(w[B.E_FEES]),
        "volume": float(w[B.E_VOLUME]),
        "realized_pnl": float(w[B.E_RPNL]),
        "funding": float(w[B.E_FUNDING]),
        "liquidated": bool(w[B.E_LIQUIDATED]),
        "liquidation_timestamp": int(fills[-1, B.F_T]) if w[B.E_LIQUIDATED] else None,
        "trades_processed": n_rows,
        "seconds": seconds,
        "rows_per_second": n_rows / seconds if seconds > 0 else None,
        "days": days,
        "first_timestamp": int(w[B.E_FIRST_T]),
        "last_timestamp": int(w[B.E_LAST_T]),
        "last_price": float(last_price),
        "long_size": float(st[L.S_LONG_SIZE]),
        "long_price": float(st[L.S_LONG_PRICE]),
        "short_size": float(st[L.S_SHORT_SIZE]),
        "short_price": float(st[L.S_SHORT_PRICE]),
        "n_decisions": int(w[B.E_N_DECISIONS]),
        "n_ideal_orders_calls": int(w[B.E_N_CALLS]),
        "fills_by_kind": {name: int((kinds == k).sum()) for k, name in enumerate(B.FILL_KIND_NAMES)},
    }


def side_stats(fills: np.ndarray) -> dict:
    """Per position side (long, short): fills, realised PnL and fees; profit factor of the closing fills
    (gross realised profit / gross realised loss, before fees; None without a losing close)."""
    out = {}
    pnl = fills[:, B.F_PNL]
    for name, side in (("long", 1.0), ("short", -1.0)):
        mine = fills[:, B.F_POS_SIDE] == side
        out[f"n_fills_{name}"] = int(mine.sum())
        out[f"pnl_{name}"] = float(pnl[mine].sum())
        out[f"fees_{name}"] = float(fills[mine, B.F_FEE].sum())
    wins, losses = float(pnl[pnl > 0].sum()), -float(pnl[pnl < 0].sum())
    out["profit_factor"] = wins / losses if losses > 0 else None
    return out


def daily_table(fills: np.ndarray, samples: np.ndarray, starting_balance: float) -> list[dict]:
    """One row per UTC day the replay covered: date, realised pnl, fees, fills, equity at the day's last
    sample, and the day's deepest drawdown from the running equity peak (sampled curve, peak counting the
    starting balance)."""
    if not len(samples):
        return []
    t, eq = samples[:, B.SM_T], samples[:, B.SM_EQUITY]
    peak = np.maximum.accumulate(np.maximum(eq, starting_balance))
    dd = 1.0 - eq / peak
    day_of = (t // DAY_MS).astype(np.int64)
    fill_day = (fills[:, B.F_T] // DAY_MS).astype(np.int64)
    rows = []
    for d in np.unique(day_of):
        in_day, f = day_of == d, fill_day == d
        rows.append({
            "date": str(np.datetime64(int(d), "D")),
            "pnl": float(fills[f, B.F_PNL].sum()),
            "fees": float(fills[f, B.F_FEE].sum()),
            "fills": int(f.sum()),
            "equity": float(eq[in_day][-1]),
            "drawdown": float(dd[in_day].max()),
        })
    return rows


def risk_stats(daily: list[dict], samples: np.ndarray, starting_balance: float, inverse: bool) -> dict:
    """Sharpe and Sortino ratios of the daily equity returns (annualised with sqrt(365); None with fewer
    than two days or no variation), the longest time equity spent below its running peak (hours, sampled
    curve), and buy-and-hold over the replayed span: the price change, and what holding the starting
    balance in the coin would have gained in the balance's currency (inverse: the balance is the coin, 0)."""
    equity = np.array([starting_balance] + [r["equity"] for r in daily])
    returns = equity[1:] / equity[:-1] - 1.0 if len(equity) > 1 else np.zeros(0)
    sharpe = sortino = None
    if len(returns) >= 2:
        std = float(returns.std(ddof=1))
        down = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
        mean = float(returns.mean())
        sharpe = mean / std * np.sqrt(365.0) if std > 0 else None
        sortino = mean / down * np.sqrt(365.0) if down > 0 else None
    t, eq = samples[:, B.SM_T], samples[:, B.SM_EQUITY]
    longest = 0.0
    if len(samples):
        peak = np.maximum.accumulate(np.maximum(eq, starting_balance))
        under = eq < peak
        start = None
        for k in range(len(eq)):  # a few thousand samples
            if under[k] and start is None:
                start = t[k - 1] if k else t[k]
            elif not under[k] and start is not None:
                longest, start = max(longest, t[k] - start), None
        if start is not None:
            longest = max(longest, t[-1] - start)
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
