"""Recursive grid mode, the crop solvers, auto-unstuck and the mode/side dispatch (STRATEGY.md §3)."""
import math
import os
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from jit_parity import run_jit_and_python

from passivx.calc.contracts import min_entry_qty, pnl, wallet_exposure, we_if_filled
from passivx.calc.crop import close_qty_to_target, crop_qty
from passivx.calc.entry import ideal_orders, new_memo
from passivx.calc.layout import (
    C_LONG,
    C_MODE,
    C_SHORT,
    CFG_SIZE,
    K_CLOSE,
    K_ENTRY,
    K_UNSTUCK,
    MAX_ORDERS,
    MODE_RECURSIVE,
    O_KIND,
    O_POS_PRICE_AFTER,
    O_POS_SIDE,
    O_POS_SIZE_AFTER,
    O_PRICE,
    O_QTY,
    O_REDUCE_ONLY,
    O_SIDE,
    O_SIZE,
    O_WE_AFTER,
    P_AU_DELAY_MINUTES,
    P_AU_EMA_DIST,
    P_AU_QTY_PCT,
    P_AU_THRESHOLD,
    P_DDOWN_FACTOR,
    P_ENABLED,
    P_INITIAL_EPRICE_EMA_DIST,
    P_INITIAL_QTY_PCT,
    P_MARKUP_RANGE,
    P_MIN_MARKUP,
    P_N_CLOSE_ORDERS,
    P_RENTRY_PPRICE_DIST,
    P_RENTRY_WE_WEIGHT,
    P_WEL,
    S_BALANCE,
    S_BEST_ASK,
    S_BEST_BID,
    S_LAST_PRICE,
    S_LONG_EMA0,
    S_LONG_LAST_ENTRY_MS,
    S_LONG_LAST_UNSTUCK_MS,
    S_LONG_PRICE,
    S_LONG_SIZE,
    S_NOW_MS,
    S_SHORT_EMA0,
    S_SHORT_LAST_UNSTUCK_MS,
    S_SHORT_PRICE,
    S_SHORT_SIZE,
    ST_SIZE,
)
from passivx.calc.modes import side_orders
from passivx.calc.recursive import recursive_entries

# price_step, qty_step, min_qty, min_cost, c_mult, inverse, maker, taker, mm, max_lev
LINEAR = np.array([0.01, 0.001, 0.001, 5.0, 1.0, 0.0, 0.0002, 0.0005, 0.004, 100.0])
INVERSE = np.array([0.5, 1.0, 1.0, 0.0, 1.0, 1.0, -0.00025, 0.00075, 0.005, 100.0])
NOW = 1.7e12
REF_NODES = [(0.1, 100.0), (0.102, 97.97), (0.121, 96.93), (0.194, 96.15), (0.31, 95.34), (0.496, 94.48),
             (0.794, 93.55), (1.27, 92.5), (2.032, 91.26)]


def make_cfg(overrides=None):
    """Recursive mode, both sides enabled, the STRATEGY.md §3 reference parameters."""
    params = {P_ENABLED: 1.0, P_WEL: 1.0, P_INITIAL_QTY_PCT: 0.01, P_INITIAL_EPRICE_EMA_DIST: 0.0,
              P_DDOWN_FACTOR: 0.6, P_RENTRY_PPRICE_DIST: 0.02, P_RENTRY_WE_WEIGHT: 1.5, P_MIN_MARKUP: 0.005,
              P_MARKUP_RANGE: 0.01, P_N_CLOSE_ORDERS: 5.0}
    params.update(overrides or {})
    cfg = np.zeros(CFG_SIZE)
    cfg[C_MODE] = MODE_RECURSIVE
    for base in (C_LONG, C_SHORT):
        for k, v in params.items():
            cfg[base + k] = v
    return cfg


def make_state(balance=1000.0, bid=100.0, ask=100.0, ema_long=100.0, ema_short=100.0, long=(0.0, 0.0),
               short=(0.0, 0.0)):
    st = np.zeros(ST_SIZE)
    st[S_BALANCE] = balance
    st[S_BEST_BID], st[S_BEST_ASK], st[S_LAST_PRICE] = bid, ask, bid
    st[S_LONG_EMA0:S_LONG_EMA0 + 3] = ema_long
    st[S_SHORT_EMA0:S_SHORT_EMA0 + 3] = ema_short
    st[S_LONG_SIZE], st[S_LONG_PRICE] = long
    st[S_SHORT_SIZE], st[S_SHORT_PRICE] = short
    st[S_NOW_MS] = NOW
    st[S_LONG_LAST_ENTRY_MS:S_SHORT_LAST_UNSTUCK_MS + 1] = -np.inf
    return st


