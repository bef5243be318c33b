"""The fill rules one resting order and one print obey, shared by the backtester (`passivx.backtest`) and
paper trading (`passivx.live.paper`), so both fill the same orders at the same prices:

- `crosses`: a bid fills when a trade prints strictly below its price, an ask strictly above; the fill is
  at the order's price with the maker fee (a market order: at the next print, taker fee);
- `apply_fill`: the position and balance after a fill (reduce-only never grows or flips a position;
  classic configs are one-way, the modes hedge), through `passivx.calc.contracts`;
- `upnl`, `equity`: unrealised PnL and equity marked at a price.
"""
from passivx.calc.contracts import new_position, pnl, qty_to_cost
from passivx.calc.jit import jit
from passivx.calc.layout import S_BALANCE, S_LONG_PRICE, S_LONG_SIZE, S_SHORT_PRICE, S_SHORT_SIZE


@jit
def crosses(side: float, order_price: float, trade_price: float) -> bool:
    """True when a print at `trade_price` fills a resting limit order of `side` (+1 bid, -1 ask)."""
    if side > 0.0:
        return trade_price < order_price
    return trade_price > order_price


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
