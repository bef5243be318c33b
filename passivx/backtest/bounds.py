"""When the ideal orders can change, and how far they can reach while they are not recomputed.

`ideal_orders` costs 0.2-15 us a call and a trade about 10 ns, so the engine calls it only when the
answer can differ from the rows it already has (`passivx.backtest.engine`). These functions hold what
the engine must know about the calculator's outputs for that: `reference` records it when rows are
computed, `landing_outcome` tells, for each later decision, whether those rows still hold. Each rule is
conservative (in doubt, the engine recomputes), and a test replays real data with and without these
shortcuts (`exhaustive`) and compares every fill.

Rules (STRATEGY.md §2-3), for rows computed at a reference state `r` and a later state `s` with the same
balance, positions, fill timers and predicted funding:
- Best bid / ask enter only through clamps (a bid is `min(best_bid, x)`, an ask `max(best_ask, x)`), the
  take-profit filters (long take-profits kept only if >= best_ask, short ones if <= best_bid) and the clock
  delays. The rows stay valid while the best bid stays above the highest bid row (none clamped) and does
  not rise to a short take-profit price the filter dropped; the mirror for asks (`thresholds`).
- An order the calculator considered and left out comes back only when its inputs change: an entry
  left out (grid-mode entries past 1.01 x WEL, a classic re-entry without room, a neat crop to nothing)
  counts as a bid / ask at its unclamped price (`_missing_entry`; where that price cannot be told, the
  rows hold only at the current book), and a position without any close freezes its side of the book
  (`_closeless`). Where a recursive / neat switch (below) can turn, the rows hold only while its initial
  entry price stays put: while the book stays beyond that price's EMA value, or, clamped, at that book.
- Time enters only through the clock and timed auto-unstuck timers (`due_flags`, with the calculator's
  own `clock_delay`); the rows stay valid while none of them comes up.
- The last price enters only the classic soft stop loss: in the price band around `r`'s where its
  conditions (`|liq - p|/p < stop_loss_liq_diff`, `|P - p|/p > stop_loss_pos_price_diff`) cannot change
  the rows hold, outside it the calculator's stop-loss function decides.
- EMA values enter only as rounded prices `ema*(1 -/+ dist)` of initial (and partial initial) entries,
  auto-unstuck orders and clock orders, and through two switches those prices feed: a recursive partial
  initial entry against a re-entry, a neat dust position against its re-anchored grid. While only EMA
  values changed the book is *stale*: `stale_bounds` bounds the nearest price any bid / ask can reach,
  and only a trade through those needs the exact rows (a trade reaching only orders no EMA value prices
  fills those as they are, `fixed_rows`).
Hot functions read states inside the workspace `w` by offset (`passivx.backtest.views`).
"""
import math

from passivx.calc.clock import clock_delay, clock_price
from passivx.calc.contracts import cost_to_qty, liquidation_price, min_entry_qty, wallet_exposure
from passivx.calc.classic import balance_used, reentry as classic_reentry, stop_loss_qty as classic_stop_loss_qty
from passivx.calc.jit import jit, jit_inline
from passivx.calc.layout import (
    C_DO_LONG, C_DO_SHORT, C_EMA_SPREAD, C_FUNDING_COLLECT, C_LONG, C_MIN_MARKUP, C_N_ENTRY, C_SHORT, C_SL_LIQ_DIFF,
    C_SL_PPRICE_DIFF, K_CLOSE, K_UNSTUCK, MODE_CLASSIC, MODE_CLOCK, MODE_RECURSIVE, M_PRICE_STEP, M_QTY_STEP,
    O_KIND, O_POS_SIDE, O_PRICE, O_SIDE, P_AU_EMA_DIST, P_AU_THRESHOLD, P_DELAY_CLOSE, P_DELAY_ENTRY,
    P_DELAY_WEIGHT_CLOSE, P_DELAY_WEIGHT_ENTRY, P_EMA_DIST_CLOSE, P_EMA_DIST_ENTRY, P_ENABLED,
    P_INITIAL_EPRICE_EMA_DIST, P_INITIAL_QTY_PCT, P_MARKUP_RANGE, P_MIN_MARKUP, P_RENTRY_PPRICE_DIST, P_WEL,
    S_BALANCE, S_BEST_ASK, S_BEST_BID, S_LAST_PRICE, S_LONG_EMA0, S_LONG_PRICE, S_LONG_SIZE, S_NOW_MS,
    S_PREDICTED_FUNDING, S_SHORT_PRICE, S_SHORT_SIZE, S_TICK_EMA,
)
from passivx.calc.modes import WE_TOLERANCE
from passivx.calc.neat import filled_grid_bound, neat_entries
from passivx.calc.recursive import entry_node
from passivx.calc.takeprofit import first_tp_price, round_close, tp_prices
from passivx.calc.rounding import iround, round_
from passivx.calc.unstuck import legacy_unstuck
from passivx.backtest.layout import (
    BK_ALIVE, BK_FIXED, BK_MARKET, E_AU_DELAY, E_BA_HI, E_BA_LO, E_BB_HI, E_BB_LO, E_EXHAUSTIVE, E_FIXED_OK,
    E_FLIP_ASK, E_FLIP_BID, E_HB_FIXED, E_LA_FIXED, E_LB, E_LB_EMA, E_MODE, E_M_CLOSE, E_M_ENTRY, E_P_HI, E_P_LO,
    E_REF_DUE, E_REF_OK, E_REF_SL, E_REF_VERSION, E_T_FLIP, E_UB, E_UB_EMA, E_X_HI, E_X_LO, W_BST, W_CFG, W_MKT,
    W_RST,
)
from passivx.backtest.views import band, cfg_of, decision_at, memo_of, mkt_of, position, timers