def entries(cfg, mkt, st, side, whole_grid=True):
    out = np.full((MAX_ORDERS, O_SIZE), np.nan)
    n = recursive_entries(cfg, C_LONG if side > 0 else C_SHORT, mkt, st, side, whole_grid, out, 0)
    return out[:n]


def side_rows(cfg, mkt, st, side, whole_grid=True):
    out = np.full((MAX_ORDERS, O_SIZE), np.nan)
    n = side_orders(cfg, mkt, st, side, whole_grid, out, 0, new_memo())
    return out[:n]


def closes(rows):
    return rows[rows[:, O_REDUCE_ONLY] == 1]


# ---- crop solvers ----------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(size=hs.floats(0.0, 15.0), pos_price=hs.floats(50.0, 150.0), price=hs.floats(50.0, 150.0),
       target=hs.floats(0.05, 3.0))
def test_crop_linear_reaches_target(size, pos_price, price, target):
    size = round(size, 3)
    we = size * pos_price / 1000.0
    q = crop_qty(1, target, size, pos_price, price, 1000.0, LINEAR)
    if we >= 0.99 * target:
        assert q == 0.0
        return
    assert q > 0 and abs(q / 0.001 - round(q / 0.001)) < 1e-6
    assert we_if_filled(size, pos_price, q, price, 1000.0, LINEAR) == pytest.approx(target, rel=0.0101)
    # the short side mirrors the long one for linear contracts
    assert crop_qty(-1, target, -size, pos_price, price, 1000.0, LINEAR) == q


@settings(max_examples=100, deadline=None)
@given(size=hs.integers(0, 400), pos_price=hs.floats(30_000.0, 70_000.0), price=hs.floats(30_000.0, 70_000.0),
       target=hs.floats(0.5, 3.0), side=hs.sampled_from([1, -1]))
def test_crop_inverse_reaches_target(size, pos_price, price, target, side):
    size = side * float(size)
    balance = 0.01
    q = crop_qty(side, target, size, pos_price, price, balance, INVERSE)
    if wallet_exposure(size, pos_price, balance, INVERSE) >= 0.99 * target:
        assert q == 0.0
        return
    assert q == round(q)
    # harmonic averaging: the cost after the fill is |Q|/P + q/p (coin), linear in q
    we_after = (abs(size) / pos_price + q / price) / balance
    assert we_after == pytest.approx(target, rel=0.0101)


def test_crop_zero_when_already_at_target():
    assert crop_qty(1, 1.0, 9.95, 100.0, 90.0, 1000.0, LINEAR) == 0.0  # WE 0.995 >= 0.99
    assert crop_qty(1, 1.0, 12.0, 100.0, 90.0, 1000.0, LINEAR) == 0.0
    assert crop_qty(1, 1.0, 9.8, 100.0, 90.0, 1000.0, LINEAR) > 0.0


def test_close_solver_legacy_check_value():
    # (9 - q)*100 / (1000 + q*(95.1 - 100)) = 0.808  ->  q = 92 / 96.0408 = 0.9579
    q = close_qty_to_target(1, 1.01 * 0.8, 9.0, 100.0, 95.1, 1000.0, LINEAR)
    assert q == pytest.approx(92 / 96.0408, abs=0.002)
    assert close_qty_to_target(1, 0.9, 9.0, 100.0, 95.1, 1000.0, LINEAR) == 0.0  # WE 0.9 <= 1.001 * 0.9


@settings(max_examples=150, deadline=None)
@given(size=hs.floats(1.0, 20.0), price=hs.floats(80.0, 120.0), frac=hs.floats(0.2, 0.95),
       side=hs.sampled_from([1, -1]))
