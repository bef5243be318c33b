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
from passivx.calc.takeprofit import linspace_point

_FIT_ITERS = 40  # bound on each phase of the re-anchoring search
_FILLED = 0.01  # a node within 1 % of its cumulative size counts as filled
_FLAT = 0.9  # |Q| < 0.9*min_entry_qty(p0) is treated as flat


# rows of the per-call workspace: basespace fractions of prices and qtys, unit qty weights `t`, the grid
# being tried (prices, qtys, min entry qtys), the best grid found, and the qtys and positions (size, price)
# after each node of the last `_final_we` walk, reused while the qtys agree (qtys NaN after new prices)
_FP, _FQ, _T, _P, _Q, _MQ, _BP, _BQ, _WQ, _WS, _WP, _ROWS = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11


@jit
def _fractions(base: float, n: int, out) -> None:
    """Write `(base**i - 1)/(base**(n-1) - 1)` (repeated products) to `out[:n]` when basespace uses them."""
    if base == 1.0 or n < 3:
        return
    out[0] = 1.0
    for i in range(1, n):
        out[i] = out[i - 1] * base  # repeated products: identical bits with and without JIT
    span = out[n - 1] - 1.0
    for i in range(n):
        out[i] = (out[i] - 1.0) / span


@jit
def _spaced(a: float, b: float, base: float, frac, i: int, n: int) -> float:
    """Point `i` of `basespace(a, b, base, n)`, `frac` filled by `_fractions(base, n, frac)`."""
    if base == 1.0 or n < 3:
        return linspace_point(a, b, n, (b - a) / (n - 1) if n > 1 else 0.0, i)
    if i == n - 1:
        return b
    return a + (b - a) * frac[i]


@jit
def basespace(a: float, b: float, base: float, n: int) -> np.ndarray:
    """`n` points from `a` to `b`: evenly spaced for base 1, else spaced like `base**i` (gaps grow for
    base > 1)."""
    out = np.empty(max(n, 0))
    _fractions(base, n, out)
    for i in range(n):
        out[i] = _spaced(a, b, base, out, i, n)
    return out


@jit
def _workspace(cfg, base: int) -> np.ndarray:
    """A workspace (`_ROWS` rows of the side's grid size) with the basespace fractions and unit weights."""
    n = max(1, iround(cfg[base + P_MAX_N_ENTRY_ORDERS]))
    ws = np.empty((_ROWS, n))
    _fractions(cfg[base + P_EPRICE_EXP_BASE], n, ws[_FP])
    exp_base = cfg[base + P_EQTY_EXP_BASE]
    _fractions(exp_base, n, ws[_FQ])
    for i in range(n):
        ws[_T, i] = _spaced(0.0, 1.0, exp_base, ws[_FQ], i, n)
    return ws


@jit
def _fill_qtys(q0: float, q_last: float, exp_base: float, ws, mkt) -> None:
    """Grid qtys (basespace from q0 to q_last, rounded, at least the min entry qtys) into `ws[_Q]`."""
    n = ws.shape[1]
    for i in range(n):
        ws[_Q, i] = max(ws[_MQ, i], round_(_spaced(q0, q_last, exp_base, ws[_FQ], i, n), mkt[M_QTY_STEP]))


@jit
def _final_we(q0: float, q_last: float, exp_base: float, ws, side: int, balance: float, mkt) -> float:
    _fill_qtys(q0, q_last, exp_base, ws, mkt)
    size, price = 0.0, 0.0
    same = True
    for i in range(ws.shape[1]):
        q = ws[_Q, i]
        same = same and q == ws[_WQ, i]
        if same:
            size, price = ws[_WS, i], ws[_WP, i]
        else:
            size, price = new_position(size, price, side * q, ws[_P, i], mkt)
            ws[_WQ, i], ws[_WS, i], ws[_WP, i] = q, size, price
    return wallet_exposure(size, price, balance, mkt)


@jit
def _solve_q_last(q0: float, exp_base: float, ws, side: int, balance: float, wel: float, mkt) -> float:
    """Largest `q_last` (whole qty steps, >= q0) whose grid ends at WE <= WEL; q0 when none does.

    Costs are linear in `q_last` before rounding, so the search starts at that solution, widens in doubling
    steps until it brackets the answer, then bisects."""
    step = mkt[M_QTY_STEP]
    n = ws.shape[1]
    prices = ws[_P]
    lo = iround(q0 / step)
    if n == 1 or _final_we(q0, lo * step, exp_base, ws, side, balance, mkt) > wel:
        return lo * step
    fixed, slope = 0.0, 0.0
    for i in range(n):
        c = qty_to_cost(1.0, prices[i], mkt)
        fixed += c * q0 * (1.0 - ws[_T, i])
        slope += c * ws[_T, i]
    hi = lo + 1 + int(math.ceil(cost_to_qty(balance * wel, prices[-1], mkt) / step))  # last node alone > WEL
    g = int(min(float(hi), max(float(lo), math.floor((balance * wel - fixed) / slope / step))))
    d = 1
    if _final_we(q0, g * step, exp_base, ws, side, balance, mkt) <= wel:
        lo = g
        while lo + d < hi:
            if _final_we(q0, (lo + d) * step, exp_base, ws, side, balance, mkt) > wel:
                hi = lo + d
                break
            lo += d
            d *= 2
    else:
        hi = g
        while hi - d > lo:
            if _final_we(q0, (hi - d) * step, exp_base, ws, side, balance, mkt) <= wel:
                lo = hi - d
                break
            hi -= d
            d *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _final_we(q0, mid * step, exp_base, ws, side, balance, mkt) <= wel:
            lo = mid
        else:
            hi = mid
    return lo * step