_REL = 1e-9  # relative slack on unrounded prices (the rounding guard can move a value a hair)
_EPS = 1e-12  # relative nudge past a price that must be crossed or touched
_X_RANGE = 1.1  # the initial-entry price may move this factor either way before the switches are re-checked,
_X_NEAR = 1.005  # or only this factor when that keeps a switch off that the wider range would have to allow


@jit
def _base(k: int) -> int:
    """Workspace offset of side k's block of the config vector."""
    return W_CFG + (C_LONG if k == 0 else C_SHORT)


@jit
def _timer_delays(w, o: int, k: int):
    """(clock entry, clock close, timed auto-unstuck) delays in ms of side k of the state at offset `o`;
    0 for a timer the mode does not use."""
    if int(w[E_MODE]) != MODE_CLOCK:
        return 0.0, 0.0, w[E_AU_DELAY + k]
    b = _base(k)
    side = 1 - 2 * k
    pos_price = position(w, o, k)[1]
    bb, ba = w[o + S_BEST_BID], w[o + S_BEST_ASK]
    return (clock_delay(w[b + P_DELAY_ENTRY], w[b + P_DELAY_WEIGHT_ENTRY], side, pos_price, bb, ba),
            clock_delay(w[b + P_DELAY_CLOSE], w[b + P_DELAY_WEIGHT_CLOSE], -side, pos_price, bb, ba), 0.0)


@jit
def due_flags(w, o: int) -> int:
    """Bitmask of the timers that are up in the state at offset `o` (3 bits per side: clock entry, clock
    close, timed auto-unstuck). The orders depend on time only through these."""
    if int(w[E_MODE]) == MODE_CLASSIC:
        return 0
    now = w[o + S_NOW_MS]
    flags = 0
    for k in range(2):
        if position(w, o, k)[0] == 0.0:
            continue
        last = timers(w, o, k)
        delays = _timer_delays(w, o, k)
        for j in range(3):
            if delays[j] > 0.0 and now - last[j] > delays[j]:
                flags |= 1 << (3 * k + j)
    return flags


@jit
def next_timer(w, o: int) -> float:
    """First whole millisecond after the state's time at which a timer comes up (best bid / ask held).
    Kept apart from `due_flags`, its twin loop: one function for both slowed the clock replay by a quarter."""
    if int(w[E_MODE]) == MODE_CLASSIC:
        return math.inf
    now = w[o + S_NOW_MS]
    best = math.inf
    for k in range(2):
        if position(w, o, k)[0] == 0.0:
            continue
        last = timers(w, o, k)
        delays = _timer_delays(w, o, k)
        for j in range(3):
            if delays[j] > 0.0 and not now - last[j] > delays[j]:
                best = min(best, math.floor(last[j] + delays[j]) + 1.0)
    return max(best, now + 1.0)