def test_close_solver_reaches_target(size, price, frac, side):
    size = side * round(size, 3)
    we = abs(size) * 100.0 / 1000.0
    target = we * frac
    q = close_qty_to_target(side, target, size, 100.0, price, 1000.0, LINEAR)
    assert 0 < q <= abs(size)
    ratio = (abs(size) - q) * 100.0 / (1000.0 + pnl(size, 100.0, price, q, LINEAR))
    assert ratio == pytest.approx(target, rel=0.0101, abs=2e-4)


# ---- recursive grid --------------------------------------------------------------------------------
def test_reference_whole_grid():
    rows = entries(make_cfg(), LINEAR, make_state(), 1)
    assert len(rows) == len(REF_NODES) + 1
    for row, (qty, price) in zip(rows, REF_NODES):
        assert row[O_QTY] == pytest.approx(qty, abs=1e-9) and row[O_PRICE] == pytest.approx(price, abs=1e-9)
    assert rows[-1, O_WE_AFTER] == pytest.approx(1.0, rel=0.02)
    assert rows[-1, O_PRICE] < REF_NODES[-1][1]
    assert (rows[:, O_KIND] == K_ENTRY).all() and (rows[:, O_REDUCE_ONLY] == 0).all()
    assert (rows[:, O_SIDE] == 1).all() and (rows[:, O_POS_SIDE] == 1).all()
    # the "after" columns are the cumulative position (size-weighted mean price) and its exposure
    sizes = np.cumsum(rows[:, O_QTY])
    prices = np.cumsum(rows[:, O_QTY] * rows[:, O_PRICE]) / sizes
    np.testing.assert_allclose(rows[:, O_POS_SIZE_AFTER], sizes, atol=1e-9)
    np.testing.assert_allclose(rows[:, O_POS_PRICE_AFTER], prices, rtol=1e-12)
    np.testing.assert_allclose(rows[:, O_WE_AFTER], sizes * prices / 1000.0, rtol=1e-9)


def test_short_whole_grid_first_nodes():
    # mirror: p0 = max(ask, round_up(upper)) = 100; node 1 at round_up(100*(1 + 0.02*(1 + 0.01*1.5))) =
    # 102.03 with round_(max(0.1*0.6, 10/102.03)) = 0.098
    rows = entries(make_cfg(), LINEAR, make_state(), -1)
    assert rows[0, O_QTY] == 0.1 and rows[0, O_PRICE] == 100.0
    assert rows[1, O_QTY] == pytest.approx(0.098) and rows[1, O_PRICE] == pytest.approx(102.03)
    assert (rows[:, O_SIDE] == -1).all() and (rows[:, O_POS_SIDE] == -1).all()
    assert rows[-1, O_POS_SIZE_AFTER] < 0 and rows[-1, O_WE_AFTER] == pytest.approx(1.0, rel=0.02)


def _spec_node(mkt, cfg_side, size, pos_price, balance, side, best):
    """Un-cropped re-entry of STRATEGY §3 step 5, written out independently."""
    ps, qs = mkt[0], mkt[1]
    we = wallet_exposure(size, pos_price, balance, mkt)
    d = cfg_side[P_RENTRY_PPRICE_DIST] * (1 + we / cfg_side[P_WEL] * cfg_side[P_RENTRY_WE_WEIGHT])
    if side > 0:
        price = min(best, math.floor(round(pos_price * (1 - d) / ps, 9)) * ps)
    else:
        price = max(best, math.ceil(round(pos_price * (1 + d) / ps, 9)) * ps)
    init_cost = balance * cfg_side[P_WEL] * cfg_side[P_INITIAL_QTY_PCT]
    init = init_cost * price if mkt[5] else init_cost / price
    qty = max(min_entry_qty(price, mkt), round(max(abs(size) * cfg_side[P_DDOWN_FACTOR], init) / qs) * qs)
    return qty, price


