"""Neat grid mode entries (STRATEGY.md §3 "Neat grid"). No auto-unstuck entries here (recursive mode only).

The grid anchored at price `a` (long; short mirrored with `1+`, `round_up`):
prices `round_dn(basespace(a, a*(1-grid_span), eprice_exp_base, n))`, qtys
`round_(basespace(q0, q_last, eqty_exp_base, n))`, each at least `min_entry_qty` of its price, where `q0` is
the initial qty at the first price and `q_last` is the largest whole number of qty steps that keeps the WE
after the last node at or under WEL (an integer search: deterministic, identical with and without JIT).

Re-anchoring with a position (Q, P): the anchor `a` is chosen so that the grid's hypothetical position at
cumulative size |Q| (filling the grid node by node, the last one partly, the last node's price continued past
the end of the grid) has position price P. Sizes scale like `1/a` (linear) or `a` (inverse) while costs do
not, so that price grows with `a`; a bracketing search finds it to half a price step (coarse qty steps make it
jump, then the nearest grid is used). So a position built by the grid gets the same grid back, and any other
position gets the grid it would have had. Nodes whose cumulative size is within 1 % of |Q| count as filled;
the first unfilled node takes the remainder (at least `min_entry_qty`), the nodes after it keep their planned
qtys. Entry prices never rise above `P - price_step/2` (long; short: never under `P + price_step/2`) nor cross
the book.
"""
import math

import numpy as np

from passivx.calc.contracts import cost_to_qty, min_entry_qty, new_position, qty_to_cost, wallet_exposure
from passivx.calc.crop import crop_qty, side_position
from passivx.calc.jit import jit
from passivx.calc.layout import (
    K_ENTRY, M_PRICE_STEP, M_QTY_STEP, O_PRICE, O_QTY,
    P_EPRICE_EXP_BASE, P_EQTY_EXP_BASE, P_GRID_SPAN, P_MAX_N_ENTRY_ORDERS, P_WEL, S_BALANCE, S_BEST_ASK, S_BEST_BID,
)
from passivx.calc.orders import put
from passivx.calc.recursive import initial_entry, initial_qty
from passivx.calc.rounding import iround, round_, round_dn, round_up
from passivx.calc.takeprofit import linspace

_FIT_ITERS = 40  # bound on each phase of the re-anchoring search
_FILLED = 0.01  # a node within 1 % of its cumulative size counts as filled
_FLAT = 0.9  # |Q| < 0.9*min_entry_qty(p0) is treated as flat


@jit
def basespace(a: float, b: float, base: float, n: int) -> np.ndarray:
    """`n` points from `a` to `b`: evenly spaced for base 1, else spaced like `base**i` (gaps grow for
    base > 1)."""
    if base == 1.0 or n < 3:
        return linspace(a, b, n)
    out = np.empty(n)
    w = np.empty(n)
    w[0] = 1.0
    for i in range(1, n):
        w[i] = w[i - 1] * base  # repeated products: identical bits with and without JIT
    span = w[n - 1] - 1.0
    for i in range(n - 1):
        out[i] = a + (b - a) * ((w[i] - 1.0) / span)
    out[n - 1] = b
    return out


@jit
def _grid_prices(anchor: float, span: float, exp_base: float, n: int, side: int, step: float) -> np.ndarray:
    prices = basespace(anchor, anchor * (1.0 - side * span), exp_base, n)
    for i in range(n):
        prices[i] = max(step, round_dn(prices[i], step)) if side > 0 else round_up(prices[i], step)
    return prices


@jit
def _grid_qtys(q0: float, q_last: float, exp_base: float, prices, mkt) -> np.ndarray:
    qtys = basespace(q0, q_last, exp_base, len(prices))
    for i in range(len(prices)):
        qtys[i] = max(min_entry_qty(prices[i], mkt), round_(qtys[i], mkt[M_QTY_STEP]))
    return qtys


@jit
def _final_we(q0: float, q_last: float, exp_base: float, prices, side: int, balance: float, mkt) -> float:
    qtys = _grid_qtys(q0, q_last, exp_base, prices, mkt)
    size, price = 0.0, 0.0
    for i in range(len(prices)):
        size, price = new_position(size, price, side * qtys[i], prices[i], mkt)
    return wallet_exposure(size, price, balance, mkt)


