"""Neat grid mode entries (STRATEGY.md §3 "Neat grid"). No auto-unstuck entries here (recursive mode only).

The grid anchored at price `a` (long; short mirrored with `1+`, `round_up`):
prices `round_dn(basespace(a, a*(1-grid_span), eprice_exp_base, n))`, qtys
`round_(basespace(q0, q_last, eqty_exp_base, n))`, each at least `min_entry_qty` of its price, where `q0` is
the initial qty at the first price and `q_last` is the largest whole number of qty steps that keeps the WE
after the last node at or under WEL (an integer search: deterministic, identical with and without JIT).

Re-anchoring with a position (Q, P): the anchor `a` is chosen so that the grid's hypothetical position at
cumulative size |Q| (filling the grid node by node, the last one partly, the last node's price continued past
the end of the grid) has position price P. Sizes scale like `1/a` (linear) or `a` (inverse) while costs do
not, so that price grows with `a`; a search starting at the unrounded model's answer finds it to half a price
step (coarse qty steps make the price jump; then the nearest grid tried is used). Nodes whose cumulative size
is within 1 % of |Q| count as filled, in that price too. When |Q| is on a node, anchors on the price grid near
the answer are tried for an exact match: a position built by a grid gets that grid back (linear or inverse,
tested on random grids: exactly, or a price step off where rounding noise lets two anchors a step apart build
the same position), and any other position gets the grid it would have had. The first unfilled node takes
the remainder (at least `min_entry_qty`), the nodes after it keep their planned qtys. Entry prices never rise
above `P - price_step/2` (long; short: never under `P + price_step/2`) nor cross the book.

A position under 0.9 times the exchange minimum at p0 is dust and treated as flat; a market without a minimum
(`min_qty = min_cost = 0`) still trades whole qty steps, so one qty step is the minimum there.

The re-anchored grid depends only on the balance, the position, the side's config and the market: the last
one per side is kept in the caller's `memo` (layout `MEMO_*`) with all of those, and reused when they are
equal (an empty `memo` keeps nothing; the results are the same either way).
"""
import math

import numpy as np

from passivx.calc.contracts import (
    cost_to_qty, min_entry_qty, min_entry_qty_bound, new_position, qty_to_cost, wallet_exposure,
)
from passivx.calc.crop import crop_qty, side_position
from passivx.calc.jit import jit
from passivx.calc.layout import (
    K_ENTRY, MEMO_KEY, MEMO_MAX_NODES, MEMO_SIDE, MEMO_SIZE, MKT_SIZE, M_C_MULT, M_INVERSE, M_MIN_COST, M_MIN_QTY,
    M_PRICE_STEP, M_QTY_STEP, O_PRICE, O_QTY, P_EPRICE_EXP_BASE, P_EQTY_EXP_BASE, P_GRID_SPAN, P_INITIAL_QTY_PCT,
    P_MAX_N_ENTRY_ORDERS, P_SIZE, P_WEL, S_BALANCE, S_BEST_ASK, S_BEST_BID,
)
from passivx.calc.orders import put
from passivx.calc.recursive import initial_entry, initial_qty
from passivx.calc.rounding import iround, round_, round_dn, round_up
from passivx.calc.scratch import scratch
from passivx.calc.takeprofit import linspace_point

_FIT_ITERS = 40  # bound on each phase of the re-anchoring search
_FILLED = 0.01  # a node within 1 % of its cumulative size counts as filled
_FLAT = 0.9  # |Q| < 0.9*min_entry_qty(p0) is treated as flat
_EXACT = 1e-9  # a position price matched to this fraction is an exact match (float noise)


# rows of the per-call workspace: basespace fractions of prices and qtys, unit qty weights `t`, the grid
# being tried (prices, qtys, an upper bound of each node's min entry qty), the best grid found, and the
# qtys of the largest q_last found to fit so far
_FP, _FQ, _T, _P, _Q, _MQ, _BP, _BQ, _QF, _ROWS = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9