@pytest.mark.parametrize("side", [1, -1])
@pytest.mark.parametrize("inverse", [False, True])
def test_whole_grid_recursion(side, inverse):
    """Each node but the last is the spec's re-entry from the position after the previous node, clamped to
    the previous node price; the last one crops the grid to WEL."""
    mkt = INVERSE if inverse else LINEAR
    p = 50_000.0 if inverse else 100.0
    balance = 0.01 if inverse else 1000.0
    cfg = make_cfg()
    rows = entries(cfg, mkt, make_state(balance, p, p, p, p), side)
    assert len(rows) >= 5
    cfg_side = cfg[C_LONG:C_LONG + 32]
    size, price = 0.0, 0.0
    for i, row in enumerate(rows):
        if 0 < i < len(rows) - 1:
            qty, node_price = _spec_node(mkt, cfg_side, size, price, balance, side, rows[i - 1, O_PRICE])
            assert row[O_QTY] == pytest.approx(qty, abs=1e-9) and row[O_PRICE] == pytest.approx(node_price)
        q = row[O_QTY]
        if inverse:  # exchange averaging of inverse positions: harmonic mean
            new_price = (abs(size) + q) / (abs(size) / price + q / row[O_PRICE]) if size else row[O_PRICE]
        else:
            new_price = (abs(size) * price + q * row[O_PRICE]) / (abs(size) + q)
        size += side * q
        price = new_price
        assert row[O_POS_SIZE_AFTER] == pytest.approx(size, abs=1e-9)
        assert row[O_POS_PRICE_AFTER] == pytest.approx(price, rel=1e-12)
    assert (np.diff(-side * rows[:, O_PRICE]) > 0).all()
    assert rows[-1, O_WE_AFTER] == pytest.approx(1.0, rel=0.02)
    if inverse:  # arithmetic averaging would give a visibly different position price
        arithmetic = np.sum(rows[:, O_QTY] * rows[:, O_PRICE]) / np.sum(rows[:, O_QTY])
        assert abs(arithmetic - price) > 2 * mkt[0]


def test_live_places_the_next_node_only():
    cfg = make_cfg()
    grid = entries(cfg, LINEAR, make_state(), 1)
    rows = entries(cfg, LINEAR, make_state(), 1, whole_grid=False)
    assert len(rows) == 1 and rows[0, O_QTY] == 0.1 and rows[0, O_PRICE] == 100.0
    st = make_state(long=(grid[1, O_POS_SIZE_AFTER], grid[1, O_POS_PRICE_AFTER]))
    rows = entries(cfg, LINEAR, st, 1, whole_grid=False)
    assert len(rows) == 1
    assert rows[0, O_QTY] == pytest.approx(0.121) and rows[0, O_PRICE] == pytest.approx(96.93)


def test_whole_grid_clamped_by_the_book_ends_early():
    # Q 0.5 @ 100, bid 50: node 0 clamps to 50; node 1 is clamped to min(bid, 50) = 50 again -> the grid
    # stops at one node, far below WEL
    rows = entries(make_cfg(), LINEAR, make_state(bid=50.0, long=(0.5, 100.0)), 1)
    assert len(rows) == 1 and rows[0, O_PRICE] == 50.0 and rows[0, O_WE_AFTER] < 0.1


def test_partial_initial_entry():
    # |Q| 0.07 < 0.8*0.1: top up to q0 at p0, at least min qty round_up(5/100) = 0.05
    rows = entries(make_cfg(), LINEAR, make_state(long=(0.07, 100.0)), 1)
    assert rows[0, O_QTY] == pytest.approx(0.05) and rows[0, O_PRICE] == 100.0
    rows = entries(make_cfg(), LINEAR, make_state(long=(0.03, 100.0)), 1, whole_grid=False)
    assert rows[0, O_QTY] == pytest.approx(0.07)


def test_no_entry_at_the_exposure_limit():
    assert len(entries(make_cfg(), LINEAR, make_state(long=(9.995, 100.0)), 1)) == 0
    assert len(entries(make_cfg(), LINEAR, make_state(short=(-10.0, 100.0)), -1)) == 0
    assert len(entries(make_cfg({P_WEL: 0.0}), LINEAR, make_state(), 1)) == 0


def test_crop_too_big():
    # Q 8 @ 100 (WE 0.8): price round_dn(100*(1 - 0.02*(1 + 0.8*1.5))) = 95.6, qty 4.8 would give WE 1.26:
    # cropped to (1000 - 800)/95.6 = 2.092
    rows = entries(make_cfg(), LINEAR, make_state(long=(8.0, 100.0)), 1)
    assert len(rows) == 1 and rows[0, O_PRICE] == pytest.approx(95.6)
    assert rows[0, O_QTY] == pytest.approx(200 / 95.6, rel=0.01)
    assert rows[0, O_WE_AFTER] == pytest.approx(1.0, rel=0.01)