@jit
def _missing_entry(w, bk, n: int, out, k: int) -> float:
    """Unclamped price of the entry of side k that the calculator considered for the book decision and
    left out (grid-mode entries past 1.01 x WEL, a classic re-entry with no room, a neat crop to nothing),
    as a price the book must not reach: such an entry's price is `min(best_bid, its own price)` (short:
    `max`), so it stays out while the book stays beyond that price. -inf (short: inf) when the side has an
    entry row or none can come back whatever the book does; inf (short: -inf) when this cannot be told.
    `out` is scratch space for the calculator."""
    side = 1 - 2 * k
    none, unknown = -side * math.inf, side * math.inf
    for r in range(n):
        if bk[r, O_POS_SIDE] == side and bk[r, O_SIDE] == side:
            return none
    mode = int(w[E_MODE])
    cfg, mkt, st = cfg_of(w), mkt_of(w), decision_at(w, W_BST)
    size, pos_price = position(w, W_BST, k)
    if mode == MODE_CLASSIC:  # re-entries of a position: the first one is clamped to the book
        bal = balance_used(cfg, st)
        if size == 0.0 or iround(cfg[C_N_ENTRY]) < 1 or bal <= 0.0:
            return none
        return classic_reentry(cfg, mkt, bal, side, size, pos_price, unknown)[0]
    base = _base(k) - W_CFG
    balance, wel = st[S_BALANCE], cfg[base + P_WEL]
    if cfg[base + P_ENABLED] == 0.0 or balance <= 0.0:
        return none
    if mode == MODE_RECURSIVE:  # every other reason to place nothing holds whatever the book
        node = entry_node(cfg, base, mkt, st, side, size, pos_price, unknown, legacy_unstuck(cfg))
        return node[1] if node[0] > 0.0 else none
    we = wallet_exposure(size, pos_price, balance, mkt)
    if mode == MODE_CLOCK:
        if not we < 0.99 * wel or (size != 0.0 and not due_flags(w, W_BST) >> (3 * k) & 1):
            return none
    elif we > wel * WE_TOLERANCE:  # neat: any entry would take exposure past the tolerance
        return none
    book = W_BST + (S_BEST_BID if k == 0 else S_BEST_ASK)
    held = w[book]
    w[book] = unknown
    if mode == MODE_CLOCK:
        price = clock_price(mkt, st, side, side, cfg[base + P_EMA_DIST_ENTRY])
    else:
        memo = memo_of(w)
        if neat_entries(cfg, base, mkt, st, side, False, out, 0, memo) > 0:
            price = out[0, O_PRICE]
        else:  # every node filled (then only the dust test can bring one back) or cropped away (unknown)
            price = filled_grid_bound(cfg, base, mkt, st, side, memo)
            if math.isnan(price):
                price = unknown
    w[book] = held
    return price


@jit
def _nearest_take_profit(w, k: int) -> float:
    """Grid modes: the nearest take-profit price of side k that the book filter keeps at the book decision
    (whether or not a close row sits there: the split of the qty depends on how many are kept); inf
    (short: -inf) when none (with a position, the close then sits at the top of the book, a row)."""
    side = 1 - 2 * k
    size, pos_price = position(w, W_BST, k)
    if size != 0.0:
        p = first_tp_price(cfg_of(w), _base(k) - W_CFG, mkt_of(w), side, pos_price, w[W_BST + S_BALANCE],
                           w[W_BST + S_BEST_BID], w[W_BST + S_BEST_ASK])
        if not math.isnan(p):
            return p
    return side * math.inf


@jit
def _beyond_take_profits(w, k: int, price: float) -> bool:
    """Whether `price` may lie beyond side k's nearest take-profit at the book decision (long: above it), so
    that `_nearest_take_profit` can be nearer; False when every take-profit point lies at or beyond it
    (their nearest, rounded away from the position, is a cheap bound)."""
    side = 1 - 2 * k
    size, pos_price = position(w, W_BST, k)
    if size == 0.0:
        return False
    b = _base(k)
    lo = w[b + P_MIN_MARKUP]
    edge = pos_price * (1.0 + side * min(lo, lo + w[b + P_MARKUP_RANGE])) * (1.0 - side * _REL)
    return side * price > side * round_close(edge, side, w[W_MKT + M_PRICE_STEP])


@jit
def _closeless(w, bk, n: int, k: int) -> bool:
    """Whether side k holds a position and the rows have no close of it."""
    side = 1 - 2 * k
    if position(w, W_BST, k)[0] == 0.0:
        return False
    for r in range(n):
        if bk[r, O_POS_SIDE] == side and bk[r, O_SIDE] == -side:
            return False
    return True


