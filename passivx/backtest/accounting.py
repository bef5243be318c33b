"""Position and balance accounting of fills, equity and the liquidation trigger (linear and inverse,
through `passivx.calc.contracts`). Classic configs are one-way (one net position), modes hedge."""
import math

from passivx.calc.contracts import liquidation_price, new_position, pnl, qty_to_cost
from passivx.calc.jit import jit
from passivx.calc.layout import (
    M_MM_RATE, S_BALANCE, S_LONG_PRICE, S_LONG_SIZE, S_SHORT_PRICE, S_SHORT_SIZE,
)
from passivx.backtest.layout import E_EQ_DIR, E_LIQ, E_LIQ_S, E_LIQ_X


@jit
def apply_fill(st, mkt, one_way: bool, side: float, pos_side: float, reduce_only: bool, price: float,
               qty: float, fee_rate: float):
    """Fill `qty` at `price` (side +1 buy / -1 sell) into the state; return (qty filled, pnl, fee).

    A reduce-only order never grows or flips a position: it is cut to the position, and fills nothing
    when there is nothing to reduce. The balance takes the realised PnL minus the fee."""
    if one_way:
        if st[S_LONG_SIZE] > 0.0:
            size, pos_price = st[S_LONG_SIZE], st[S_LONG_PRICE]
        else:
            size, pos_price = st[S_SHORT_SIZE], st[S_SHORT_PRICE]
        opposite = size * side < 0.0
    else:
        i = S_LONG_SIZE if pos_side > 0.0 else S_SHORT_SIZE
        size, pos_price = st[i], st[i + 1]
        opposite = side != pos_side
    if opposite and reduce_only:
        qty = min(qty, abs(size))
    if qty <= 0.0 or (reduce_only and not opposite):
        return 0.0, 0.0, 0.0
    closed = min(qty, abs(size)) if opposite else 0.0
    realised = pnl(size, pos_price, price, closed, mkt) if closed > 0.0 else 0.0
    new_size, new_price = new_position(size, pos_price, side * qty, price, mkt)
    if one_way:
        st[S_LONG_SIZE], st[S_LONG_PRICE] = (new_size, new_price) if new_size > 0.0 else (0.0, 0.0)
        st[S_SHORT_SIZE], st[S_SHORT_PRICE] = (new_size, new_price) if new_size < 0.0 else (0.0, 0.0)
    else:
        st[i], st[i + 1] = new_size, new_price
    fee = qty_to_cost(qty, price, mkt) * fee_rate
    st[S_BALANCE] += realised - fee
    return qty, realised, fee


@jit
def upnl(st, mkt, price: float) -> float:
    """Unrealised PnL of both positions marked at `price`."""
    total = 0.0
    if st[S_LONG_SIZE] != 0.0:
        total += pnl(st[S_LONG_SIZE], st[S_LONG_PRICE], price, st[S_LONG_SIZE], mkt)
    if st[S_SHORT_SIZE] != 0.0:
        total += pnl(st[S_SHORT_SIZE], st[S_SHORT_PRICE], price, st[S_SHORT_SIZE], mkt)
    return total


@jit
def equity(st, mkt, price: float) -> float:
    """Balance plus unrealised PnL at `price`."""
    return st[S_BALANCE] + upnl(st, mkt, price)


@jit
def margin_excess(st, mkt, price: float) -> float:
    """Equity minus maintenance margin at `price`; liquidation where it reaches zero."""
    notional = qty_to_cost(st[S_LONG_SIZE], price, mkt) + qty_to_cost(st[S_SHORT_SIZE], price, mkt)
    return equity(st, mkt, price) - mkt[M_MM_RATE] * notional


@jit
def refresh_risk(st, mkt, es) -> None:
    """After a position or balance change: liquidation price and the side it triggers on, and the
    direction equity moves with price (equity is monotone in price while the position is constant)."""
    liq = liquidation_price(st[S_BALANCE], st[S_LONG_SIZE], st[S_LONG_PRICE], st[S_SHORT_SIZE],
                            st[S_SHORT_PRICE], mkt)
    net = st[S_LONG_SIZE] + st[S_SHORT_SIZE]
    es[E_EQ_DIR] = 1.0 if net > 0.0 else (-1.0 if net < 0.0 else 0.0)
    if liq > 0.0 and math.isfinite(liq):
        es[E_LIQ] = liq
        es[E_LIQ_S] = 1.0 if margin_excess(st, mkt, liq * 1.01) > 0.0 else -1.0
        es[E_LIQ_X] = liq * es[E_LIQ_S]
    else:
        es[E_LIQ] = 0.0
        es[E_LIQ_S] = 1.0
        es[E_LIQ_X] = -math.inf