@jit
def _solve_q_last(q0: float, exp_base: float, prices, side: int, balance: float, wel: float, mkt) -> float:
    """Largest `q_last` (whole qty steps, >= q0) whose grid ends at WE <= WEL; q0 when none does.

    Costs are linear in `q_last` before rounding, so the search starts at that solution, widens in doubling
    steps until it brackets the answer, then bisects."""
    step = mkt[M_QTY_STEP]
    n = len(prices)
    lo = iround(q0 / step)
    if n == 1 or _final_we(q0, lo * step, exp_base, prices, side, balance, mkt) > wel:
        return lo * step
    t = basespace(0.0, 1.0, exp_base, n)
    fixed, slope = 0.0, 0.0
    for i in range(n):
        c = qty_to_cost(1.0, prices[i], mkt)
        fixed += c * q0 * (1.0 - t[i])
        slope += c * t[i]
    hi = lo + 1 + int(math.ceil(cost_to_qty(balance * wel, prices[-1], mkt) / step))  # last node alone > WEL
    g = int(min(float(hi), max(float(lo), math.floor((balance * wel - fixed) / slope / step))))
    d = 1
    if _final_we(q0, g * step, exp_base, prices, side, balance, mkt) <= wel:
        lo = g
        while lo + d < hi:
            if _final_we(q0, (lo + d) * step, exp_base, prices, side, balance, mkt) > wel:
                hi = lo + d
                break
            lo += d
            d *= 2
    else:
        hi = g
        while hi - d > lo:
            if _final_we(q0, (hi - d) * step, exp_base, prices, side, balance, mkt) <= wel:
                lo = hi - d
                break
            hi -= d
            d *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _final_we(q0, mid * step, exp_base, prices, side, balance, mkt) <= wel:
            lo = mid
        else:
            hi = mid
    return lo * step


@jit
def _grid(cfg, base: int, mkt, side: int, balance: float, anchor: float):
    """(prices, qtys) of the neat grid anchored at `anchor`."""
    n = max(1, iround(cfg[base + P_MAX_N_ENTRY_ORDERS]))
    prices = _grid_prices(anchor, cfg[base + P_GRID_SPAN], cfg[base + P_EPRICE_EXP_BASE], n, side,
                          mkt[M_PRICE_STEP])
    q0 = initial_qty(cfg, base, mkt, balance, prices[0])
    exp_base = cfg[base + P_EQTY_EXP_BASE]
    q_last = _solve_q_last(q0, exp_base, prices, side, balance, cfg[base + P_WEL], mkt)
    return prices, _grid_qtys(q0, q_last, exp_base, prices, mkt)


@jit
def _price_at_size(prices, qtys, side: int, target: float, mkt) -> float:
    """Position price after filling the grid up to cumulative size `target` (past its end: at the last
    price)."""
    size, price = 0.0, 0.0
    for i in range(len(prices)):
        if abs(size) + qtys[i] >= target or i == len(prices) - 1:
            return new_position(size, price, side * (target - abs(size)), prices[i], mkt)[1]
        size, price = new_position(size, price, side * qtys[i], prices[i], mkt)
    return price


@jit
def _fit(cfg, base: int, mkt, side: int, balance: float, target: float, pprice: float, anchor: float):
    """(prices, qtys, error): the grid anchored at `anchor`; error = its position price at size `target`
    minus `pprice`."""
    prices, qtys = _grid(cfg, base, mkt, side, balance, anchor)
    return prices, qtys, _price_at_size(prices, qtys, side, target, mkt) - pprice


@jit
def _fitted_grid(cfg, base: int, mkt, side: int, balance: float, size: float, pprice: float):
    """The grid re-anchored so that its position at cumulative size |size| has price `pprice`.

    The error grows with the anchor; at anchor P it is <= 0 for long (every node at or under P) and >= 0
    for short. The other end of the bracket starts at P/(1 -/+ grid_span) and moves out until the sign
    changes; then false position (Illinois variant) until the error is within half a price step. The grid
    with the smallest error is returned."""
    tol = 0.5 * mkt[M_PRICE_STEP]
    target = abs(size)
    a = pprice
    prices, qtys, fa = _fit(cfg, base, mkt, side, balance, target, pprice, a)
    best_p, best_q, best_e = prices, qtys, abs(fa)
    span = cfg[base + P_GRID_SPAN]
    b = pprice / (1.0 - min(span, 0.9)) if side > 0 else pprice / (1.0 + span)
    fb = fa
    for _ in range(_FIT_ITERS):
        if best_e <= tol or fa * fb < 0.0:
            break
        prices, qtys, fb = _fit(cfg, base, mkt, side, balance, target, pprice, b)
        if abs(fb) < best_e:
            best_p, best_q, best_e = prices, qtys, abs(fb)
        if fa * fb >= 0.0:
            a, fa = b, fb
            b = b * 2.0 if side > 0 else b * 0.5
    for _ in range(_FIT_ITERS):
        if best_e <= tol or not fa * fb < 0.0 or abs(b - a) <= 0.01 * tol:
            break
        c = b - fb * (b - a) / (fb - fa)
        if not min(a, b) < c < max(a, b):
            c = 0.5 * (a + b)
        prices, qtys, fc = _fit(cfg, base, mkt, side, balance, target, pprice, c)
        if abs(fc) < best_e:
            best_p, best_q, best_e = prices, qtys, abs(fc)
        if fc * fb < 0.0:
            a, fa = b, fb
        else:
            fa *= 0.5
        b, fb = c, fc
    return best_p, best_q


