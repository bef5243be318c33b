"""The simulated exchange's resting orders: the rows of one `ideal_orders` answer, minus the ones
filled since the bot decided them."""
import math

from passivx.calc.fills import crosses
from passivx.calc.jit import jit
from passivx.calc.layout import (
    C_MARKET_SL, C_MODE, K_STOP_LOSS, MODE_CLASSIC, O_KIND, O_POS_SIDE, O_PRICE, O_QTY, O_SIDE, O_SIZE,
)
from passivx.calc.rounding import iround
from passivx.backtest.layout import (
    BK_ALIVE, BK_FIXED, BK_MARKET, E_FILL_SEQ, RF_CAP, RF_MARKET, RF_POS_SIDE, RF_PRICE, RF_QTY, RF_SIDE,
)


@jit
def load_rows(cfg, out, n: int, bk) -> None:
    """Copy `n` order rows into the book, alive; a classic market stop loss is flagged as market."""
    market_sl = iround(cfg[C_MODE]) == MODE_CLASSIC and cfg[C_MARKET_SL] != 0.0
    for r in range(n):
        for c in range(O_SIZE):
            bk[r, c] = out[r, c]
        bk[r, BK_ALIVE] = 1.0
        bk[r, BK_MARKET] = 1.0 if market_sl and iround(out[r, O_KIND]) == K_STOP_LOSS else 0.0


@jit
def drop_filled(bk, n: int, rf, es, since_seq: float) -> None:
    """Remove the orders filled at or after fill number `since_seq` (the decision did not know of them):
    the same side, position side, qty and price, or for a market order any price."""
    seq = es[E_FILL_SEQ] - 1.0
    while seq >= since_seq and seq >= es[E_FILL_SEQ] - RF_CAP:
        f = int(seq) % RF_CAP
        for r in range(n):
            if (bk[r, BK_ALIVE] != 0.0 and bk[r, O_SIDE] == rf[f, RF_SIDE] and bk[r, O_POS_SIDE] == rf[f, RF_POS_SIDE]
                    and bk[r, O_QTY] == rf[f, RF_QTY] and bk[r, BK_MARKET] == rf[f, RF_MARKET]
                    and (bk[r, O_PRICE] == rf[f, RF_PRICE] or rf[f, RF_MARKET] != 0.0)):
                bk[r, BK_ALIVE] = 0.0
                break
        seq -= 1.0


@jit
def extremes(bk, n: int):
    """(highest bid, lowest ask) of the alive orders; a market buy counts as +inf, a market sell -inf."""
    hb, la = -math.inf, math.inf
    for r in range(n):
        if bk[r, BK_ALIVE] == 0.0:
            continue
        buy = bk[r, O_SIDE] > 0.0
        if bk[r, BK_MARKET] != 0.0:
            price = math.inf if buy else -math.inf
        else:
            price = bk[r, O_PRICE]
        if buy:
            hb = max(hb, price)
        else:
            la = min(la, price)
    return hb, la


@jit
def best_row(bk, n: int, side: float, limit: float, fixed_only: bool) -> int:
    """The alive limit order of `side` (only those flagged fixed if `fixed_only`) that a print at `limit`
    fills first (the highest bid above it, or the lowest ask below it), or -1."""
    best = -1
    for r in range(n):
        if (bk[r, BK_ALIVE] == 0.0 or bk[r, BK_MARKET] != 0.0 or bk[r, O_SIDE] != side
                or (fixed_only and bk[r, BK_FIXED] == 0.0)):
            continue
        price = bk[r, O_PRICE]
        if crosses(side, price, limit) and (best < 0 or (price > bk[best, O_PRICE] if side > 0.0
                                                          else price < bk[best, O_PRICE])):
            best = r
    return best


@jit
def market_row(bk, n: int) -> int:
    """An alive market order, or -1."""
    for r in range(n):
        if bk[r, BK_ALIVE] != 0.0 and bk[r, BK_MARKET] != 0.0:
            return r
    return -1