@jit
def _copy_row(ws, src: int, dst: int) -> None:
    """`ws[dst] = ws[src]` as a plain loop (numba's slice assignment checks for overlap and broadcasting: several
    times slower on rows this short)."""
    for i in range(ws.shape[1]):
        ws[dst, i] = ws[src, i]


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
def _workspace(cfg, base: int, memo) -> np.ndarray:
    """A workspace: `_ROWS` rows of the side's grid size, in `memo`'s scratch space where it fits, contents
    undefined (`_basis` adds what building a grid needs; a grid taken from the memo needs none of it)."""
    n = max(1, iround(cfg[base + P_MAX_N_ENTRY_ORDERS]))
    return scratch(memo, _ROWS * n).reshape((_ROWS, n))


@jit
def _basis(cfg, base: int, ws) -> None:
    """The basespace fractions and unit weights into the workspace `ws`."""
    n = ws.shape[1]
    _fractions(cfg[base + P_EPRICE_EXP_BASE], n, ws[_FP])
    exp_base = cfg[base + P_EQTY_EXP_BASE]
    _fractions(exp_base, n, ws[_FQ])
    for i in range(n):
        ws[_T, i] = _spaced(0.0, 1.0, exp_base, ws[_FQ], i, n)


@jit
def _fill_qtys(q0: float, q_last: float, exp_base: float, ws, mkt) -> None:
    """Grid qtys (basespace from q0 to q_last, rounded, at least the min entry qtys) into `ws[_Q]`."""
    n = ws.shape[1]
    for i in range(n):
        q = round_(_spaced(q0, q_last, exp_base, ws[_FQ], i, n), mkt[M_QTY_STEP])
        ws[_Q, i] = q if q >= ws[_MQ, i] else max(min_entry_qty(ws[_P, i], mkt), q)


@jit
def _we(ws, balance: float, mkt) -> float:
    """WE after every node of the grid `ws[_P]`, `ws[_Q]` fills: the position's cost is the sum of its fills'."""
    cost = 0.0
    for i in range(ws.shape[1]):
        cost += qty_to_cost(ws[_Q, i], ws[_P, i], mkt)
    return cost / balance


@jit
def _fits(q0: float, q_last: float, exp_base: float, ws, balance: float, wel: float, mkt) -> bool:
    """Whether the grid with `q_last` ends at WE <= WEL; if so its qtys are kept in `ws[_QF]` (the
    searches below try larger fitting values later, so the last kept one is their answer)."""
    _fill_qtys(q0, q_last, exp_base, ws, mkt)
    if _we(ws, balance, mkt) > wel:
        return False
    _copy_row(ws, _Q, _QF)
    return True


