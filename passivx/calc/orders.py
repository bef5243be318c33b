"""Writing rows of the ideal-order table (see `layout`)."""
from passivx.calc.jit import jit
from passivx.calc.layout import (
    MAX_ORDERS, O_KIND, O_POS_PRICE_AFTER, O_POS_SIDE, O_POS_SIZE_AFTER, O_PRICE, O_QTY, O_REDUCE_ONLY,
    O_SIDE, O_WE_AFTER,
)


@jit
def put(out, n: int, side: float, pos_side: float, kind: int, price: float, qty: float, reduce_only: bool,
        size_after: float, price_after: float, we_after: float) -> int:
    """Write one order at row `n` and return `n + 1` (rows past `MAX_ORDERS` are dropped)."""
    if n >= MAX_ORDERS:
        return n
    out[n, O_SIDE] = side
    out[n, O_POS_SIDE] = pos_side
    out[n, O_KIND] = kind
    out[n, O_PRICE] = price
    out[n, O_QTY] = qty
    out[n, O_REDUCE_ONLY] = 1.0 if reduce_only else 0.0
    out[n, O_POS_SIZE_AFTER] = size_after
    out[n, O_POS_PRICE_AFTER] = price_after
    out[n, O_WE_AFTER] = we_after
    return n + 1
