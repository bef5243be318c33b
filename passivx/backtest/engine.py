"""The jitted replay of trades or 1-minute candles through the calculator's `ideal_orders`, with the
fill, latency and pace rules of `passivx.backtest` (package doc).

Per trade the loop does a few comparisons: pending events, the nearest resting bid / ask, the
liquidation price, the best bid / ask, the EMA, the equity high / low. Everything else is an event:
- a *decision* (the bot recomputing its orders) is scheduled by every trade, at most once per
  `PACE_MS` after the previous one, and at once after a fill; it stores a copy of the state, unless
  nothing is pending and the exact book already holds its orders (`bounds.landing_outcome`);
- its *landing*, `latency_simulation_ms` later, makes that state's orders the resting ones. The rows are
  computed (`ideal_orders`) only if something they depend on changed since the rows in the book were
  computed (`passivx.backtest.bounds`); while only EMA values changed the book is *stale* and the loop
  tests trades against bounds of how far the orders can reach, computing the rows when a trade gets
  there;
- minute boundaries (band EMAs, modes; on candles taken with the candle that closes the minute),
  funding settlements, clock / auto-unstuck timers, curve samples.
All state lives in arrays (`passivx.backtest.layout`), so `replay` can stop at any trade and go on with
the next day's arrays; it returns the index to resume at (it stops early to let the caller empty the
fills buffer, after a liquidation, or on a decision-ring overflow).
"""
import math

from passivx.calc.contracts import qty_to_cost, wallet_exposure
from passivx.calc.ema import ema_update
from passivx.calc.entry import ideal_orders
from passivx.calc.jit import jit
from passivx.calc.layout import (
    K_ENTRY, K_STOP_LOSS, K_UNSTUCK, MODE_CLASSIC, M_MAKER_FEE, M_TAKER_FEE, O_KIND, O_POS_SIDE, O_PRICE, O_QTY,
    O_REDUCE_ONLY, O_SIDE, ST_SIZE, S_BALANCE, S_BEST_ASK, S_BEST_BID, S_LAST_PRICE, S_LONG_EMA0,
    S_LONG_LAST_ENTRY_MS, S_LONG_PRICE, S_LONG_SIZE, S_NOW_MS, S_PREDICTED_FUNDING, S_SHORT_LAST_ENTRY_MS,
    S_SHORT_PRICE, S_SHORT_SIZE, S_TICK_EMA,
)
from passivx.backtest.accounting import apply_fill, equity, refresh_risk
from passivx.backtest.book import best_row, drop_filled, extremes, load_rows, market_row
from passivx.backtest.bounds import fixed_rows, landing_outcome, next_timer, reference, stale_bounds
from passivx.backtest.layout import (
    BK_ALIVE, BK_MARKET, E_ALPHA, E_BAND_ALPHA, E_CLOSEST_LIQ, E_DEC_T, E_EQ_DIR, E_ERROR, E_EXHAUSTIVE, E_FEES,
    E_FILL_SEQ, E_FIRST_T, E_FIXED_OK, E_FUNDING, E_FUND_I, E_HB, E_HB_FIXED, E_LA, E_LAST_DEC, E_LAST_FILL_T,
    E_LAST_T, E_LAT, E_LA_FIXED, E_LB, E_LB_EMA, E_LIQ, E_LIQUIDATED, E_LIQ_S, E_LIQ_X, E_MAX_DD, E_MAX_GAP, E_MODE,
    E_N_BOOK, E_N_CALLS, E_N_CLOSES, E_N_DECISIONS, E_N_ENTRIES, E_N_FBUF, E_N_FILLS, E_N_LIQ, E_N_SAMPLES, E_N_SL,
    E_N_TRADES, E_N_UNSTUCK, E_PACE, E_PEAK, E_REF_OK, E_REF_VERSION, E_RING_HEAD, E_RING_N, E_RPNL, E_SAMPLE_MS,
    E_STALE, E_STARTED, E_T_EVT, E_T_FUND, E_T_LAND, E_T_MINUTE, E_T_SAMPLE, E_T_TIMER, E_UB, E_UB_EMA, E_VERSION,
    E_VOLUME, E_XMAX, E_XMIN, F_BALANCE, F_CAP, F_EQUITY, F_FEE, F_KIND, F_LONG_PRICE, F_LONG_SIZE, F_MARK, F_PNL,
    F_POS_SIDE, F_PRICE, F_QTY, F_ROOM, F_SHORT_PRICE, F_SHORT_SIZE, F_SIDE, F_T, F_TAKER, K_LIQUIDATION, MINUTE_MS,
    RF_CAP, RF_MARKET, RF_POS_SIDE, RF_PRICE, RF_QTY, RF_SIDE, RING_CAP, RING_W, R_SEQ, R_T, R_VERSION, SM_BALANCE,
    SM_EQUITY, SM_LIQ, SM_LONG_PRICE, SM_LONG_SIZE, SM_PRICE, SM_SHORT_PRICE, SM_SHORT_SIZE, SM_T, SM_WE_LONG,
    SM_WE_SHORT, W_BST, W_RST, W_ST,
)
from passivx.backtest.views import cfg_of, decision_at, memo_of, mkt_of, st_of, unowned