@jit
def _solve_q_last(q0: float, exp_base: float, ws, balance: float, wel: float, mkt):
    """(q_last, kept): the largest `q_last` (whole qty steps, >= q0) whose grid ends at WE <= WEL, or q0
    when none does; `kept` tells whether `ws[_QF]` holds its qtys.

    Costs are linear in `q_last` before rounding, so the search starts at that solution, widens in doubling
    steps until it brackets the answer, then bisects."""
    step = mkt[M_QTY_STEP]
    n = ws.shape[1]
    prices = ws[_P]
    lo = iround(q0 / step)
    if n == 1:
        return lo * step, False
    fixed, slope = 0.0, 0.0
    for i in range(n):
        c = qty_to_cost(1.0, prices[i], mkt)
        fixed += c * q0 * (1.0 - ws[_T, i])
        slope += c * ws[_T, i]
    if not slope > 0.0:  # no cost at all (prices out of range): nothing to solve
        return lo * step, False
    hi = lo + 1 + int(math.ceil(cost_to_qty(balance * wel, prices[-1], mkt) / step))  # last node alone > WEL
    g = int(min(float(hi), max(float(lo), math.floor((balance * wel - fixed) / slope / step))))
    d = 1
    if g == lo and not _fits(q0, lo * step, exp_base, ws, balance, wel, mkt):
        return lo * step, False  # even q_last = q0 is too much
    if g == lo or _fits(q0, g * step, exp_base, ws, balance, wel, mkt):
        lo = g
        # one more step raises the last node's qty by a step (the others do not shrink): when that alone
        # passes WEL (with a margin for rounding noise), g is the answer without trying g + 1
        if g * step >= ws[_MQ, n - 1] and \
                _we(ws, balance, mkt) + 0.999 * qty_to_cost(step, prices[-1], mkt) / balance > wel:
            return g * step, True
        while lo + d < hi:
            if not _fits(q0, (lo + d) * step, exp_base, ws, balance, wel, mkt):
                hi = lo + d
                break
            lo += d
            d *= 2
    else:
        hi = g
        while hi - d > lo:
            if _fits(q0, (hi - d) * step, exp_base, ws, balance, wel, mkt):
                lo = hi - d
                break
            hi -= d
            d *= 2
        else:  # everything above q0 is too much: is q0?
            if not _fits(q0, lo * step, exp_base, ws, balance, wel, mkt):
                return lo * step, False
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _fits(q0, mid * step, exp_base, ws, balance, wel, mkt):
            lo = mid
        else:
            hi = mid
    return lo * step, True


@jit
def _end(cfg, base: int, side: int, anchor: float) -> float:
    """Unrounded price of the last node of the grid anchored at `anchor`."""
    return anchor * (1.0 - side * cfg[base + P_GRID_SPAN])


@jit
def _rounded_price(p: float, side: int, step: float) -> float:
    """Node price `p` rounded away from the market (long: down), at least one price step."""
    return max(step, round_dn(p, step) if side > 0 else round_up(p, step))


@jit
def _node_price(cfg, base: int, mkt, side: int, anchor: float, ws, i: int) -> float:
    """Price of node i of the grid anchored at `anchor` (`ws[_FP]`: the price fractions)."""
    p = _spaced(anchor, _end(cfg, base, side, anchor), cfg[base + P_EPRICE_EXP_BASE], ws[_FP], i, ws.shape[1])
    return _rounded_price(p, side, mkt[M_PRICE_STEP])


@jit
def _grid(cfg, base: int, mkt, side: int, balance: float, anchor: float, ws) -> None:
    """The neat grid anchored at `anchor` into `ws[_P]` (prices) and `ws[_Q]` (qtys)."""
    n = ws.shape[1]
    end, price_base, step = _end(cfg, base, side, anchor), cfg[base + P_EPRICE_EXP_BASE], mkt[M_PRICE_STEP]
    for i in range(n):  # `_node_price` with what all nodes share taken out of the loop
        p = _rounded_price(_spaced(anchor, end, price_base, ws[_FP], i, n), side, step)
        ws[_P, i] = p
        ws[_MQ, i] = min_entry_qty_bound(p, mkt)
    q0 = initial_qty(cfg, base, mkt, balance, ws[_P, 0])
    exp_base = cfg[base + P_EQTY_EXP_BASE]
    q_last, kept = _solve_q_last(q0, exp_base, ws, balance, cfg[base + P_WEL], mkt)
    if kept:
        _copy_row(ws, _QF, _Q)
    else:
        _fill_qtys(q0, q_last, exp_base, ws, mkt)