@jit
def thresholds(w, bk, n: int, out) -> None:
    """Best bid / ask limits within which `n` book rows computed at the book decision stay valid (`out`:
    scratch rows for `_missing_entry`)."""
    bb, ba = w[W_BST + S_BEST_BID], w[W_BST + S_BEST_ASK]
    # an entry the calculator left out counts as a row at its unclamped price: it may come back (or
    # change) once the book reaches that price
    hb, la = _missing_entry(w, bk, n, out, 0), _missing_entry(w, bk, n, out, 1)
    # a position without any close (a remainder under the minimum at its take-profit price) gets one at
    # the top of the book once the filter drops that price: the rows hold only at this book
    if _closeless(w, bk, n, 1):
        hb = math.inf
    if _closeless(w, bk, n, 0):
        la = -math.inf
    for r in range(n):
        if bk[r, BK_MARKET] != 0.0:
            continue
        if bk[r, O_SIDE] > 0.0:
            hb = max(hb, bk[r, O_PRICE])
        else:
            la = min(la, bk[r, O_PRICE])
    if int(w[E_MODE]) != MODE_CLASSIC:  # the take-profit split changes once the book reaches a kept price
        if _beyond_take_profits(w, 1, hb):
            hb = max(hb, _nearest_take_profit(w, 1))
        if _beyond_take_profits(w, 0, la):
            la = min(la, _nearest_take_profit(w, 0))
    # a row within rounding noise of the book (106.07 against a print of 106.07000000000001) is clamped to it
    if hb >= bb * (1.0 - _REL):
        w[E_BB_LO], w[E_BB_HI] = bb, bb
    else:
        w[E_BB_LO], w[E_BB_HI] = hb, math.inf
    if la <= ba * (1.0 + _REL):
        w[E_BA_LO], w[E_BA_HI] = ba, ba
    else:
        w[E_BA_LO], w[E_BA_HI] = -math.inf, la
    for k in range(2):
        size, pos_price = position(w, W_BST, k)
        if size != 0.0:
            edge = _filtered_take_profit(w, bk, n, k, pos_price)
            if k == 0 and edge < ba:  # a long take-profit under the ask comes back when the ask falls to it
                w[E_BA_LO] = max(w[E_BA_LO], edge + abs(edge) * _EPS)
            elif k == 1 and edge > bb:
                w[E_BB_HI] = min(w[E_BB_HI], edge - abs(edge) * _EPS)


@jit
def _filtered_take_profit(w, bk, n: int, k: int, pos_price: float) -> float:
    """The take-profit price of side k nearest to the book among those the filter drops (long: the highest
    under the best ask; short: the lowest over the best bid), or -inf / inf when none can be.

    Grid modes ask the calculator for every take-profit price (`tp_prices` with the filter off). The
    classic grid is evenly spaced from `P*(1+min_markup)` and rounded away from the position (STRATEGY
    §2), with as many points as its qty allows: with two kept take-profits t1 (nearest) and t2 the next
    price toward the book lies within `t1 - (t2 - t1) +- 2 price steps`; with fewer, any price beyond
    `P*(1+min_markup)` may be one."""
    side = 1 - 2 * k
    book = w[W_BST + S_BEST_ASK] if k == 0 else w[W_BST + S_BEST_BID]
    none = -math.inf if k == 0 else math.inf
    if int(w[E_MODE]) != MODE_CLASSIC:
        # the points run outward from P*(1 +- min_markup): when its rounded price is kept, all are
        first = pos_price * (1.0 + side * w[_base(k) + P_MIN_MARKUP])
        if side * round_close(first, side, w[W_MKT + M_PRICE_STEP]) >= side * book:
            return none
        prices, count, _ = tp_prices(cfg_of(w), _base(k) - W_CFG, mkt_of(w), side, pos_price,
                                     w[W_BST + S_BALANCE], math.inf, -math.inf, memo_of(w))
        edge = none
        for i in range(count):
            if side * prices[i] < side * book:
                edge = prices[i] if edge == none or side * prices[i] > side * edge else edge
        return edge
    first = pos_price * (1.0 + side * w[W_CFG + C_MIN_MARKUP]) * (1.0 - side * _REL)
    if side * first >= side * book:
        return none
    t1, t2 = none, none  # the nearest and next kept take-profit (long: lowest asks)
    for r in range(n):
        if bk[r, O_POS_SIDE] == side and bk[r, O_KIND] == K_CLOSE and bk[r, BK_MARKET] == 0.0:
            p = bk[r, O_PRICE]
            if t1 == none or side * p < side * t1:
                t1, t2 = p, t1
            elif p != t1 and (t2 == none or side * p < side * t2):
                t2 = p
    edge = book * (1.0 - side * 2.0 * _EPS)
    if t2 != none:
        ps = w[W_MKT + M_PRICE_STEP]
        guess = 2.0 * t1 - t2 + side * 2.0 * ps
        edge = min(edge, guess) if k == 0 else max(edge, guess)
    return edge if side * edge >= side * first else none