def test_crop_next_too_small_absorbs_the_rest():
    grid = entries(make_cfg(), LINEAR, make_state(), 1)
    size, price = grid[-2, O_POS_SIZE_AFTER], grid[-2, O_POS_PRICE_AFTER]
    rows = entries(make_cfg(), LINEAR, make_state(long=(size, price)), 1, whole_grid=False)
    normal = round(size * 0.6, 3)
    # this node alone (normal qty) stays under 1.01*WEL ...
    assert we_if_filled(size, price, normal, rows[0, O_PRICE], 1000.0, LINEAR) < 1.01
    # ... but is enlarged so that the grid ends at WEL instead of leaving a too-big next node
    assert rows[0, O_QTY] > normal * 1.3
    assert rows[0, O_WE_AFTER] == pytest.approx(1.0, rel=0.01)


def test_cropped_qty_is_at_least_min_qty():
    # WE 0.9985 (< 0.999): crop gives 0 -> raised to min qty round_up(5/price)
    rows = entries(make_cfg(), LINEAR, make_state(long=(9.985, 100.0)), 1)
    assert len(rows) == 1 and rows[0, O_QTY] == min_entry_qty(rows[0, O_PRICE], LINEAR)


def au_cfg(timed, extra=None):
    over = {P_AU_THRESHOLD: 0.2, P_AU_EMA_DIST: 0.001}
    if timed:
        over.update({P_AU_DELAY_MINUTES: 10.0, P_AU_QTY_PCT: 0.02})
    over.update(extra or {})
    return make_cfg(over)


def au_state(**kw):
    # reference: W 1000, long Q 9 @ 100, EMAs 95, ask 94
    args = dict(bid=93.99, ask=94.0, ema_long=95.0, long=(9.0, 100.0))
    args.update(kw)
    return make_state(**args)


def test_legacy_unstuck_entry():
    # WE 0.9 > 0.99*0.8: unstuck entry at min(bid, round_dn(95*(1-0.001))) = 93.99, cropped to WEL
    rows = entries(au_cfg(timed=False), LINEAR, au_state(), 1)
    assert len(rows) == 1 and rows[0, O_KIND] == K_UNSTUCK and rows[0, O_REDUCE_ONLY] == 0
    assert rows[0, O_PRICE] == 93.99 and rows[0, O_SIDE] == 1
    assert rows[0, O_WE_AFTER] == pytest.approx(1.0, rel=0.01)
    rows = entries(au_cfg(timed=False), LINEAR, au_state(bid=99.0, ask=99.01), 1)
    assert rows[0, O_PRICE] == pytest.approx(94.9)


def test_timed_mode_on_either_side_disables_unstuck_entries():
    cfg = au_cfg(timed=False)
    cfg[C_SHORT + P_AU_DELAY_MINUTES] = 5.0
    rows = entries(cfg, LINEAR, au_state(), 1)
    assert len(rows) == 1 and rows[0, O_KIND] == K_ENTRY


def test_unstuck_entry_ends_a_grid_it_does_not_start():
    # threshold 0.5: the reference grid reaches WE 0.504 > 0.99*0.5 after node 8; the node after it would be
    # an unstuck entry (at 100*(1-0.1) = 90), so the grid is the 9 reference nodes
    rows = entries(make_cfg({P_AU_THRESHOLD: 0.5, P_AU_EMA_DIST: 0.1}), LINEAR, make_state(), 1)
    assert len(rows) == len(REF_NODES) and (rows[:, O_KIND] == K_ENTRY).all()
    np.testing.assert_allclose(rows[:, O_PRICE], [p for _, p in REF_NODES])


# ---- auto-unstuck close and the side dispatch -------------------------------------------------------
def test_au_close_timed_check_value():
    rows = closes(side_rows(au_cfg(timed=True), LINEAR, au_state(), 1))
    # price max(94, round_up(95*1.001)) = 95.1; qty round_(1000*1*0.02/95.1) = 0.21
    assert rows[0, O_KIND] == K_UNSTUCK and rows[0, O_PRICE] == pytest.approx(95.1)
    assert rows[0, O_QTY] == pytest.approx(0.21) and rows[0, O_SIDE] == -1
    tp = rows[1:]
    assert (tp[:, O_KIND] == K_CLOSE).all() and tp[:, O_QTY].sum() == pytest.approx(9 - 0.21)
    assert tp[0, O_POS_SIZE_AFTER] == pytest.approx(9 - 0.21 - tp[0, O_QTY])