@jit
def _price_at_size(ws, target: float, mkt) -> float:
    """Position price after filling the grid `ws[_P]`, `ws[_Q]` up to cumulative size `target` (past its
    end: at the last price), from the summed size and cost of the fills. A `target` within `_FILLED` of a
    node's cumulative size is taken as that size (the node counts as filled, as in `neat_entries`): else a
    qty step more or less in an earlier node would add a sliver of the next node at its distant price."""
    n = ws.shape[1]
    size, cost = 0.0, 0.0
    for i in range(n):
        q = ws[_Q, i]
        if size > 0.0 and target - size <= _FILLED * target:  # a sliver into node i: nodes < i only
            target = size
            break
        if size + q >= target or i == n - 1:
            if 0.0 <= size + q - target <= _FILLED * (size + q):  # node i all but filled: all of it
                target = size + q
            cost += qty_to_cost(target - size, ws[_P, i], mkt)
            break
        size += q
        cost += qty_to_cost(q, ws[_P, i], mkt)
    if not cost > 0.0:  # no qty at all (a degenerate market): no price
        return 0.0
    if mkt[M_INVERSE] != 0.0:
        return target * mkt[M_C_MULT] / cost
    return cost / (target * mkt[M_C_MULT])


@jit
def _fit(cfg, base: int, mkt, side: int, balance: float, target: float, pprice: float, anchor: float,
         ws) -> float:
    """The grid anchored at `anchor` into `ws[_P]`, `ws[_Q]`; returns its error: its position price at
    size `target` minus `pprice`."""
    _grid(cfg, base, mkt, side, balance, anchor, ws)
    return _price_at_size(ws, target, mkt) - pprice


@jit
def _keep(ws) -> None:
    """Keep the grid just built as the best one."""
    _copy_row(ws, _P, _BP)
    _copy_row(ws, _Q, _BQ)


@jit
def _anchor_guess(cfg, base: int, mkt, side: int, balance: float, target: float, pprice: float, ws) -> float:
    """The anchor that would fit exactly if prices and qtys were neither rounded nor raised to the minimum
    qty (NaN if none): then each qty is a constant `k_i` over the anchor `a` (inverse: times it), costs do
    not depend on `a`, and on each node the position price at `target` is a simple function of `a`."""
    n = ws.shape[1]
    end = 1.0 - side * cfg[base + P_GRID_SPAN]
    exp_base = cfg[base + P_EPRICE_EXP_BASE]
    inverse = mkt[M_INVERSE] != 0.0
    q0 = balance * cfg[base + P_WEL] * cfg[base + P_INITIAL_QTY_PCT] / mkt[M_C_MULT]  # k_0 (node 0 at a)
    fixed, slope = 0.0, 0.0  # WEL*balance/c_mult = q0*fixed + k_last*slope
    for i in range(n):
        s = _spaced(1.0, end, exp_base, ws[_FP], i, n)
        if not s > 0.0:
            return math.nan
        w = 1.0 / s if inverse else s
        fixed += w * (1.0 - ws[_T, i])
        slope += w * ws[_T, i]
    if not slope > 0.0:
        return math.nan
    k_last = (balance * cfg[base + P_WEL] / mkt[M_C_MULT] - q0 * fixed) / slope
    cum_k, cum_w = 0.0, 0.0  # sums of k_i and of k_i*s_i (inverse: k_i/s_i) over the filled nodes
    for j in range(n):
        s = _spaced(1.0, end, exp_base, ws[_FP], j, n)
        k = q0 + (k_last - q0) * ws[_T, j]
        if inverse:  # T/P = cum_w + (T - a*cum_k)/(a*s)
            d = s * (target / pprice - cum_w) + cum_k
            a = target / d if d > 0.0 else math.nan
            reached = target <= a * (cum_k + k)
        else:  # P*T = cum_w + (T*a - cum_k)*s
            a = (pprice * target - cum_w + cum_k * s) / (target * s)
            reached = target * a <= cum_k + k
        if reached or j == n - 1:
            return a
        cum_k += k
        cum_w += k / s if inverse else k * s
    return math.nan