@jit
def _stop_loss_band(cfg, mkt, st):
    """Last-price band around `st`'s in which the classic soft stop loss keeps its state (module doc)."""
    if st[S_LONG_SIZE] > 0.0:
        pos_price = st[S_LONG_PRICE]
        liq = liquidation_price(st[S_BALANCE], st[S_LONG_SIZE], pos_price, 0.0, 0.0, mkt)
    elif st[S_SHORT_SIZE] < 0.0:
        pos_price = st[S_SHORT_PRICE]
        liq = liquidation_price(st[S_BALANCE], 0.0, 0.0, st[S_SHORT_SIZE], pos_price, mkt)
    else:
        return -math.inf, math.inf
    p = st[S_LAST_PRICE]
    lo, hi = -math.inf, math.inf
    for k in range(4):
        ref = liq if k < 2 else pos_price
        d = cfg[C_SL_LIQ_DIFF] if k < 2 else cfg[C_SL_PPRICE_DIFF]
        div = 1.0 + d if k % 2 == 0 else 1.0 - d
        if ref <= 0.0 or div <= 0.0:
            continue
        edge = ref / div
        if edge * (1.0 + _REL) < p:
            lo = max(lo, edge * (1.0 + _REL))
        elif edge * (1.0 - _REL) > p:
            hi = min(hi, edge * (1.0 - _REL))
        else:
            return p, p
    return lo, hi


@jit
def _entry_x(w, o: int, k: int) -> float:
    """Side k's initial entry price before rounding: `min(best_bid, lower*(1-d))` / `max(best_ask, upper*(1+d))`."""
    lower, upper = band(w, o, k)
    d = w[_base(k) + P_INITIAL_EPRICE_EMA_DIST]
    if k == 0:
        return min(w[o + S_BEST_BID], lower * (1.0 - d))
    return max(w[o + S_BEST_ASK], upper * (1.0 + d))


@jit
def _hold_entry_price(w, k: int) -> None:
    """The book decision's rows hold only while side k's initial entry price stays where it is: while the
    best bid (long; short: ask) stays beyond its EMA price, or, when it is (or, within rounding, may be)
    clamped to the book, only at that book."""
    lower, upper = band(w, W_BST, k)
    d = w[_base(k) + P_INITIAL_EPRICE_EMA_DIST]
    if k == 0:
        edge, bb = lower * (1.0 - d) * (1.0 + _REL), w[W_BST + S_BEST_BID]
        if edge >= bb:
            w[E_BB_LO] = w[E_BB_HI] = bb
        else:
            w[E_BB_LO] = max(w[E_BB_LO], edge)
    else:
        edge, ba = upper * (1.0 + d) * (1.0 - _REL), w[W_BST + S_BEST_ASK]
        if edge <= ba:
            w[E_BA_LO] = w[E_BA_HI] = ba
        else:
            w[E_BA_HI] = min(w[E_BA_HI], edge)


