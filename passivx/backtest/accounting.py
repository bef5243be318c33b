"""Position and balance accounting of fills, equity and the liquidation trigger (linear and inverse,
through `passivx.calc.contracts`). The fill rules and the accounting of one fill are shared with paper
trading: `passivx.calc.fills` (re-exported here)."""
import math

from passivx.calc.contracts import liquidation_price, qty_to_cost
from passivx.calc.fills import apply_fill, equity, upnl  # noqa: F401 - the backtester's names for them
from passivx.calc.jit import jit
from passivx.calc.layout import M_MM_RATE, S_BALANCE, S_LONG_PRICE, S_LONG_SIZE, S_SHORT_PRICE, S_SHORT_SIZE
from passivx.backtest.layout import E_EQ_DIR, E_LIQ, E_LIQ_S, E_LIQ_X


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