# ---- equity segments (max drawdown, closest liquidation) ----------------------------------------
@jit
def _flush_segment(w) -> None:
    """Account the equity high and the lowest point after it of the current constant-position segment
    (equity is monotone in price while the position is constant)."""
    d = w[E_EQ_DIR]
    if d == 0.0:
        return
    st, mkt = st_of(w), mkt_of(w)
    w[E_PEAK] = max(w[E_PEAK], equity(st, mkt, w[E_XMAX] * d))
    low_price = w[E_XMIN] * d
    if w[E_PEAK] > 0.0:
        w[E_MAX_DD] = max(w[E_MAX_DD], (w[E_PEAK] - equity(st, mkt, low_price)) / w[E_PEAK])
    if w[E_LIQ] > 0.0:
        w[E_CLOSEST_LIQ] = min(w[E_CLOSEST_LIQ], abs(low_price - w[E_LIQ]) / low_price)


@jit
def _feed(w, price: float) -> None:
    """One price of the current segment (the loop inlines the common case)."""
    x = price * w[E_EQ_DIR]
    if x > w[E_XMAX]:
        if w[E_XMIN] < w[E_XMAX]:
            _flush_segment(w)
        w[E_XMAX] = x
        w[E_XMIN] = x
    elif x < w[E_XMIN]:
        w[E_XMIN] = x


@jit
def _new_segment(w, price: float) -> None:
    """After a position or balance change: risk figures, and a segment starting at `price`."""
    st, mkt = st_of(w), mkt_of(w)
    refresh_risk(st, mkt, w)
    w[E_XMAX] = w[E_XMIN] = price * w[E_EQ_DIR]
    e = equity(st, mkt, price)
    w[E_PEAK] = max(w[E_PEAK], e)
    if w[E_PEAK] > 0.0:
        w[E_MAX_DD] = max(w[E_MAX_DD], (w[E_PEAK] - e) / w[E_PEAK])
    if w[E_LIQ] > 0.0:
        w[E_CLOSEST_LIQ] = min(w[E_CLOSEST_LIQ], abs(price - w[E_LIQ]) / price)