@jit
def _place(cfg, base: int, mkt, st, side: int, prices, qtys, k: int, first_qty: float, size: float,
           pprice: float, cap: float, whole_grid: bool, out, n: int) -> int:
    """Write grid nodes `k..` (node k with `first_qty`) as entries, each as if the earlier ones filled.

    Prices are clamped to the book and `cap`; a node landing on the previous node's price is merged into it;
    a node that would take WE past 1.01*WEL is cropped to WEL (at least min qty; the grid ends there)."""
    balance = st[S_BALANCE]
    wel = cfg[base + P_WEL]
    first = n
    for i in range(k, len(prices)):
        q = first_qty if i == k else qtys[i]
        x = min(prices[i], st[S_BEST_BID], cap) if side > 0 else max(prices[i], st[S_BEST_ASK], cap)
        last = i == len(prices) - 1
        new_size, new_price = new_position(size, pprice, side * q, x, mkt)
        if i > k or size != 0.0:
            if wallet_exposure(new_size, new_price, balance, mkt) > 1.01 * wel:
                c = crop_qty(side, wel, size, pprice, x, balance, mkt)
                if c <= 0.0:
                    break
                q = max(min_entry_qty(x, mkt), c)
                new_size, new_price = new_position(size, pprice, side * q, x, mkt)
                last = True
        if n > first and out[n - 1, O_PRICE] == x:
            q += out[n - 1, O_QTY]
            n -= 1
        size, pprice = new_size, new_price
        n = put(out, n, side, side, K_ENTRY, x, q, False, size, pprice,
                wallet_exposure(size, pprice, balance, mkt))
        if last or not whole_grid:
            break
    return n


@jit
def neat_entries(cfg, base: int, mkt, st, side: int, whole_grid: bool, out, n: int) -> int:
    """Neat grid entries of `side` (nearest first) written from row `n`; returns the new row count.

    Flat (or |Q| < 0.9*min_entry_qty(p0)): the initial entry at p0 (qty q0, less a dust position), and with
    `whole_grid` the rest of the grid anchored at p0. With a position: the next unfilled node of the
    re-anchored grid (module docstring), or with `whole_grid` every remaining node."""
    balance = st[S_BALANCE]
    if balance <= 0.0 or cfg[base + P_WEL] <= 0.0:
        return n
    size, pprice = side_position(st, side)
    q0, p0 = initial_entry(cfg, base, mkt, st, side, st[S_BEST_BID] if side > 0 else st[S_BEST_ASK])
    step = mkt[M_PRICE_STEP]
    if q0 > 0.0 and abs(size) < _FLAT * min_entry_qty(p0, mkt):
        prices, qtys = _grid(cfg, base, mkt, side, balance, p0)
        q = max(min_entry_qty(p0, mkt), round_(q0 - abs(size), mkt[M_QTY_STEP]))
        cap = math.inf if side > 0 else 0.0
        return _place(cfg, base, mkt, st, side, prices, qtys, 0, q, size, pprice, cap, whole_grid, out, n)
    if size == 0.0 or pprice <= 0.0:
        return n
    prices, qtys = _fitted_grid(cfg, base, mkt, side, balance, size, pprice)
    cum = 0.0
    for k in range(len(prices)):
        cum = round_(cum + qtys[k], mkt[M_QTY_STEP])
        rem = round_(cum - abs(size), mkt[M_QTY_STEP])
        if rem > _FILLED * cum:
            q = max(min_entry_qty(prices[k], mkt), rem)
            cap = round_dn(pprice - 0.5 * step, step) if side > 0 else round_up(pprice + 0.5 * step, step)
            return _place(cfg, base, mkt, st, side, prices, qtys, k, q, size, pprice, cap, whole_grid, out, n)
    return n