@jit
def _flip_possible(w, mkt, k: int, x_lo: float, x_hi: float) -> bool:
    """Whether, for an initial entry price between `x_lo` and `x_hi` (before rounding), side k's position
    at the book decision is small enough for the EMA-priced entry to appear: recursive `|Q| < 0.8*q0`
    (partial initial entry), neat `|Q| < 0.9*min_entry_qty(p0)` (dust). Both are monotone in price."""
    ps = mkt[M_PRICE_STEP]
    lo, hi = max(ps, x_lo - ps), max(ps, x_hi + ps)
    size = abs(position(w, W_BST, k)[0])
    min_qty = max(min_entry_qty(lo, mkt), min_entry_qty(hi, mkt))
    if int(w[E_MODE]) != MODE_RECURSIVE:
        return size < 0.9 * min_qty
    b = _base(k)
    cost = w[W_BST + S_BALANCE] * w[b + P_WEL] * w[b + P_INITIAL_QTY_PCT]
    # q0 = max(min qty, round_(cost_to_qty(cost, price))): rounding is monotone, so its largest value over
    # the range is the rounded largest qty
    raw = max(cost_to_qty(cost, lo, mkt), cost_to_qty(cost, hi, mkt))
    return size < 0.8 * max(min_qty, round_(raw, mkt[M_QTY_STEP]))


@jit
def _nearer(order_side: float, a: float, b: float) -> float:
    """The nearer to the market of two prices (or price multipliers): the higher for bids, lower for asks."""
    return max(a, b) if order_side > 0.0 else min(a, b)


@jit
def _side_rules(w, k: int, flags: int) -> None:
    """EMA rules of side k (0 long, 1 short) at the book decision: multipliers of its EMA band giving its
    nearest EMA-priced entry and close, the nearest price a switch can bring an entry to, and the range
    of initial entry prices these hold for. No such order: multiplier 0 for bids, inf for asks."""
    side = 1 - 2 * k
    mode = int(w[E_MODE])
    b = _base(k)
    mkt = mkt_of(w)
    size, pos_price = position(w, W_BST, k)
    balance = w[W_BST + S_BALANCE]
    entry = 0.0 if side > 0 else math.inf  # the long side enters with bids, the short side with asks
    close = math.inf if side > 0 else 0.0
    flip = -math.inf if side > 0 else math.inf
    w[E_X_LO + k], w[E_X_HI + k] = -math.inf, math.inf
    we = wallet_exposure(size, pos_price, balance, mkt)
    threshold = w[b + P_AU_THRESHOLD]
    if w[b + P_ENABLED] != 0.0:
        if mode == MODE_CLOCK:
            if size == 0.0 or flags >> (3 * k) & 1:
                entry = _nearer(side, entry, 1.0 - side * w[b + P_EMA_DIST_ENTRY])
        else:
            possible = False
            if size != 0.0:
                x = _entry_x(w, W_BST, k)
                reach = _X_RANGE
                possible = _flip_possible(w, mkt, k, x / reach, x * reach)
                if possible and not _flip_possible(w, mkt, k, x / _X_NEAR, x * _X_NEAR):
                    possible, reach = False, _X_NEAR
                w[E_X_LO + k], w[E_X_HI + k] = x / reach, x * reach
                if possible:  # the switch turns with the initial entry price, which the book can clamp
                    _hold_entry_price(w, k)
            if size == 0.0 or possible:
                entry = _nearer(side, entry, 1.0 - side * w[b + P_INITIAL_EPRICE_EMA_DIST])
            if possible:  # the re-entry a partial initial entry stands for, or the re-anchored neat grid
                d = w[b + P_RENTRY_PPRICE_DIST] if mode == MODE_RECURSIVE else 0.0
                flip = pos_price * (1.0 - side * d)
            if (mode == MODE_RECURSIVE and legacy_unstuck(cfg_of(w)) and threshold != 0.0 and size != 0.0
                    and we > 0.99 * w[b + P_WEL] * (1.0 - threshold)):
                entry = _nearer(side, entry, 1.0 - side * w[b + P_AU_EMA_DIST])
    if size != 0.0:
        if mode == MODE_CLOCK:
            if flags >> (3 * k + 1) & 1:
                close = _nearer(-side, close, 1.0 + side * w[b + P_EMA_DIST_CLOSE])
        elif threshold != 0.0 and we > w[b + P_WEL] * (1.0 - threshold) and (
                w[E_AU_DELAY + k] == 0.0 or flags >> (3 * k + 2) & 1):  # legacy, or its timer is up
            close = _nearer(-side, close, 1.0 + side * w[b + P_AU_EMA_DIST])
    nudge = 1.0 + side * _REL  # the rounding guard can move a price a hair toward the market
    w[E_M_ENTRY + k] = entry * nudge
    w[E_M_CLOSE + k] = close / nudge
    w[E_FLIP_BID if side > 0 else E_FLIP_ASK] = flip * nudge