@jit
def _grid(cfg, base: int, mkt, side: int, balance: float, anchor: float, ws) -> None:
    """The neat grid anchored at `anchor` into `ws[_P]` (prices) and `ws[_Q]` (qtys)."""
    n = ws.shape[1]
    step = mkt[M_PRICE_STEP]
    end = anchor * (1.0 - side * cfg[base + P_GRID_SPAN])
    for i in range(n):
        p = _spaced(anchor, end, cfg[base + P_EPRICE_EXP_BASE], ws[_FP], i, n)
        p = max(step, round_dn(p, step)) if side > 0 else round_up(p, step)
        ws[_P, i] = p
        ws[_MQ, i] = min_entry_qty(p, mkt)
        ws[_WQ, i] = math.nan
    q0 = initial_qty(cfg, base, mkt, balance, ws[_P, 0])
    exp_base = cfg[base + P_EQTY_EXP_BASE]
    q_last = _solve_q_last(q0, exp_base, ws, side, balance, cfg[base + P_WEL], mkt)
    _fill_qtys(q0, q_last, exp_base, ws, mkt)


@jit
def _price_at_size(ws, side: int, target: float, mkt) -> float:
    """Position price after filling the grid `ws[_P]`, `ws[_Q]` up to cumulative size `target` (past its
    end: at the last price); positions of the last `_final_we` walk are reused while its qtys agree."""
    n = ws.shape[1]
    size, price = 0.0, 0.0
    same = True
    for i in range(n):
        q = ws[_Q, i]
        if abs(size) + q >= target or i == n - 1:
            return new_position(size, price, side * (target - abs(size)), ws[_P, i], mkt)[1]
        same = same and q == ws[_WQ, i]
        if same:
            size, price = ws[_WS, i], ws[_WP, i]
        else:
            size, price = new_position(size, price, side * q, ws[_P, i], mkt)
    return price


@jit
def _fit(cfg, base: int, mkt, side: int, balance: float, target: float, pprice: float, anchor: float,
         ws) -> float:
    """The grid anchored at `anchor` into `ws[_P]`, `ws[_Q]`; returns its error: its position price at
    size `target` minus `pprice`."""
    _grid(cfg, base, mkt, side, balance, anchor, ws)
    return _price_at_size(ws, side, target, mkt) - pprice


@jit
def _keep(ws) -> None:
    """Keep the grid just built as the best one."""
    ws[_BP, :] = ws[_P]
    ws[_BQ, :] = ws[_Q]


@jit
def _fitted_grid(cfg, base: int, mkt, side: int, balance: float, size: float, pprice: float, ws) -> None:
    """The grid re-anchored so that its position at cumulative size |size| has price `pprice`, into
    `ws[_BP]` (prices) and `ws[_BQ]` (qtys).

    The error grows with the anchor; at anchor P it is <= 0 for long (every node at or under P) and >= 0
    for short. The other end of the bracket starts at P/(1 -/+ grid_span) and moves out until the sign
    changes; then false position (Illinois variant) until the error is within half a price step. The grid
    with the smallest error is kept."""
    tol = 0.5 * mkt[M_PRICE_STEP]
    target = abs(size)
    a = pprice
    fa = _fit(cfg, base, mkt, side, balance, target, pprice, a, ws)
    _keep(ws)
    best_e = abs(fa)
    span = cfg[base + P_GRID_SPAN]
    b = pprice / (1.0 - min(span, 0.9)) if side > 0 else pprice / (1.0 + span)
    fb = fa
    for _ in range(_FIT_ITERS):
        if best_e <= tol or fa * fb < 0.0:
            break
        fb = _fit(cfg, base, mkt, side, balance, target, pprice, b, ws)
        if abs(fb) < best_e:
            _keep(ws)
            best_e = abs(fb)
        if fa * fb >= 0.0:
            a, fa = b, fb
            b = b * 2.0 if side > 0 else b * 0.5
    for _ in range(_FIT_ITERS):
        if best_e <= tol or not fa * fb < 0.0 or abs(b - a) <= 0.01 * tol:
            break
        c = b - fb * (b - a) / (fb - fa)
        if not min(a, b) < c < max(a, b):
            c = 0.5 * (a + b)
        fc = _fit(cfg, base, mkt, side, balance, target, pprice, c, ws)
        if abs(fc) < best_e:
            _keep(ws)
            best_e = abs(fc)
        if fc * fb < 0.0:
            a, fa = b, fb
        else:
            fa *= 0.5
        b, fb = c, fc


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
        ws = _workspace(cfg, base)
        _grid(cfg, base, mkt, side, balance, p0, ws)
        q = max(min_entry_qty(p0, mkt), round_(q0 - abs(size), mkt[M_QTY_STEP]))
        cap = math.inf if side > 0 else 0.0
        return _place(cfg, base, mkt, st, side, ws[_P], ws[_Q], 0, q, size, pprice, cap, whole_grid, out, n)
    if size == 0.0 or pprice <= 0.0:
        return n
    ws = _workspace(cfg, base)
    _fitted_grid(cfg, base, mkt, side, balance, size, pprice, ws)
    prices, qtys = ws[_BP], ws[_BQ]
    cum = 0.0
    for k in range(len(prices)):
        cum = round_(cum + qtys[k], mkt[M_QTY_STEP])
        rem = round_(cum - abs(size), mkt[M_QTY_STEP])
        if rem > _FILLED * cum:
            q = max(min_entry_qty(prices[k], mkt), rem)
            cap = round_dn(pprice - 0.5 * step, step) if side > 0 else round_up(pprice + 0.5 * step, step)
            return _place(cfg, base, mkt, st, side, prices, qtys, k, q, size, pprice, cap, whole_grid, out, n)
    return n