# ---- fills ----------------------------------------------------------------------------------------
@jit
def _record(t, kind: int, side: float, pos_side: float, reduce_only: bool, price: float, qty: float, fee: float,
            realised: float, taker: bool, mark: float, w, fills) -> None:
    """Book-keeping of one fill: output row, counters, fill timers."""
    st, mkt = st_of(w), mkt_of(w)
    k = int(w[E_N_FBUF])
    fills[k, F_T] = t
    fills[k, F_KIND] = kind
    fills[k, F_SIDE] = side
    fills[k, F_POS_SIDE] = pos_side
    fills[k, F_PRICE] = price
    fills[k, F_QTY] = qty
    fills[k, F_FEE] = fee
    fills[k, F_PNL] = realised
    fills[k, F_BALANCE] = st[S_BALANCE]
    fills[k, F_LONG_SIZE] = st[S_LONG_SIZE]
    fills[k, F_LONG_PRICE] = st[S_LONG_PRICE]
    fills[k, F_SHORT_SIZE] = st[S_SHORT_SIZE]
    fills[k, F_SHORT_PRICE] = st[S_SHORT_PRICE]
    fills[k, F_EQUITY] = equity(st, mkt, mark)
    fills[k, F_MARK] = mark
    fills[k, F_TAKER] = 1.0 if taker else 0.0
    w[E_N_FBUF] = k + 1
    w[E_FILL_SEQ] += 1.0
    w[E_N_FILLS] += 1.0
    w[E_FEES] += fee
    w[E_RPNL] += realised
    w[E_VOLUME] += qty_to_cost(qty, price, mkt)
    w[E_MAX_GAP] = max(w[E_MAX_GAP], t - w[E_LAST_FILL_T])
    w[E_LAST_FILL_T] = t
    timer = S_LONG_LAST_ENTRY_MS if pos_side > 0.0 else S_SHORT_LAST_ENTRY_MS
    if kind == K_ENTRY:
        w[E_N_ENTRIES] += 1.0
        st[timer] = t
    elif kind == K_UNSTUCK:
        w[E_N_UNSTUCK] += 1.0
        st[timer + (2 if reduce_only else 0)] = t
    elif kind == K_LIQUIDATION:
        w[E_N_LIQ] += 1.0
    else:
        w[E_N_SL if kind == K_STOP_LOSS else E_N_CLOSES] += 1.0
        st[timer + 1] = t


@jit
def _fill_row(r: int, t, price: float, taker: bool, mark: float, w, bk, fills, rf) -> None:
    """Fill book row `r` at `price` (maker fee, or taker for a market order) and remove it."""
    bk[r, BK_ALIVE] = 0.0
    mkt = mkt_of(w)
    side, pos_side, reduce_only = bk[r, O_SIDE], bk[r, O_POS_SIDE], bk[r, O_REDUCE_ONLY] != 0.0
    fee_rate = mkt[M_TAKER_FEE] if taker else mkt[M_MAKER_FEE]
    one_way = int(w[E_MODE]) == MODE_CLASSIC
    qty, realised, fee = apply_fill(st_of(w), mkt, one_way, side, pos_side, reduce_only, price, bk[r, O_QTY],
                                    fee_rate)
    if qty > 0.0:
        f = int(w[E_FILL_SEQ]) % RF_CAP
        rf[f, RF_SIDE], rf[f, RF_POS_SIDE], rf[f, RF_PRICE] = side, pos_side, bk[r, O_PRICE]
        rf[f, RF_QTY], rf[f, RF_MARKET] = bk[r, O_QTY], bk[r, BK_MARKET]
        _record(t, int(bk[r, O_KIND]), side, pos_side, reduce_only, price, qty, fee, realised, taker, mark, w,
                fills)
    else:  # a reduce-only order with nothing to reduce is gone without a fill `drop_filled` would know of:
        w[E_REF_OK] = 0.0  # the book no longer holds the reference's rows, which a recomputation brings back


# ---- the book -------------------------------------------------------------------------------------
@jit
def _set_exact(w, bk) -> None:
    hb, la = extremes(bk, int(w[E_N_BOOK]))
    w[E_HB], w[E_LA] = hb, la
    w[E_UB], w[E_LB] = hb, la
    w[E_STALE] = 0.0


