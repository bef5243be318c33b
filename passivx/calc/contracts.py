"""Linear and inverse contract math, position averaging, exposure, bankruptcy and liquidation
(STRATEGY.md §1). Sizes are signed (long > 0, short < 0); `mkt` is the market vector."""
import math

from passivx.calc.jit import jit
from passivx.calc.layout import (
    M_C_MULT, M_INVERSE, M_MIN_COST, M_MIN_QTY, M_MM_RATE, M_QTY_STEP,
)
from passivx.calc.rounding import round_, round_up


@jit
def qty_to_cost(qty: float, price: float, mkt) -> float:
    """Cost of `qty` contracts at `price`: quote currency (linear) or coin (inverse)."""
    if mkt[M_INVERSE] != 0.0:
        return abs(qty) * mkt[M_C_MULT] / price if price > 0.0 else 0.0
    return abs(qty) * price * mkt[M_C_MULT]


@jit
def cost_to_qty(cost: float, price: float, mkt) -> float:
    """Contracts bought by `cost` at `price` (unrounded)."""
    if mkt[M_INVERSE] != 0.0:
        return cost * price / mkt[M_C_MULT]
    return cost / (price * mkt[M_C_MULT]) if price > 0.0 else 0.0


@jit
def min_entry_qty(price: float, mkt) -> float:
    """Smallest order the exchange accepts at `price`: at least one qty step (a market without a minimum,
    `min_qty = min_cost = 0`, still trades whole steps)."""
    if mkt[M_INVERSE] != 0.0:
        return max(mkt[M_MIN_QTY], mkt[M_QTY_STEP])
    return max(mkt[M_MIN_QTY], mkt[M_QTY_STEP], round_up(mkt[M_MIN_COST] / (price * mkt[M_C_MULT]), mkt[M_QTY_STEP]))


@jit
def min_entry_qty_bound(price: float, mkt) -> float:
    """A number >= `min_entry_qty(price)`, without its rounding (a rounded-up value exceeds its argument by
    less than a step): a qty at least this large needs no comparison with the exact minimum."""
    if mkt[M_INVERSE] != 0.0:
        return max(mkt[M_MIN_QTY], mkt[M_QTY_STEP])
    return max(mkt[M_MIN_QTY], mkt[M_MIN_COST] / (price * mkt[M_C_MULT]) + mkt[M_QTY_STEP]) * (1.0 + 1e-9) + 1e-9


@jit
def new_position(size: float, price: float, qty: float, fill_price: float, mkt):
    """Position (size, price) after adding signed `qty` at `fill_price`.

    Same direction: size-weighted mean (linear) or harmonic mean (inverse). A reduction keeps the price;
    a flip takes the fill price; a close to zero gives (0, 0)."""
    new_size = round_(size + qty, mkt[M_QTY_STEP])
    if new_size == 0.0:
        return 0.0, 0.0
    if size == 0.0 or (size > 0.0) != (new_size > 0.0):
        return new_size, fill_price
    if abs(new_size) < abs(size):
        return new_size, price
    if mkt[M_INVERSE] != 0.0:
        return new_size, new_size / (size / price + qty / fill_price)
    return new_size, (size * price + qty * fill_price) / new_size


@jit
def wallet_exposure(size: float, price: float, balance: float, mkt) -> float:
    """Position cost over balance."""
    if balance <= 0.0:
        return math.inf if size != 0.0 else 0.0
    return qty_to_cost(size, price, mkt) / balance


@jit
def we_if_filled(size: float, price: float, qty: float, fill_price: float, balance: float, mkt) -> float:
    """Wallet exposure after a hypothetical fill of signed `qty` at `fill_price`."""
    new_size, new_price = new_position(size, price, qty, fill_price, mkt)
    return wallet_exposure(new_size, new_price, balance, mkt)


@jit
def pnl(size: float, pos_price: float, close_price: float, qty: float, mkt) -> float:
    """Realised PnL of closing `qty` (magnitude) of a position of sign `size` at `close_price`."""
    c = mkt[M_C_MULT]
    q = abs(qty)
    if mkt[M_INVERSE] != 0.0:
        if size > 0.0:
            return q * c * (1.0 / pos_price - 1.0 / close_price)
        return q * c * (1.0 / close_price - 1.0 / pos_price)
    if size > 0.0:
        return q * c * (close_price - pos_price)
    return q * c * (pos_price - close_price)


@jit
def _cross_price(balance: float, long_size: float, long_price: float, short_size: float,
                 short_price: float, mm: float, mkt) -> float:
    """Price at which equity equals `mm` times the notional (mm=0: bankruptcy). 0.0 when none."""
    c = mkt[M_C_MULT]
    ql = abs(long_size) * c
    qs = abs(short_size) * c
    if ql == 0.0 and qs == 0.0:
        return 0.0
    if mkt[M_INVERSE] != 0.0:
        num = (qs - ql) - mm * (ql + qs)
        den = (qs / short_price if qs > 0.0 else 0.0) - (ql / long_price if ql > 0.0 else 0.0) - balance
    else:
        num = (ql * long_price if ql > 0.0 else 0.0) - (qs * short_price if qs > 0.0 else 0.0) - balance
        den = (ql - qs) - mm * (ql + qs)
    if den == 0.0:
        return 0.0
    p = num / den
    return p if p > 0.0 else 0.0


@jit
def bankruptcy_price(balance: float, long_size: float, long_price: float, short_size: float,
                     short_price: float, mkt) -> float:
    """Price at which equity reaches zero (cross margin, both sides); 0.0 when there is none."""
    return _cross_price(balance, long_size, long_price, short_size, short_price, 0.0, mkt)


@jit
def liquidation_price(balance: float, long_size: float, long_price: float, short_size: float,
                      short_price: float, mkt) -> float:
    """Price at which equity falls to the maintenance margin (cross margin); 0.0 when there is none."""
    return _cross_price(balance, long_size, long_price, short_size, short_price, mkt[M_MM_RATE], mkt)
