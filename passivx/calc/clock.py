"""Clock mode (STRATEGY.md §3 "Clock mode"): no grid, one entry and one close per side, each on a timer.

Bids (long entry, short close) sit at `min(best_bid, round_dn(lower*(1-ema_dist)))`, asks (short entry,
long close) at `max(best_ask, round_up(upper*(1+ema_dist)))`, with the `_entry` or `_close` parameters.
An order is due when `now - last fill of its kind > delay` (strict), where
`delay = max(60 000, minutes*60 000*min(1, 1 - d*delay_weight))`, `d = P/best_bid - 1` for bids and
`best_ask/P - 1` for asks: the weight can shorten the delay, never lengthen it.
"""
from passivx.calc.contracts import cost_to_qty, min_entry_qty, new_position, wallet_exposure, we_if_filled
from passivx.calc.crop import crop_qty, ema_band, side_position, side_timers
from passivx.calc.jit import jit
from passivx.calc.layout import (
    K_CLOSE, K_ENTRY, M_PRICE_STEP, M_QTY_STEP, MIN_DELAY_MS, P_DELAY_CLOSE, P_DELAY_ENTRY, P_DELAY_WEIGHT_CLOSE,
    P_DELAY_WEIGHT_ENTRY, P_EMA_DIST_CLOSE, P_EMA_DIST_ENTRY, P_QTY_PCT_CLOSE, P_QTY_PCT_ENTRY,
    P_WE_MULT_CLOSE, P_WE_MULT_ENTRY, P_WEL, S_BALANCE, S_BEST_ASK, S_BEST_BID, S_NOW_MS,
)
from passivx.calc.orders import put
from passivx.calc.rounding import round_, round_dn, round_up
from passivx.calc.takeprofit import put_close


@jit
def clock_price(mkt, st, side: int, order_side: int, ema_dist: float) -> float:
    """Price of a clock bid (`order_side` +1) or ask (-1) of `side`, clamped to the book."""
    lower, upper = ema_band(st, side)
    if order_side > 0:
        return min(st[S_BEST_BID], round_dn(lower * (1.0 - ema_dist), mkt[M_PRICE_STEP]))
    return max(st[S_BEST_ASK], round_up(upper * (1.0 + ema_dist), mkt[M_PRICE_STEP]))


@jit
def clock_delay(minutes: float, weight: float, order_side: int, pos_price: float, best_bid: float,
                best_ask: float) -> float:
    """Delay in ms before the next bid (`order_side` +1) or ask (-1) of a position at `pos_price`."""
    if order_side > 0:
        d = pos_price / best_bid - 1.0 if best_bid > 0.0 else 0.0
    else:
        d = best_ask / pos_price - 1.0 if pos_price > 0.0 else 0.0
    return max(MIN_DELAY_MS, minutes * 60_000.0 * min(1.0, 1.0 - d * weight))


@jit
def clock_qty(cfg, base: int, mkt, balance: float, we: float, price: float, close: bool) -> float:
    """`max(min_entry_qty(price), round_(cost_to_qty(W*WEL*qty_pct*(1 + (WE/WEL)*we_multiplier), price)))`
    with the `_close` or `_entry` parameters."""
    wel = cfg[base + P_WEL]
    ratio = we / wel if wel > 0.0 else 0.0
    pct = cfg[base + (P_QTY_PCT_CLOSE if close else P_QTY_PCT_ENTRY)]
    we_mult = cfg[base + (P_WE_MULT_CLOSE if close else P_WE_MULT_ENTRY)]
    cost = balance * wel * pct * (1.0 + ratio * we_mult)
    return max(min_entry_qty(price, mkt), round_(cost_to_qty(cost, price, mkt), mkt[M_QTY_STEP]))


@jit
def clock_entries(cfg, base: int, mkt, st, side: int, out, n: int) -> int:
    """Write the side's clock entry (if due) at row `n`; return the new row count.

    Due when the side is flat (timer ignored) or its entry timer is up, and only while WE < 0.99*WEL.
    A qty that would take WE past 1.01*WEL is cropped to WEL (at least min qty; none if the crop is 0)."""
    balance = st[S_BALANCE]
    wel = cfg[base + P_WEL]
    size, pos_price = side_position(st, side)
    we = wallet_exposure(size, pos_price, balance, mkt)
    if balance <= 0.0 or not we < 0.99 * wel:
        return n
    price = clock_price(mkt, st, side, side, cfg[base + P_EMA_DIST_ENTRY])
    if price < mkt[M_PRICE_STEP]:
        return n
    if size != 0.0:
        delay = clock_delay(cfg[base + P_DELAY_ENTRY], cfg[base + P_DELAY_WEIGHT_ENTRY], side, pos_price,
                            st[S_BEST_BID], st[S_BEST_ASK])
        if not st[S_NOW_MS] - side_timers(st, side)[0] > delay:
            return n
    qty = clock_qty(cfg, base, mkt, balance, we, price, False)
    if we_if_filled(size, pos_price, side * qty, price, balance, mkt) > 1.01 * wel:
        crop = crop_qty(side, wel, size, pos_price, price, balance, mkt)
        if crop <= 0.0:
            return n
        qty = max(min_entry_qty(price, mkt), crop)
    size, pos_price = new_position(size, pos_price, side * qty, price, mkt)
    return put(out, n, side, side, K_ENTRY, price, qty, False, size, pos_price,
               wallet_exposure(size, pos_price, balance, mkt))


@jit
def clock_close(cfg, base: int, mkt, st, side: int, out, n: int) -> int:
    """Write the side's clock close (if its timer is up) at row `n`; return the new row count.

    Qty `min(|Q|, clock qty)`, or all of |Q| when `round_(|Q| - qty) < min_entry_qty(price)`."""
    size, pos_price = side_position(st, side)
    if size == 0.0:
        return n
    price = clock_price(mkt, st, side, -side, cfg[base + P_EMA_DIST_CLOSE])
    if price < mkt[M_PRICE_STEP]:
        return n
    delay = clock_delay(cfg[base + P_DELAY_CLOSE], cfg[base + P_DELAY_WEIGHT_CLOSE], -side, pos_price,
                        st[S_BEST_BID], st[S_BEST_ASK])
    if not st[S_NOW_MS] - side_timers(st, side)[1] > delay:
        return n
    balance = st[S_BALANCE]
    we = wallet_exposure(size, pos_price, balance, mkt)
    qty = clock_qty(cfg, base, mkt, balance, we, price, True)
    a = abs(size)
    q = a if round_(a - qty, mkt[M_QTY_STEP]) < min_entry_qty(price, mkt) else min(a, qty)
    return put_close(out, n, side, K_CLOSE, price, q, size, pos_price, balance, mkt)[0]
