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