@jit
def _prepare(w, flags: int) -> None:
    """Set up the time, last-price and EMA rules for rows computed at the book decision (timer flags
    `flags`)."""
    mode = int(w[E_MODE])
    w[E_P_LO], w[E_P_HI] = -math.inf, math.inf
    w[E_T_FLIP] = math.inf
    w[E_FLIP_BID], w[E_FLIP_ASK] = -math.inf, math.inf
    w[E_X_LO], w[E_X_HI], w[E_X_LO + 1], w[E_X_HI + 1] = -math.inf, math.inf, -math.inf, math.inf
    if mode == MODE_CLASSIC:
        cfg = cfg_of(w)
        w[E_P_LO], w[E_P_HI] = _stop_loss_band(cfg, mkt_of(w), decision_at(w, W_BST))
        flat = w[W_BST + S_LONG_SIZE] == 0.0 and w[W_BST + S_SHORT_SIZE] == 0.0
        funding = cfg[C_FUNDING_COLLECT] != 0.0
        predicted = w[W_BST + S_PREDICTED_FUNDING]
        long_ok = flat and cfg[C_DO_LONG] != 0.0 and not (funding and predicted >= 0.0)
        short_ok = flat and cfg[C_DO_SHORT] != 0.0 and not (funding and predicted <= 0.0)
        w[E_M_ENTRY] = (1.0 - cfg[C_EMA_SPREAD]) * (1.0 + _REL) if long_ok else 0.0
        w[E_M_ENTRY + 1] = (1.0 + cfg[C_EMA_SPREAD]) * (1.0 - _REL) if short_ok else math.inf
        w[E_M_CLOSE], w[E_M_CLOSE + 1] = math.inf, 0.0
        return
    for k in range(2):
        _side_rules(w, k, flags)
    if mode != MODE_CLOCK:
        w[E_T_FLIP] = next_timer(w, W_BST)


@jit
def fixed_rows(w, bk, n: int) -> None:
    """Flag the rows whose price no EMA value sets (all but the entries of a flat side or of clock mode,
    of the classic strategy, whose only EMA orders are its flat entries, and the auto-unstuck orders) and
    record the highest such bid and lowest such ask. Entries of a side with a position in the grid modes
    count as fixed, though a partial initial entry follows the EMA: that only loosens the bounds, and
    `E_FIXED_OK` is off then (and when auto-unstuck is active or in clock mode, whose closes follow the
    EMA) so those rows are never filled without computing them."""
    mode = int(w[E_MODE])
    hb, la = -math.inf, math.inf
    for r in range(n):
        pos_side = bk[r, O_POS_SIDE]
        entry = bk[r, O_SIDE] == pos_side
        ema = int(bk[r, O_KIND]) == K_UNSTUCK or (entry and (
            mode == MODE_CLASSIC or mode == MODE_CLOCK or position(w, W_BST, 0 if pos_side > 0.0 else 1)[0] == 0.0))
        bk[r, BK_FIXED] = 0.0 if ema or bk[r, BK_MARKET] != 0.0 else 1.0
        if bk[r, BK_FIXED] == 0.0 or bk[r, BK_ALIVE] == 0.0:
            continue
        if bk[r, O_SIDE] > 0.0:
            hb = max(hb, bk[r, O_PRICE])
        else:
            la = min(la, bk[r, O_PRICE])
    w[E_HB_FIXED], w[E_LA_FIXED] = hb, la
    w[E_FIXED_OK] = 1.0 if (mode != MODE_CLASSIC and mode != MODE_CLOCK and w[E_M_CLOSE] == math.inf
                            and w[E_M_CLOSE + 1] == 0.0 and w[E_FLIP_BID] == -math.inf
                            and w[E_FLIP_ASK] == math.inf) else 0.0


@jit
def stop_loss_qty(w, o: int) -> float:
    """The classic soft stop-loss qty of the position in the state at offset `o` (0 when none)."""
    if int(w[E_MODE]) != MODE_CLASSIC:
        return 0.0
    for k in range(2):
        size, pos_price = position(w, o, k)
        if size != 0.0:
            return classic_stop_loss_qty(cfg_of(w), mkt_of(w), decision_at(w, o), size, pos_price)
    return 0.0