def test_au_close_timer():
    cfg = au_cfg(timed=True)
    st = au_state()
    st[S_LONG_LAST_UNSTUCK_MS] = NOW - 9 * 60_000
    assert (closes(side_rows(cfg, LINEAR, st, 1))[:, O_KIND] == K_CLOSE).all()
    st[S_LONG_LAST_UNSTUCK_MS] = NOW - 10 * 60_000  # not strictly more than the delay
    assert (closes(side_rows(cfg, LINEAR, st, 1))[:, O_KIND] == K_CLOSE).all()
    st[S_LONG_LAST_UNSTUCK_MS] = NOW - 10 * 60_000 - 1
    assert closes(side_rows(cfg, LINEAR, st, 1))[0, O_KIND] == K_UNSTUCK
    cfg[C_LONG + P_AU_DELAY_MINUTES] = 0.5  # floor of one minute
    st[S_LONG_LAST_UNSTUCK_MS] = NOW - 50_000
    assert (closes(side_rows(cfg, LINEAR, st, 1))[:, O_KIND] == K_CLOSE).all()
    st[S_LONG_LAST_UNSTUCK_MS] = NOW - 61_000
    assert closes(side_rows(cfg, LINEAR, st, 1))[0, O_KIND] == K_UNSTUCK


def test_au_close_legacy_check_value():
    rows = closes(side_rows(au_cfg(timed=False), LINEAR, au_state(), 1))
    assert rows[0, O_KIND] == K_UNSTUCK and rows[0, O_PRICE] == pytest.approx(95.1)
    assert rows[0, O_QTY] == pytest.approx(0.958, abs=0.002)
    assert rows[1:, O_QTY].sum() == pytest.approx(9 - rows[0, O_QTY])


def test_au_close_inactive_cases():
    # WE not above WEL*(1 - threshold)
    assert (closes(side_rows(au_cfg(timed=True), LINEAR, au_state(long=(7.9, 100.0)), 1))[:, O_KIND]
            == K_CLOSE).all()
    # AU price (round_up(101*1.001) = 101.11) not nearer than the nearest TP price (100.5)
    rows = closes(side_rows(au_cfg(timed=True), LINEAR, au_state(ema_long=101.0), 1))
    assert (rows[:, O_KIND] == K_CLOSE).all() and rows[:, O_QTY].sum() == pytest.approx(9.0)
    # threshold 0 disables it
    rows = closes(side_rows(au_cfg(timed=True, extra={P_AU_THRESHOLD: 0.0}), LINEAR, au_state(), 1))
    assert (rows[:, O_KIND] == K_CLOSE).all()


def test_au_close_leaving_less_than_min_qty_closes_all():
    # W 6, Q 0.06 @ 100 (WE 1.0); qty round_(6*0.9/95.1) = 0.057 leaves 0.003 < min qty 0.053
    cfg = au_cfg(timed=True, extra={P_AU_QTY_PCT: 0.9})
    rows = closes(side_rows(cfg, LINEAR, au_state(balance=6.0, long=(0.06, 100.0)), 1))
    assert len(rows) == 1 and rows[0, O_KIND] == K_UNSTUCK and rows[0, O_QTY] == pytest.approx(0.06)
    assert rows[0, O_POS_SIZE_AFTER] == 0.0


def test_au_close_short_mirror():
    # short Q -9 @ 100, lower EMA 105: price min(bid 106, round_dn(105*0.999)) = 104.89,
    # qty round_(20/104.89) = 0.191, a buy
    st = make_state(bid=106.0, ask=106.01, ema_short=105.0, short=(-9.0, 100.0))
    rows = closes(side_rows(au_cfg(timed=True), LINEAR, st, -1))
    assert rows[0, O_KIND] == K_UNSTUCK and rows[0, O_SIDE] == 1 and rows[0, O_POS_SIDE] == -1
    assert rows[0, O_PRICE] == pytest.approx(104.89) and rows[0, O_QTY] == pytest.approx(0.191)
    assert rows[1:, O_QTY].sum() == pytest.approx(9 - 0.191)
    assert (rows[1:, O_PRICE] < 100).all()