@jit
def _recompute(w, out, bk, rf) -> None:
    """Exact rows for the decision in the book; it becomes the reference."""
    cfg, mkt, decision = cfg_of(w), mkt_of(w), decision_at(w, W_BST)
    memo = memo_of(w)  # exhaustive: none either, so that mode is the calculator's plain reference
    n = ideal_orders(cfg, mkt, decision, False, out, memo if w[E_EXHAUSTIVE] == 0.0 else memo[:0])
    w[E_N_CALLS] += 1.0
    load_rows(cfg, out, n, bk)
    w[E_N_BOOK] = n
    for j in range(RING_W):
        w[W_RST + j] = w[W_BST + j]
    w[E_REF_OK] = 1.0
    w[E_REF_VERSION] = decision[R_VERSION]
    drop_filled(bk, n, rf, w, decision[R_SEQ])
    reference(w, bk, n, out)
    _set_exact(w, bk)


@jit
def _touch(t, lo: float, hi: float, opening: float, bids_first: bool, after: float, w, out, bk, rf,
           fills) -> None:
    """A print at `lo`..`hi` reached the book bounds: make the book exact and fill what it crosses (a
    market order at `opening`, taker; bids above `lo` highest first, asks below `hi` lowest first, the
    two sides in path order), then restart the equity segment at `after` and ask for a decision."""
    # while stale, a print that reaches only orders no EMA value prices fills those as they are
    fixed_only = w[E_STALE] != 0.0 and w[E_FIXED_OK] != 0.0 and lo >= w[E_UB_EMA] and hi <= w[E_LB_EMA]
    if w[E_STALE] != 0.0 and not fixed_only:
        _recompute(w, out, bk, rf)
    if fixed_only and not (lo < w[E_HB_FIXED] or hi > w[E_LA_FIXED]):
        return
    if not (lo < w[E_HB] or hi > w[E_LA]):
        return
    seq = w[E_FILL_SEQ]
    _feed(w, lo if bids_first else hi)
    _feed(w, hi if bids_first else lo)
    _flush_segment(w)
    n = int(w[E_N_BOOK])
    r = market_row(bk, n)
    while r >= 0:
        _fill_row(r, t, opening, True, opening, w, bk, fills, rf)
        r = market_row(bk, n)
    for k in range(2):
        side = 1.0 if (k == 0) == bids_first else -1.0
        limit = lo if side > 0.0 else hi
        r = best_row(bk, n, side, limit, fixed_only)
        while r >= 0:
            _fill_row(r, t, bk[r, O_PRICE], False, limit, w, bk, fills, rf)
            r = best_row(bk, n, side, limit, fixed_only)
    if fixed_only:  # the EMA-priced orders stay stale, within their bounds
        w[E_HB], w[E_LA] = extremes(bk, n)
        fixed_rows(w, bk, n)
        w[E_UB] = max(w[E_HB_FIXED], w[E_UB_EMA])
        w[E_LB] = min(w[E_LA_FIXED], w[E_LB_EMA])
    else:
        _set_exact(w, bk)
    if w[E_FILL_SEQ] != seq:
        w[E_VERSION] += 1.0
        w[E_DEC_T] = t
        w[E_T_EVT] = min(w[E_T_EVT], t)
    _new_segment(w, after)


@jit
def _liquidate(t, w, fills) -> None:
    """Price crossed the liquidation price: close everything there (taker fee); the replay stops."""
    liq = w[E_LIQ]
    _feed(w, liq)
    _flush_segment(w)
    st, mkt = st_of(w), mkt_of(w)
    one_way = int(w[E_MODE]) == MODE_CLASSIC
    for pos_side in (1.0, -1.0):
        size = st[S_LONG_SIZE] if pos_side > 0.0 else st[S_SHORT_SIZE]
        if size != 0.0:
            qty, realised, fee = apply_fill(st, mkt, one_way, -pos_side, pos_side, True, liq, abs(size),
                                            mkt[M_TAKER_FEE])
            _record(t, K_LIQUIDATION, -pos_side, pos_side, True, liq, qty, fee, realised, True, liq, w, fills)
    w[E_LIQUIDATED] = 1.0
    w[E_CLOSEST_LIQ] = 0.0
    w[E_VERSION] += 1.0
    _new_segment(w, liq)


