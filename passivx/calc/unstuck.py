"""Auto-unstuck (STRATEGY.md §3 "Auto-unstuck close"): the timed and legacy close, and the switch that
decides whether recursive mode also places legacy unstuck entries."""
import math

from passivx.calc.contracts import cost_to_qty, min_entry_qty, wallet_exposure
from passivx.calc.crop import close_qty_to_target, ema_band, side_position, side_timers
from passivx.calc.jit import jit
from passivx.calc.layout import (
    C_LONG, C_SHORT, K_UNSTUCK, M_PRICE_STEP, M_QTY_STEP, MIN_DELAY_MS, P_AU_DELAY_MINUTES, P_AU_EMA_DIST,
    P_AU_QTY_PCT, P_AU_THRESHOLD, P_WEL, S_BALANCE, S_BEST_ASK, S_BEST_BID, S_NOW_MS,
)
from passivx.calc.rounding import round_, round_dn, round_up
from passivx.calc.takeprofit import first_tp_price, put_close


@jit
def legacy_unstuck(cfg) -> bool:
    """True when neither side sets auto_unstuck_delay_minutes or auto_unstuck_qty_pct (legacy mode)."""
    return (cfg[C_LONG + P_AU_DELAY_MINUTES] == 0.0 and cfg[C_LONG + P_AU_QTY_PCT] == 0.0
            and cfg[C_SHORT + P_AU_DELAY_MINUTES] == 0.0 and cfg[C_SHORT + P_AU_QTY_PCT] == 0.0)


@jit
def au_delay_ms(cfg, base: int) -> float:
    """Delay in ms of the side's timed auto-unstuck close, `max(MIN_DELAY_MS, delay minutes)`; 0.0 when the
    side has none: auto-unstuck off (threshold 0) or legacy (delay or qty_pct 0)."""
    delay = cfg[base + P_AU_DELAY_MINUTES]
    if cfg[base + P_AU_THRESHOLD] == 0.0 or delay == 0.0 or cfg[base + P_AU_QTY_PCT] == 0.0:
        return 0.0
    return max(MIN_DELAY_MS, delay * 60_000.0)


@jit
def _au_qty(cfg, base: int, mkt, st, side: int, q: float, size: float, pos_price: float, price: float,
            threshold_we: float) -> float:
    """Unrounded-to-min close qty of the timed or legacy mode (0.0: none due)."""
    balance = st[S_BALANCE]
    delay = au_delay_ms(cfg, base)
    if delay > 0.0:
        last = side_timers(st, side)[2]
        if not st[S_NOW_MS] - last > delay:
            return 0.0
        cost = balance * cfg[base + P_WEL] * cfg[base + P_AU_QTY_PCT]
        return min(q, max(min_entry_qty(price, mkt), round_(cost_to_qty(cost, price, mkt), mkt[M_QTY_STEP])))
    return close_qty_to_target(side, 1.01 * threshold_we, side * q, pos_price, price, balance, mkt)


@jit
def au_close(cfg, base: int, mkt, st, side: int, out, n: int):
    """Write the side's auto-unstuck close (K_UNSTUCK) if one is due; return (n, size left for the TP grid).

    Active when WE > WEL*(1 - threshold) and the AU price (upper band + dist for long, clamped to the
    book) is strictly nearer than the nearest kept TP price. A close leaving less than min qty closes all
    (size left 0); otherwise the left size is |Q| - q, signed."""
    size, pos_price = side_position(st, side)
    threshold = cfg[base + P_AU_THRESHOLD]
    step = mkt[M_QTY_STEP]
    q = round_dn(abs(size), step)
    if threshold == 0.0 or q == 0.0:
        return n, size
    balance = st[S_BALANCE]
    threshold_we = cfg[base + P_WEL] * (1.0 - threshold)
    if not wallet_exposure(size, pos_price, balance, mkt) > threshold_we:
        return n, size
    best_bid, best_ask = st[S_BEST_BID], st[S_BEST_ASK]
    nearest_tp = first_tp_price(cfg, base, mkt, side, pos_price, balance, best_bid, best_ask)
    if math.isnan(nearest_tp):
        return n, size
    lower, upper = ema_band(st, side)
    dist = cfg[base + P_AU_EMA_DIST]
    if side > 0:
        price = max(best_ask, round_up(upper * (1.0 + dist), mkt[M_PRICE_STEP]))
        if not price < nearest_tp:
            return n, size
    else:
        price = min(best_bid, round_dn(lower * (1.0 - dist), mkt[M_PRICE_STEP]))
        if not price > nearest_tp:
            return n, size
    qty = _au_qty(cfg, base, mkt, st, side, q, size, pos_price, price, threshold_we)
    if qty == 0.0:
        return n, size
    min_qty = min_entry_qty(price, mkt)
    qty = max(min_qty, qty)
    rest = round_(q - qty, step)
    if rest < min_qty:
        n, _ = put_close(out, n, side, K_UNSTUCK, price, q, side * q, pos_price, balance, mkt)
        return n, 0.0
    n, left = put_close(out, n, side, K_UNSTUCK, price, qty, side * q, pos_price, balance, mkt)
    return n, left