@jit
def _too_high(cfg, base: int, mkt, side: int, balance: float, target: float, pprice: float, k: int,
              a: float, ws) -> float:
    """Build the grid anchored at `a`; > 0 if the anchor sought lies below `a`, < 0 above, 0 at an exact
    match: nodes `0..k` sum to `target` and have position price `pprice` (to float noise). While their sum
    differs, it tells the side (qtys grow with the anchor for inverse, shrink for linear); then the
    position price does."""
    e = _fit(cfg, base, mkt, side, balance, target, pprice, a, ws)
    cum = 0.0
    for i in range(k + 1):
        cum += ws[_Q, i]
    d = round_(cum - target, mkt[M_QTY_STEP])
    if d != 0.0:
        return d if mkt[M_INVERSE] != 0.0 else -d
    return 0.0 if abs(e) <= _EXACT * pprice else e


@jit
def _exact_anchor(cfg, base: int, mkt, side: int, balance: float, target: float, pprice: float, k: int,
                  ws) -> bool:
    """Whether an anchor on the price grid has nodes `0..k` that are exactly the position (`_too_high` is
    0); if so its grid is kept as the best one. Plans are anchored at a price on the grid, so a position a
    plan built finds that plan again, where the search alone can stop many steps away: one qty step more or
    less in a node moves the position price as much as many price steps of the anchor do.

    From the best grid's first price, steps doubling away from it (as far as such qty steps can move the
    anchor) until `_too_high` changes sign, then bisects the bracket down to neighbouring prices (qty sums
    and position prices both grow with the anchor, as far as rounding lets them)."""
    step = mkt[M_PRICE_STEP]
    mid = ws[_BP, 0]
    g0 = _too_high(cfg, base, mkt, side, balance, target, pprice, k, mid, ws)
    if g0 == 0.0:
        _keep(ws)
        return True
    lo, hi, d = 0, 0, 1
    direction = -1 if g0 > 0.0 else 1
    # how far one qty step more or less in each node can move the anchor: a few steps for fine qty steps
    reach = 2.0 * (k + 1) * mkt[M_QTY_STEP] / target * cfg[base + P_GRID_SPAN] * mid + 2.0 * step
    for _ in range(_FIT_ITERS):
        a = round_(mid + direction * d * step, step)
        if a < step or (d // 2) * step > reach:
            return False
        g = _too_high(cfg, base, mkt, side, balance, target, pprice, k, a, ws)
        if g == 0.0:
            _keep(ws)
            return True
        if (g > 0.0) != (g0 > 0.0):
            hi = direction * d
            break
        lo = direction * d
        d *= 2
    else:
        return False
    while abs(hi - lo) > 1:
        j = (lo + hi) // 2
        g = _too_high(cfg, base, mkt, side, balance, target, pprice, k, round_(mid + j * step, step), ws)
        if g == 0.0:
            _keep(ws)
            return True
        if (g > 0.0) == (g0 > 0.0):
            lo = j
        else:
            hi = j
    return False


@jit
def _fitted_grid(cfg, base: int, mkt, side: int, balance: float, size: float, pprice: float, ws) -> None:
    """The grid re-anchored so that its position at cumulative size |size| has price `pprice`, into
    `ws[_BP]` (prices) and `ws[_BQ]` (qtys) of the workspace `ws` (its basis first).

    The error grows with the anchor. The search starts at the unrounded model's anchor (`_anchor_guess`;
    P if it has none); position prices scale about like the anchor, so it steps to `a*P/(P + error)`,
    twice as far each time the error hardly shrinks, until the sign changes; then secant steps inside the
    bracket (false position, Illinois variant, when they leave it) until the error is within half a price
    step or the bracket is that narrow. The grid with the smallest error is kept, unless |size| is on one
    of its nodes and `_exact_anchor` finds a grid that holds the position exactly."""
    _basis(cfg, base, ws)
    tol = 0.5 * mkt[M_PRICE_STEP]
    target = abs(size)
    a = _anchor_guess(cfg, base, mkt, side, balance, target, pprice, ws)
    if not 0.0 < a < math.inf:
        a = pprice
    fa = _fit(cfg, base, mkt, side, balance, target, pprice, a, ws)
    _keep(ws)
    best_a, best_e = a, abs(fa)
    b, fb = a, fa
    grow = 1.0
    for _ in range(_FIT_ITERS):
        if best_e <= tol or fa * fb < 0.0:
            break
        scaled = a * pprice / (pprice + fa) if pprice + fa > 0.0 else 2.0 * a
        step = max(abs(scaled - a), tol) * grow
        b = max(a - step, 0.5 * a) if fa > 0.0 else a + step  # anchors stay positive
        fb = _fit(cfg, base, mkt, side, balance, target, pprice, b, ws)
        if abs(fb) < best_e:
            _keep(ws)
            best_a, best_e = b, abs(fb)
        if fa * fb >= 0.0:  # not yet past the root
            if abs(fb) > 0.5 * abs(fa):
                grow *= 2.0
            a, fa = b, fb
    x, fx = a, fa  # the point tried before b
    for _ in range(_FIT_ITERS):
        if best_e <= tol or not fa * fb < 0.0 or abs(b - a) <= tol:
            break
        c = b - fb * (b - x) / (fb - fx) if fb != fx else a
        if not min(a, b) < c < max(a, b):
            c = b - fb * (b - a) / (fb - fa)
            if not min(a, b) < c < max(a, b):
                c = 0.5 * (a + b)
        fc = _fit(cfg, base, mkt, side, balance, target, pprice, c, ws)
        if abs(fc) < best_e:
            _keep(ws)
            best_a, best_e = c, abs(fc)
        x, fx = b, fb
        if fc * fb < 0.0:
            a, fa = b, fb
        else:
            fa *= 0.5
        b, fb = c, fc
    if best_e <= _EXACT * pprice and best_a == ws[_BP, 0]:
        return
    cum = 0.0
    for k in range(ws.shape[1]):  # |size| on node k (each node's qty may be rounded a step the other way)?
        cum += ws[_BQ, k]
        if abs(cum - target) <= max(_FILLED * target, (k + 1) * mkt[M_QTY_STEP]) and \
                _exact_anchor(cfg, base, mkt, side, balance, target, pprice, k, ws):
            return


@jit
def _memo_key(memo, o: int, cfg, base: int, mkt, balance: float, size: float, pprice: float, write: bool) -> bool:
    """Whether the key at `memo[o:]` holds these inputs; with `write`, store them there."""
    c, m = o + 3, o + 3 + P_SIZE
    if write:
        memo[o], memo[o + 1], memo[o + 2] = balance, size, pprice
        for j in range(P_SIZE):
            memo[c + j] = cfg[base + j]
        for j in range(MKT_SIZE):
            memo[m + j] = mkt[j]
        return True
    if memo[o] != balance or memo[o + 1] != size or memo[o + 2] != pprice:
        return False
    for j in range(P_SIZE):
        if memo[c + j] != cfg[base + j]:
            return False
    for j in range(MKT_SIZE):
        if memo[m + j] != mkt[j]:
            return False
    return True


@jit
def _grid_of(cfg, base: int, mkt, side: int, balance: float, size: float, pprice: float, ws, memo) -> None:
    """`_fitted_grid` into `ws[_BP]`, `ws[_BQ]`, taken from `memo` when it holds the same inputs (else
    computed, and kept there)."""
    n = ws.shape[1]
    o = 0 if side > 0 else MEMO_SIDE
    if len(memo) < MEMO_SIZE or n > MEMO_MAX_NODES:
        _fitted_grid(cfg, base, mkt, side, balance, size, pprice, ws)
        return
    if _memo_key(memo, o, cfg, base, mkt, balance, size, pprice, False):
        for i in range(n):
            ws[_BP, i] = memo[o + MEMO_KEY + i]
            ws[_BQ, i] = memo[o + MEMO_KEY + MEMO_MAX_NODES + i]
        return
    _fitted_grid(cfg, base, mkt, side, balance, size, pprice, ws)
    _memo_key(memo, o, cfg, base, mkt, balance, size, pprice, True)
    for i in range(n):
        memo[o + MEMO_KEY + i] = ws[_BP, i]
        memo[o + MEMO_KEY + MEMO_MAX_NODES + i] = ws[_BQ, i]


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
def neat_entries(cfg, base: int, mkt, st, side: int, whole_grid: bool, out, n: int, memo) -> int:
    """Neat grid entries of `side` (nearest first) written from row `n`; returns the new row count.

    Flat (or dust: |Q| < 0.9*min_entry_qty(p0)): the initial entry at p0 (qty q0, less the
    dust), and with `whole_grid` the rest of the grid anchored at p0. With a position: the next unfilled
    node of the re-anchored grid (module docstring), or with `whole_grid` every remaining node. `memo`: see
    the module docstring."""
    balance = st[S_BALANCE]
    if balance <= 0.0 or cfg[base + P_WEL] <= 0.0:
        return n
    size, pprice = side_position(st, side)
    q0, p0 = initial_entry(cfg, base, mkt, st, side, st[S_BEST_BID] if side > 0 else st[S_BEST_ASK])
    step = mkt[M_PRICE_STEP]
    if q0 > 0.0 and abs(size) < _FLAT * min_entry_qty(p0, mkt):
        ws = _workspace(cfg, base, memo)
        _basis(cfg, base, ws)
        if whole_grid:
            _grid(cfg, base, mkt, side, balance, p0, ws)
        else:  # only the first node is placed, with its own qty: its price is all the grid gives
            ws[_P, 0] = _node_price(cfg, base, mkt, side, p0, ws, 0)
        q = max(min_entry_qty(p0, mkt), round_(q0 - abs(size), mkt[M_QTY_STEP]))
        cap = math.inf if side > 0 else 0.0
        return _place(cfg, base, mkt, st, side, ws[_P], ws[_Q], 0, q, size, pprice, cap, whole_grid, out, n)
    if size == 0.0 or pprice <= 0.0:
        return n
    ws = _workspace(cfg, base, memo)
    _grid_of(cfg, base, mkt, side, balance, size, pprice, ws, memo)
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


@jit
def filled_grid_bound(cfg, base: int, mkt, st, side: int, memo) -> float:
    """For a position of `side` that fills every node of its re-anchored grid, so that `neat_entries` places
    no entry whatever the book: the best bid (long; short: ask) beyond which that can change, as an
    unclamped entry price (long: a bid at or under it may make the position dust at p0 and bring the flat
    grid back; an upper bound). -inf (short: inf) when no book can; inf (short: -inf) when this cannot be
    told; NaN when some node is left (or there is no such position)."""
    balance = st[S_BALANCE]
    size, pprice = side_position(st, side)
    if balance <= 0.0 or cfg[base + P_WEL] <= 0.0 or size == 0.0 or pprice <= 0.0:
        return math.nan
    ws = _workspace(cfg, base, memo)
    _grid_of(cfg, base, mkt, side, balance, size, pprice, ws, memo)
    step = mkt[M_QTY_STEP]
    cum = 0.0
    for k in range(ws.shape[1]):
        cum = round_(cum + ws[_BQ, k], step)
        if round_(cum - abs(size), step) > _FILLED * cum:
            return math.nan
    # only the dust test at p0 can bring an entry back: |Q| < 0.9*min_entry_qty(p0)
    if _FLAT * max(mkt[M_MIN_QTY], step) > abs(size):
        return side * math.inf
    if side < 0 or mkt[M_INVERSE] != 0.0 or mkt[M_MIN_COST] <= 0.0:
        return -side * math.inf  # the minimum does not grow as the book moves p0 away from the position
    # round_up(min_cost/(p0*c_mult)) exceeds its argument by less than a qty step
    room = abs(size) / _FLAT - step
    if not room > 0.0:
        return math.inf
    return mkt[M_MIN_COST] / (mkt[M_C_MULT] * room) * (1.0 + 1e-9)