def test_au_close_legacy_inverse():
    # inverse: Q 450 contracts @ 50000, W 0.01 BTC (WE 0.9), upper EMA 47500
    st = make_state(balance=0.01, bid=47_000.0, ask=47_000.5, ema_long=47_500.0, long=(450.0, 50_000.0))
    rows = closes(side_rows(au_cfg(timed=False), INVERSE, st, 1))
    price, q = rows[0, O_PRICE], rows[0, O_QTY]
    assert rows[0, O_KIND] == K_UNSTUCK and price == 47_547.5  # round_up(47500*1.001, 0.5)
    ratio = (450 - q) / 50_000 / (0.01 + q * (1 / 50_000 - 1 / price))
    assert ratio == pytest.approx(0.808, rel=0.011)


def test_disabled_side_with_a_position_gets_closes_only():
    cfg = make_cfg()
    cfg[C_LONG + P_ENABLED] = 0.0
    rows = side_rows(cfg, LINEAR, make_state(bid=95.49, ask=95.5, long=(5.0, 95.0)), 1)
    assert len(rows) == 4 and (rows[:, O_KIND] == K_CLOSE).all()
    np.testing.assert_allclose(rows[:, O_PRICE], [95.72, 95.95, 96.19, 96.43])
    assert len(side_rows(cfg, LINEAR, make_state(), 1)) == 0


def test_ideal_orders_order_and_hedge_mode():
    cfg = make_cfg()
    st = make_state(bid=99.0, ask=99.01, long=(1.0, 100.0), short=(-1.0, 100.0))
    out = np.full((MAX_ORDERS, O_SIZE), np.nan)
    n = ideal_orders(cfg, LINEAR, st, False, out, new_memo())
    rows = out[:n]
    groups = [(int(r[O_POS_SIDE]), int(r[O_REDUCE_ONLY])) for r in rows]
    # long entries, long closes, short entries, short closes
    assert groups == sorted(groups, key=lambda g: (-g[0], g[1]))
    assert set(groups) == {(1, 0), (1, 1), (-1, 0), (-1, 1)}
    assert groups.count((1, 0)) == 1 and groups.count((-1, 0)) == 1
    flat = np.full((MAX_ORDERS, O_SIZE), np.nan)
    n = ideal_orders(cfg, LINEAR, make_state(ask=100.01), False, flat, new_memo())
    assert n == 2 and flat[0, O_PRICE] == 100.0 and flat[1, O_PRICE] == 100.01


# ---- JIT and pure Python agree -------------------------------------------------------------------------
_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    import test_calc_modes_recursive as t
    from passivx.calc.entry import ideal_orders, new_memo
    from passivx.calc.layout import MAX_ORDERS, O_SIZE
    cases = [
        (t.make_cfg(), t.LINEAR, t.make_state(), True),
        (t.make_cfg(), t.INVERSE, t.make_state(0.01, 50000.0, 50000.5, 50000.0, 50000.0), True),
        (t.au_cfg(timed=False), t.LINEAR, t.au_state(short=(-3.0, 90.0)), True),
        (t.au_cfg(timed=True), t.LINEAR, t.au_state(), False),
        (t.make_cfg({{t.P_N_CLOSE_ORDERS: 9.0}}), t.LINEAR, t.make_state(bid=96.0, ask=96.01,
         long=(7.3, 97.0), short=(-2.2, 94.0)), True),
    ]
    for cfg, mkt, st, whole in cases:
        out = np.zeros((MAX_ORDERS, O_SIZE))
        n = ideal_orders(cfg, mkt, st, whole, out, new_memo())
        print(n, out[:n].tobytes().hex())
""")


def test_jit_and_pure_python_agree():
    tests = os.path.dirname(os.path.abspath(__file__))
    script = _SCRIPT.format(tests=tests)
    results = run_jit_and_python([sys.executable, "-c", script])
    assert results[0] == results[1]
    assert all(int(line.split()[0]) > 0 for line in results[0].splitlines())