@jit
def reference(w, bk, n: int, out) -> None:
    """Everything `landing_outcome` needs about `n` rows just computed at the book decision (the rows
    filled since that decision already dropped; `out`: scratch rows)."""
    thresholds(w, bk, n, out)
    w[E_REF_SL] = stop_loss_qty(w, W_BST)
    flags = due_flags(w, W_BST)
    w[E_REF_DUE] = flags
    _prepare(w, flags)
    fixed_rows(w, bk, n)


@jit
def _stale_ok(w, o: int) -> bool:
    """Whether the initial entry prices of the state at offset `o` stay in the range the EMA rules hold for."""
    for k in range(2):
        if w[E_X_LO + k] > -math.inf and not w[E_X_LO + k] <= _entry_x(w, o, k) <= w[E_X_HI + k]:
            return False
    return True


@jit_inline
def landing_outcome(w, o: int, version: float) -> int:
    """Whether the book rows (computed at the reference decision) are the orders of the state at offset
    `o` (`version`: its count of position / balance changes): 0 no (compute them), 1 yes, 2 yes but for
    EMA-priced orders, whose reach `stale_bounds` tells. No side effects: the engine runs it at every
    landing, and at a decision to drop one that would change nothing."""
    if w[E_EXHAUSTIVE] != 0.0 or w[E_REF_OK] == 0.0 or version != w[E_REF_VERSION]:
        return 0
    bb, ba = w[o + S_BEST_BID], w[o + S_BEST_ASK]
    if bb < w[E_BB_LO] or bb > w[E_BB_HI] or ba < w[E_BA_LO] or ba > w[E_BA_HI]:
        return 0
    mode = int(w[E_MODE])
    if mode == MODE_CLASSIC:
        p = w[o + S_LAST_PRICE]
        if not w[E_P_LO] < p < w[E_P_HI] and stop_loss_qty(w, o) != w[E_REF_SL]:
            return 0
        if w[o + S_TICK_EMA] == w[W_RST + S_TICK_EMA] or w[o + S_LONG_SIZE] != 0.0 or w[o + S_SHORT_SIZE] != 0.0:
            return 1
        return 2
    if mode == MODE_CLOCK:
        if due_flags(w, o) != int(w[E_REF_DUE]):
            return 0
    elif w[o + S_NOW_MS] >= w[E_T_FLIP]:
        return 0
    if not _stale_ok(w, o):
        return 0
    for j in range(6):
        if w[o + S_LONG_EMA0 + j] != w[W_RST + S_LONG_EMA0 + j]:
            return 2
    return 1


@jit
def stale_bounds(w) -> None:
    """For a book decision whose outcome is 2: the nearest prices its EMA-priced bids / asks can reach
    (`E_UB_EMA` / `E_LB_EMA`) and the book bounds `E_UB` / `E_LB` with the fixed rows."""
    bb, ba = w[W_BST + S_BEST_BID], w[W_BST + S_BEST_ASK]
    if int(w[E_MODE]) == MODE_CLASSIC:
        bid = w[W_BST + S_TICK_EMA] * w[E_M_ENTRY]
        ask = w[W_BST + S_TICK_EMA] * w[E_M_ENTRY + 1]
    else:
        lower_long, upper_long = band(w, W_BST, 0)
        lower_short, upper_short = band(w, W_BST, 1)
        bid = max(lower_long * w[E_M_ENTRY], lower_short * w[E_M_CLOSE + 1], w[E_FLIP_BID])
        ask = min(upper_short * w[E_M_ENTRY + 1], upper_long * w[E_M_CLOSE], w[E_FLIP_ASK])
        if int(w[E_MODE]) != MODE_CLOCK:  # an auto-unstuck close switching off gives its qty back to the grid
            if w[E_M_CLOSE] != math.inf and _beyond_take_profits(w, 0, ask):
                ask = min(ask, _nearest_take_profit(w, 0))
            if w[E_M_CLOSE + 1] != 0.0 and _beyond_take_profits(w, 1, bid):
                bid = max(bid, _nearest_take_profit(w, 1))
    ps = w[W_MKT + M_PRICE_STEP]
    w[E_UB_EMA] = min(bb, bid + ps)
    w[E_LB_EMA] = max(ba, ask - ps)
    w[E_UB] = max(w[E_HB_FIXED], w[E_UB_EMA])  # fixed bids sit under the best bid (thresholds)
    w[E_LB] = min(w[E_LA_FIXED], w[E_LB_EMA])
