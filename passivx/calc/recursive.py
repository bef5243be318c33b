"""Recursive grid mode entries (STRATEGY.md §3 "Recursive entry", "Recursive whole grid"): each node is
computed as if the previous one had filled."""
from passivx.calc.contracts import cost_to_qty, min_entry_qty, new_position, wallet_exposure, we_if_filled
from passivx.calc.crop import crop_qty, ema_band, side_position
from passivx.calc.jit import jit
from passivx.calc.layout import (
    K_ENTRY, K_UNSTUCK, M_PRICE_STEP, M_QTY_STEP, P_AU_EMA_DIST, P_AU_THRESHOLD, P_DDOWN_FACTOR,
    P_INITIAL_EPRICE_EMA_DIST, P_INITIAL_QTY_PCT, P_RENTRY_PPRICE_DIST, P_RENTRY_WE_WEIGHT, P_WEL,
    S_BALANCE, S_BEST_ASK, S_BEST_BID,
)
from passivx.calc.orders import put
from passivx.calc.rounding import round_, round_dn, round_up
from passivx.calc.unstuck import legacy_unstuck

_MAX_NODES = 30


@jit
def initial_qty(cfg, base: int, mkt, balance: float, price: float) -> float:
    """The grid modes' `q0 = max(min_entry_qty(price), round_(cost_to_qty(W*WEL*initial_qty_pct, price)))`
    (STRATEGY §3; the classic `q0` is another rule: `classic.classic_initial_qty`)."""
    cost = balance * cfg[base + P_WEL] * cfg[base + P_INITIAL_QTY_PCT]
    return max(min_entry_qty(price, mkt), round_(cost_to_qty(cost, price, mkt), mkt[M_QTY_STEP]))


@jit
def initial_entry(cfg, base: int, mkt, st, side: int, best: float):
    """(q0, p0) of the side's initial entry, `best` being the best bid (long) or ask (short) to clamp to.
    qty 0.0 when there is none (WEL 0, or a long price that would be price_step)."""
    ps = mkt[M_PRICE_STEP]
    lower, upper = ema_band(st, side)
    dist = cfg[base + P_INITIAL_EPRICE_EMA_DIST]
    if side > 0:
        price = max(ps, min(best, round_dn(lower * (1.0 - dist), ps)))
        if price == ps:
            return 0.0, price
    else:
        price = max(best, round_up(upper * (1.0 + dist), ps))
    if cfg[base + P_WEL] == 0.0:
        return 0.0, price
    return initial_qty(cfg, base, mkt, st[S_BALANCE], price), price


@jit
def _reentry_price(cfg, base: int, mkt, side: int, we: float, pos_price: float) -> float:
    """Re-entry price before the book clamp: P*(1 -/+ dist*(1 + WE/WEL*weighting)), rounded outward."""
    ratio = we / cfg[base + P_WEL]
    d = cfg[base + P_RENTRY_PPRICE_DIST] * (1.0 + ratio * cfg[base + P_RENTRY_WE_WEIGHT])
    if side > 0:
        return round_dn(pos_price * (1.0 - d), mkt[M_PRICE_STEP])
    return round_up(pos_price * (1.0 + d), mkt[M_PRICE_STEP])


@jit
def _reentry_qty(cfg, base: int, mkt, size: float, price: float, balance: float) -> float:
    """max(min qty, round_(max(|Q|*ddown_factor, initial cost in contracts)))."""
    cost = balance * cfg[base + P_WEL] * cfg[base + P_INITIAL_QTY_PCT]
    raw = max(abs(size) * cfg[base + P_DDOWN_FACTOR], cost_to_qty(cost, price, mkt))
    return max(min_entry_qty(price, mkt), round_(raw, mkt[M_QTY_STEP]))


@jit
def _next_too_small(cfg, base: int, mkt, side: int, size: float, pos_price: float, we: float,
                    balance: float) -> bool:
    """Whether the node after a fill leaving (size, pos_price) at exposure `we` (no book clamp) would
    bring WE past 1.2*WEL."""
    nprice = _reentry_price(cfg, base, mkt, side, we, pos_price)
    if nprice <= mkt[M_PRICE_STEP]:
        return False
    nqty = _reentry_qty(cfg, base, mkt, size, nprice, balance)
    return we_if_filled(size, pos_price, side * nqty, nprice, balance, mkt) > 1.2 * cfg[base + P_WEL]


