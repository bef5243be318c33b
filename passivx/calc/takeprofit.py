"""The take-profit grid of the modes (STRATEGY.md §3 "Take-profit grid"): frontwards and backwards_tp; its
linspace and price rounding (`keep_tp_prices`) serve the classic grid too."""
import numpy as np

from passivx.calc.contracts import cost_to_qty, min_entry_qty, min_entry_qty_bound, new_position, wallet_exposure
from passivx.calc.jit import jit
from passivx.calc.layout import (
    K_CLOSE, M_MIN_QTY, M_PRICE_STEP, M_QTY_STEP, P_BACKWARDS_TP, P_MARKUP_RANGE, P_MIN_MARKUP,
    P_N_CLOSE_ORDERS, P_WEL,
)
from passivx.calc.orders import put
from passivx.calc.rounding import iround, round_, round_dn, round_up
from passivx.calc.scratch import scratch


@jit
def linspace_step(a: float, b: float, n: int) -> float:
    """The `step` of `linspace_point`: `(b - a) / (n - 1)`, 0.0 when n <= 1."""
    return (b - a) / (n - 1) if n > 1 else 0.0


@jit
def linspace_point(a: float, b: float, n: int, step: float, i: int) -> float:
    """Point `i` of `np.linspace(a, b, n)` with NumPy's arithmetic: `i*step + a`, the last point exactly `b`,
    a single point `a`; `step` is `linspace_step(a, b, n)`. The one linspace of the calculator."""
    if i == 0 and n == 1:
        return a
    if i == n - 1:
        return b
    return i * step + a


@jit
def round_close(price: float, side: int, step: float) -> float:
    """Round a close price away from the position: long asks up, short bids down."""
    return round_up(price, step) if side > 0 else round_dn(price, step)


@jit
def _tp_points(cfg, base: int, mkt, side: int, pos_price: float, balance: float):
    """(first, last, n) of the side's unrounded take-profit points `linspace(first, last, n)`; backwards_tp
    uses `n = max(1, round(min(n_close_orders, full / min_entry_qty(P))))`."""
    if cfg[base + P_BACKWARDS_TP] != 0.0:
        full = cost_to_qty(balance * cfg[base + P_WEL], pos_price, mkt)
        n = max(1, iround(min(cfg[base + P_N_CLOSE_ORDERS], full / min_entry_qty(pos_price, mkt))))
    else:
        n = iround(cfg[base + P_N_CLOSE_ORDERS])
    lo = cfg[base + P_MIN_MARKUP]
    a = pos_price * (1.0 + side * lo)
    b = pos_price * (1.0 + side * (lo + cfg[base + P_MARKUP_RANGE]))
    return a, b, max(n, 0)


@jit
def keep_tp_prices(mkt, side: int, a: float, b: float, n: int, dedupe: bool, best_bid: float, best_ask: float,
                   kept):
    """Round the `n` points of `linspace(a, b, n)` away from the position (`round_close`), drop repeats when
    `dedupe`, and write those that do not cross the book (long >= best_ask, short <= best_bid, > 0) into `kept`
    (size >= n), nearest first. Return (k kept, number of prices before the book filter)."""
    step = linspace_step(a, b, n)
    k = 0
    n_all = 0
    prev = np.nan
    for i in range(n):
        p = round_close(linspace_point(a, b, n, step, i), side, mkt[M_PRICE_STEP])
        if dedupe and p == prev:
            continue
        prev = p
        n_all += 1
        if _keeps(side, p, best_bid, best_ask):
            kept[k] = p
            k += 1
    return k, n_all


@jit
def _keeps(side: int, p: float, best_bid: float, best_ask: float) -> bool:
    """Whether take-profit price `p` does not cross the book (long >= best_ask, short <= best_bid and > 0)."""
    return (side > 0 and p >= best_ask) or (side < 0 and 0.0 < p <= best_bid)


@jit
def first_tp_price(cfg, base: int, mkt, side: int, pos_price: float, balance: float, best_bid: float,
                   best_ask: float) -> float:
    """The nearest kept price of `tp_prices` (its first), NaN when none is kept; allocates nothing."""
    a, b, n = _tp_points(cfg, base, mkt, side, pos_price, balance)
    step = linspace_step(a, b, n)
    for i in range(n):
        p = round_close(linspace_point(a, b, n, step, i), side, mkt[M_PRICE_STEP])
        if _keeps(side, p, best_bid, best_ask):
            return p
    return np.nan