# ---- events ---------------------------------------------------------------------------------------
@jit
def _schedule(t, w) -> None:
    """Inputs changed at `t`: decide at `t`, or when the pace allows."""
    if w[E_DEC_T] == math.inf:
        w[E_DEC_T] = max(t, w[E_LAST_DEC] + w[E_PACE])


@jit
def _minute(t, w) -> None:
    """Minute boundary: the band EMAs take the previous minute's close."""
    close = w[W_ST + S_LAST_PRICE]
    for j in range(6):
        w[W_ST + S_LONG_EMA0 + j] = ema_update(w[W_ST + S_LONG_EMA0 + j], w[E_BAND_ALPHA + j], close)
    w[E_T_MINUTE] = t + MINUTE_MS
    _schedule(t, w)


@jit
def _funding(t, w, fts, frate) -> None:
    """Funding settlement: longs pay `rate` times their notional, shorts receive it (rate < 0: reverse)."""
    st, mkt = st_of(w), mkt_of(w)
    i = int(w[E_FUND_I])
    price = st[S_LAST_PRICE]
    _flush_segment(w)
    paid = frate[i] * (qty_to_cost(st[S_LONG_SIZE], price, mkt) - qty_to_cost(st[S_SHORT_SIZE], price, mkt))
    st[S_BALANCE] -= paid
    w[E_FUNDING] -= paid
    i += 1
    w[E_FUND_I] = i
    st[S_PREDICTED_FUNDING] = frate[i] if i < len(frate) else 0.0
    w[E_T_FUND] = fts[i] if i < len(fts) else math.inf
    w[E_VERSION] += 1.0
    _new_segment(w, price)
    _schedule(t, w)


@jit
def _write_sample(k: int, t, w, smp) -> None:
    st, mkt = st_of(w), mkt_of(w)
    price = st[S_LAST_PRICE]
    smp[k, SM_T] = t
    smp[k, SM_PRICE] = price
    smp[k, SM_BALANCE] = st[S_BALANCE]
    smp[k, SM_EQUITY] = equity(st, mkt, price)
    smp[k, SM_LONG_SIZE] = st[S_LONG_SIZE]
    smp[k, SM_LONG_PRICE] = st[S_LONG_PRICE]
    smp[k, SM_SHORT_SIZE] = st[S_SHORT_SIZE]
    smp[k, SM_SHORT_PRICE] = st[S_SHORT_PRICE]
    smp[k, SM_LIQ] = w[E_LIQ]
    smp[k, SM_WE_LONG] = wallet_exposure(st[S_LONG_SIZE], st[S_LONG_PRICE], st[S_BALANCE], mkt)
    smp[k, SM_WE_SHORT] = wallet_exposure(st[S_SHORT_SIZE], st[S_SHORT_PRICE], st[S_BALANCE], mkt)
    w[E_N_SAMPLES] = max(w[E_N_SAMPLES], k + 1)


@jit
def _sample(t, w, smp) -> None:
    """Periodic curve sample (the buffer's last row is kept for `finish`)."""
    k = int(w[E_N_SAMPLES])
    _write_sample(k, t, w, smp)
    w[E_T_SAMPLE] = t + w[E_SAMPLE_MS] if k + 2 < len(smp) else math.inf