@jit
def _node(side: int, qty: float, price: float, kind: int, size: float, pos_price: float, balance: float,
          mkt):
    """(qty, price, kind, size, pos_price, WE) of a node, the last three after it fills."""
    size, pos_price = new_position(size, pos_price, side * qty, price, mkt)
    return qty, price, kind, size, pos_price, wallet_exposure(size, pos_price, balance, mkt)


@jit
def entry_node(cfg, base: int, mkt, st, side: int, size: float, pos_price: float, best: float,
               legacy: bool):
    """(qty, price, kind, size, pos_price, WE) of the next recursive entry for a position
    (size, pos_price), the last three after it fills; qty 0.0: none (the rest 0 too).
    kind is K_UNSTUCK for a legacy unstuck entry, else K_ENTRY."""
    balance = st[S_BALANCE]
    wel = cfg[base + P_WEL]
    q0, p0 = initial_entry(cfg, base, mkt, st, side, best)
    if q0 == 0.0:
        return 0.0, 0.0, K_ENTRY, 0.0, 0.0, 0.0
    a = abs(size)
    if a == 0.0:
        return _node(side, q0, p0, K_ENTRY, size, pos_price, balance, mkt)
    if a < 0.8 * q0:
        qty = max(min_entry_qty(p0, mkt), round_(q0 - a, mkt[M_QTY_STEP]))
        return _node(side, qty, p0, K_ENTRY, size, pos_price, balance, mkt)
    we = wallet_exposure(size, pos_price, balance, mkt)
    if we >= 0.999 * wel:
        return 0.0, 0.0, K_ENTRY, 0.0, 0.0, 0.0
    ps = mkt[M_PRICE_STEP]
    threshold = cfg[base + P_AU_THRESHOLD]
    if legacy and threshold != 0.0 and we > 0.99 * wel * (1.0 - threshold):
        lower, upper = ema_band(st, side)
        dist = cfg[base + P_AU_EMA_DIST]
        if side > 0:
            price = min(best, round_dn(lower * (1.0 - dist), ps))
        else:
            price = max(best, round_up(upper * (1.0 + dist), ps))
        qty = crop_qty(side, wel, size, pos_price, price, balance, mkt)
        return _node(side, max(min_entry_qty(price, mkt), qty), price, K_UNSTUCK, size, pos_price, balance, mkt)
    raw = _reentry_price(cfg, base, mkt, side, we, pos_price)
    if side > 0:
        if raw <= ps:
            return 0.0, 0.0, K_ENTRY, 0.0, 0.0, 0.0
        price = min(best, raw)
    else:
        price = max(best, raw)
    qty = _reentry_qty(cfg, base, mkt, size, price, balance)
    node = _node(side, qty, price, K_ENTRY, size, pos_price, balance, mkt)
    if node[5] > 1.01 * wel or _next_too_small(cfg, base, mkt, side, node[3], node[4], node[5], balance):
        qty = max(min_entry_qty(price, mkt), crop_qty(side, wel, size, pos_price, price, balance, mkt))
        return _node(side, qty, price, K_ENTRY, size, pos_price, balance, mkt)
    return node


@jit
def recursive_entries(cfg, base: int, mkt, st, side: int, whole_grid: bool, out, n: int) -> int:
    """Write the side's recursive entries (nearest first) and return the new row count.

    Live (`whole_grid` False): the next node only. Whole grid: up to 30 nodes, each clamped to
    min(best_bid, previous node price) (short: max with best_ask); stops at a zero qty or a repeated
    price. A legacy unstuck entry is written alone when it is the first node and ends the grid otherwise."""
    size, pos_price = side_position(st, side)
    book = st[S_BEST_BID] if side > 0 else st[S_BEST_ASK]
    best = book
    legacy = legacy_unstuck(cfg)
    last_price = 0.0
    for i in range(_MAX_NODES):
        qty, price, kind, after, after_price, we = entry_node(cfg, base, mkt, st, side, size, pos_price, best,
                                                             legacy)
        if qty == 0.0 or (i > 0 and price == last_price):
            break
        if kind == K_UNSTUCK and i > 0:
            break
        size, pos_price = after, after_price
        n = put(out, n, side, side, kind, price, qty, False, size, pos_price, we)
        if kind == K_UNSTUCK or not whole_grid:
            break
        last_price = price
        best = min(book, price) if side > 0 else max(book, price)
    return n