@jit
def tp_prices(cfg, base: int, mkt, side: int, pos_price: float, balance: float, best_bid: float,
              best_ask: float, memo):
    """(kept prices nearest first, k kept, number of distinct prices) of the side's take-profit grid.

    Kept prices do not cross the book (long >= best_ask, short <= best_bid, > 0). Frontwards keeps duplicate
    prices; backwards_tp uses `n = max(1, round(min(n_close_orders, full / min_entry_qty(P))))` points and
    de-duplicates them. The prices are written in `memo`'s scratch space where it fits (valid until its
    next use)."""
    a, b, n = _tp_points(cfg, base, mkt, side, pos_price, balance)
    kept = scratch(memo, n)
    k, n_all = keep_tp_prices(mkt, side, a, b, n, cfg[base + P_BACKWARDS_TP] != 0.0, best_bid, best_ask, kept)
    return kept, k, n_all


@jit
def put_close(out, n: int, side: int, kind: int, price: float, qty: float, size: float, pos_price: float,
              balance: float, mkt):
    """Write a reduce-only close of `qty` at `price` for a position `size`; return (n, size after)."""
    after, after_price = new_position(size, pos_price, -side * qty, price, mkt)
    n = put(out, n, -side, side, kind, price, qty, True, after, after_price,
            wallet_exposure(after, after_price, balance, mkt))
    return n, after


@jit
def _frontwards(mkt, prices, k: int, q: float, qtys) -> None:
    """Equal shares of `q` from the nearest price out; the farthest takes the rest (STRATEGY §3)."""
    step = mkt[M_QTY_STEP]
    d = round_dn(q / k, step)
    rem = q
    last = -1
    for i in range(k - 1):
        if min(rem, d) >= min_entry_qty_bound(prices[i], mkt):  # both at least the minimum: no need for it
            c = min(rem, d)
        else:
            mq = min_entry_qty(prices[i], mkt)
            if rem < mq:
                break
            c = min(rem, max(mq, d))
        qtys[i] = c
        rem = round_(rem - c, step)
        last = i
    if rem >= min_entry_qty(prices[k - 1], mkt):
        qtys[k - 1] = rem
    elif last >= 0:
        qtys[last] = round_(qtys[last] + rem, step)


@jit
def _backwards(mkt, prices, k: int, n_all: int, q: float, full: float, qtys) -> None:
    """Fixed shares of the full position from the farthest price in; the rest onto the nearest placed."""
    step = mkt[M_QTY_STEP]
    per = max(mkt[M_MIN_QTY], round_up(full / n_all, step))
    rem = q
    last = -1
    for i in range(k - 1, -1, -1):
        mq = min_entry_qty(prices[i], mkt)
        c = min(rem, max(per, mq))
        if c < mq:
            if last < 0:
                last = i
            qtys[last] = round_(qtys[last] + rem, step)
            rem = 0.0
            break
        qtys[i] = c
        rem = round_(rem - c, step)
        last = i
    if rem > 0.0 and last >= 0:
        qtys[last] = round_(qtys[last] + rem, step)


@jit
def tp_grid(cfg, base: int, mkt, side: int, size: float, pos_price: float, balance: float, best_bid: float,
            best_ask: float, out, n: int, memo) -> int:
    """Write the take-profit closes (K_CLOSE, reduce-only, nearest price first) of `size` (signed) and
    return the new row count. With no kept price: all of it at the top of the book. `memo`: scratch space
    (`entry.new_memo()`, or empty)."""
    q = round_dn(abs(size), mkt[M_QTY_STEP])
    if q == 0.0:
        return n
    size = side * q
    a, b, n_points = _tp_points(cfg, base, mkt, side, pos_price, balance)
    buf = scratch(memo, 2 * n_points)  # kept prices, then their qtys
    buf[:] = 0.0
    prices = buf[:n_points]
    k, n_all = keep_tp_prices(mkt, side, a, b, n_points, cfg[base + P_BACKWARDS_TP] != 0.0, best_bid, best_ask,
                              prices)
    if k == 0:
        n, _ = put_close(out, n, side, K_CLOSE, best_ask if side > 0 else best_bid, q, size, pos_price,
                         balance, mkt)
        return n
    qtys = buf[n_points:n_points + k]
    if k == 1:
        if q >= min_entry_qty(prices[0], mkt):
            qtys[0] = q
    elif cfg[base + P_BACKWARDS_TP] != 0.0:
        full = cost_to_qty(balance * cfg[base + P_WEL], pos_price, mkt)
        _backwards(mkt, prices, k, n_all, q, full, qtys)
    else:
        _frontwards(mkt, prices, k, q, qtys)
    for i in range(k):
        if qtys[i] > 0.0:
            n, size = put_close(out, n, side, K_CLOSE, prices[i], qtys[i], size, pos_price, balance, mkt)
    return n