@jit
def _start(t, price: float, w, fts, frate) -> None:
    """First print: seed the book prices and every EMA with it, start the clocks."""
    st = st_of(w)
    st[S_BEST_BID] = st[S_BEST_ASK] = st[S_LAST_PRICE] = st[S_TICK_EMA] = price
    for j in range(6):
        st[S_LONG_EMA0 + j] = price
    st[S_NOW_MS] = t
    w[E_FIRST_T] = w[E_LAST_T] = w[E_LAST_FILL_T] = t
    w[E_T_MINUTE] = math.inf if int(w[E_MODE]) == MODE_CLASSIC else (t // MINUTE_MS + 1) * MINUTE_MS
    i = 0
    while i < len(fts) and fts[i] <= t:
        i += 1
    w[E_FUND_I] = i
    w[E_T_FUND] = fts[i] if i < len(fts) else math.inf
    st[S_PREDICTED_FUNDING] = frate[i] if i < len(frate) else 0.0
    w[E_T_SAMPLE] = t
    w[E_T_EVT] = t
    w[E_STARTED] = 1.0
    _new_segment(w, price)


# ---- the loop -------------------------------------------------------------------------------------
@jit
def replay(candles: bool, ts, a, b, c, d, side, i0: int, w, ring, out, bk, rf, fills, smp, fts, frate) -> int:
    """Replay rows `i0..` and return the index to resume at.

    Trades (`candles` False): `ts` ms, `a` (= `b` = `c` = `d`) prices, `side` taker sides (+1 buy, -1
    sell, 0 unknown): a bid fills when a trade prints below it, an ask above it; best bid / ask are the
    last taker-sell / taker-buy prices.
    1-minute candles: `ts` open times, `a` open, `b` high, `c` low, `d` close (`side` unused). A candle is
    tested at the end of its minute against the book standing then: bids above its low fill, asks below
    its high, in the order of the likely path (open-low-high-close when it closed up); a market order
    fills at the open. Best bid and ask become the close."""
    n = len(ts)
    if i0 >= n or w[E_LIQUIDATED] != 0.0:
        return i0
    # the caller keeps these for the whole call: no reference counting of them here or in anything called
    w, ring, out, bk, rf, fills, smp = unowned(w), unowned(ring), unowned(out), unowned(bk), unowned(rf), \
        unowned(fills), unowned(smp)
    offset = MINUTE_MS - 1 if candles else 0
    if w[E_STARTED] == 0.0:
        _start(ts[i0] + offset, a[i0], w, fts, frate)
    classic = int(w[E_MODE]) == MODE_CLASSIC
    alpha = w[E_ALPHA]
    pace = w[E_PACE]
    i = i0
    while i < n:
        t = ts[i] + offset
        if t >= w[E_T_EVT]:
            while w[E_ERROR] == 0.0:
                landing = w[E_T_LAND]
                when = min(w[E_T_MINUTE], w[E_T_FUND], w[E_T_TIMER], w[E_DEC_T], landing, w[E_T_SAMPLE])
                w[E_T_EVT] = when
                if when > t:
                    break
                if w[E_T_MINUTE] == when:
                    _minute(when, w)
                elif w[E_T_FUND] == when:
                    _funding(when, w, fts, frate)
                elif w[E_T_TIMER] == when:
                    w[E_T_TIMER] = math.inf
                    _schedule(when, w)
                # decisions and landings are written out here: a helper taking the arrays, even inlined,
                # costs numba two atomic reference counts per array and call, more than the work itself
                elif w[E_DEC_T] == when:  # the bot decides: queue a copy of its state for the landing
                    k = int(w[E_RING_N])
                    if k >= RING_CAP:
                        w[E_ERROR] = 1.0
                        continue
                    w[W_ST + S_NOW_MS] = when
                    # nothing pending and the exact book holds this state's orders: nothing to send
                    if not (k == 0 and w[E_STALE] == 0.0 and landing_outcome(w, W_ST, w[E_VERSION]) == 1):
                        r = (int(w[E_RING_HEAD]) + k) % RING_CAP
                        for j in range(ST_SIZE):
                            ring[r, j] = w[W_ST + j]
                        ring[r, R_T] = when
                        ring[r, R_VERSION] = w[E_VERSION]
                        ring[r, R_SEQ] = w[E_FILL_SEQ]
                        w[E_RING_N] = k + 1
                        if k == 0:
                            w[E_T_LAND] = when + w[E_LAT]
                    w[E_N_DECISIONS] += 1.0
                    w[E_LAST_DEC] = when
                    w[E_DEC_T] = math.inf
                    if not classic:
                        w[E_T_TIMER] = next_timer(w, W_ST)
                elif landing == when:  # the oldest pending decision reaches the exchange
                    r = int(w[E_RING_HEAD])
                    after = (r + 1) % RING_CAP
                    k = int(w[E_RING_N]) - 1
                    # it rests unless a later decision lands before the next print
                    rests = not (k > 0 and ring[after, R_T] + w[E_LAT] <= t)
                    if rests:
                        for j in range(RING_W):
                            w[W_BST + j] = ring[r, j]
                    w[E_RING_HEAD] = after
                    w[E_RING_N] = k
                    w[E_T_LAND] = ring[after, R_T] + w[E_LAT] if k > 0 else math.inf
                    if rests:  # its orders become the book: computed only when the rows in it do not hold
                        outcome = landing_outcome(w, W_BST, w[W_BST + R_VERSION])
                        if outcome == 0:
                            _recompute(w, out, bk, rf)
                        else:
                            w[E_STALE] = outcome - 1.0
                            if outcome == 1:
                                w[E_UB], w[E_LB] = w[E_HB], w[E_LA]
                            else:
                                stale_bounds(w)
                else:
                    _sample(when, w, smp)
            if w[E_ERROR] != 0.0:
                break
        if candles:
            opening, hi, lo, close = a[i], b[i], c[i], d[i]
            up = close >= opening
        else:
            opening = hi = lo = close = a[i]
            up = True
        if lo < w[E_UB] or hi > w[E_LB]:
            _touch(t, lo, hi, opening, up, close, w, out, bk, rf, fills)
        adverse = lo if w[E_LIQ_S] > 0.0 else hi
        if adverse * w[E_LIQ_S] <= w[E_LIQ_X]:
            _liquidate(t, w, fills)
            i += 1
            break
        if candles:
            w[W_ST + S_BEST_BID] = w[W_ST + S_BEST_ASK] = close
            for p in (lo if up else hi, hi if up else lo, close):  # _feed, its common case inlined
                x = p * w[E_EQ_DIR]
                if x > w[E_XMAX]:
                    _feed(w, p)
                elif x < w[E_XMIN]:
                    w[E_XMIN] = x
        elif side[i] > 0:
            w[W_ST + S_BEST_ASK] = close
        elif side[i] < 0:
            w[W_ST + S_BEST_BID] = close
        if close != w[W_ST + S_LAST_PRICE]:
            if classic:
                w[W_ST + S_TICK_EMA] = ema_update(w[W_ST + S_TICK_EMA], alpha, close)
            w[W_ST + S_LAST_PRICE] = close
            x = close * w[E_EQ_DIR]
            if x > w[E_XMAX]:
                _feed(w, close)
            elif x < w[E_XMIN]:
                w[E_XMIN] = x
        if candles and w[E_T_MINUTE] == t + 1.0:  # the candle closes the minute: one decision for both
            _minute(t + 1.0, w)
            w[E_T_EVT] = min(w[E_T_EVT], w[E_DEC_T])
        if w[E_DEC_T] == math.inf:
            when = max(t, w[E_LAST_DEC] + pace)
            w[E_DEC_T] = when
            w[E_T_EVT] = min(w[E_T_EVT], when)
        i += 1
        if w[E_N_FBUF] > F_CAP - F_ROOM:
            break
    w[E_N_TRADES] += i - i0
    w[E_LAST_T] = ts[i - 1] + offset
    return i


@jit
def finish(w, smp, end_t: float) -> None:
    """End of the data at `end_t` (a liquidated run stopped earlier: the rest counts as flat, without
    fills): close the equity segment and the stuck-time gap, take a last sample."""
    _flush_segment(w)
    w[E_LAST_T] = max(w[E_LAST_T], end_t)
    w[E_MAX_GAP] = max(w[E_MAX_GAP], w[E_LAST_T] - w[E_LAST_FILL_T])
    k = int(w[E_N_SAMPLES])
    if k == 0 or smp[k - 1, SM_T] < w[E_LAST_T]:
        _write_sample(min(k, len(smp) - 1), w[E_LAST_T], w, smp)
