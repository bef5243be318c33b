"""Take-profit grid of the modes (STRATEGY.md §3): check values of seed 002 and the reference, mirrors,
inverse markets and the qty-splitting rules."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from passivx.calc.contracts import min_entry_qty
from passivx.calc.layout import (
    C_LONG, C_SHORT, CFG_SIZE, K_CLOSE, MAX_ORDERS, MEMO_SIZE, O_KIND, O_POS_PRICE_AFTER, O_POS_SIDE,
    O_POS_SIZE_AFTER, O_PRICE, O_QTY, O_REDUCE_ONLY, O_SIDE, O_SIZE, O_WE_AFTER, P_BACKWARDS_TP,
    P_MARKUP_RANGE, P_MIN_MARKUP, P_N_CLOSE_ORDERS, P_WEL,
)
from passivx.calc.takeprofit import linspace_point, linspace_step, tp_grid, tp_prices

# price_step, qty_step, min_qty, min_cost, c_mult, inverse, maker, taker, mm, max_lev
LINEAR = np.array([0.01, 0.001, 0.001, 5.0, 1.0, 0.0, 0.0002, 0.0005, 0.004, 100.0])
INVERSE = np.array([0.5, 1.0, 1.0, 0.0, 1.0, 1.0, -0.00025, 0.00075, 0.005, 100.0])


def make_cfg(min_markup, markup_range, n_close, backwards=False, wel=1.0):
    cfg = np.zeros(CFG_SIZE)
    for base in (C_LONG, C_SHORT):
        cfg[base + P_WEL] = wel
        cfg[base + P_MIN_MARKUP] = min_markup
        cfg[base + P_MARKUP_RANGE] = markup_range
        cfg[base + P_N_CLOSE_ORDERS] = n_close
        cfg[base + P_BACKWARDS_TP] = 1.0 if backwards else 0.0
    return cfg


def grid(cfg, mkt, side, size, pos_price, balance, bid, ask):
    """The closes, computed with a fresh scratch array and, the same, in a memo's scratch space left dirty."""
    base = C_LONG if side > 0 else C_SHORT
    rows = []
    for memo in (np.zeros(0), np.full(MEMO_SIZE, np.nan), np.full(MEMO_SIZE, 7.0)):
        out = np.full((MAX_ORDERS, O_SIZE), np.nan)
        n = tp_grid(cfg, base, mkt, side, size, pos_price, balance, bid, ask, out, 0, memo)
        rows.append(out[:n])
    np.testing.assert_array_equal(rows[0], rows[1])
    np.testing.assert_array_equal(rows[0], rows[2])
    return rows[0]


def test_linspace_point_matches_numpy():
    # the calculator's one linspace, to the bit; a single point is the first end (a), never the last
    for a, b, n in [(95.475, 96.425, 5), (102.0, 105.0, 7), (1.0, 1.0, 3), (3.0, 9.0, 1), (0.1, 0.7, 13),
                    (104.475, 103.425, 4), (2001.0, 2030.0, 1)]:
        step = linspace_step(a, b, n)
        assert [linspace_point(a, b, n, step, i) for i in range(n)] == list(np.linspace(a, b, n))


def test_seed_002_prices_and_equal_qtys():
    # P 100, min_markup 0.02, markup_range 0.03, n 7 -> 102, 102.5, ..., 105; qty = size / n
    rows = grid(make_cfg(0.02, 0.03, 7), LINEAR, 1, 7.0, 100.0, 10_000.0, 99.0, 99.01)
    np.testing.assert_allclose(rows[:, O_PRICE], [102, 102.5, 103, 103.5, 104, 104.5, 105])
    np.testing.assert_allclose(rows[:, O_QTY], 1.0)


def test_seed_002_short_mirror():
    rows = grid(make_cfg(0.02, 0.03, 7), LINEAR, -1, -7.0, 100.0, 10_000.0, 100.99, 101.0)
    np.testing.assert_allclose(rows[:, O_PRICE], [98, 97.5, 97, 96.5, 96, 95.5, 95])
    np.testing.assert_allclose(rows[:, O_QTY], 1.0)
    assert (rows[:, O_SIDE] == 1).all() and (rows[:, O_POS_SIDE] == -1).all()


def test_reference_frontwards():
    # W 1000, long Q 5 @ 95, ask 95.5, min_markup 0.005, range 0.01, n 5: first node under the ask dropped
    rows = grid(make_cfg(0.005, 0.01, 5), LINEAR, 1, 5.0, 95.0, 1000.0, 95.49, 95.5)
    np.testing.assert_allclose(rows[:, O_PRICE], [95.72, 95.95, 96.19, 96.43])
    np.testing.assert_allclose(rows[:, O_QTY], 1.25)
    assert (rows[:, O_KIND] == K_CLOSE).all() and (rows[:, O_REDUCE_ONLY] == 1).all()
    assert (rows[:, O_SIDE] == -1).all() and (rows[:, O_POS_SIDE] == 1).all()
    # cumulative position after each close; a close keeps the position price
    np.testing.assert_allclose(rows[:, O_POS_SIZE_AFTER], [3.75, 2.5, 1.25, 0.0], atol=1e-12)
    np.testing.assert_allclose(rows[:3, O_POS_PRICE_AFTER], 95.0)
    np.testing.assert_allclose(rows[:3, O_WE_AFTER], rows[:3, O_POS_SIZE_AFTER] * 95.0 / 1000.0)
    assert rows[3, O_WE_AFTER] == 0.0


def test_reference_backwards():
    rows = grid(make_cfg(0.005, 0.01, 5, backwards=True), LINEAR, 1, 5.0, 95.0, 1000.0, 95.49, 95.5)
    np.testing.assert_allclose(rows[:, O_PRICE], [95.95, 96.19, 96.43])
    np.testing.assert_allclose(rows[:, O_QTY], [0.788, 2.106, 2.106])
    np.testing.assert_allclose(rows[:, O_POS_SIZE_AFTER], [4.212, 2.106, 0.0], atol=1e-12)


def test_reference_short_mirrors():
    # short Q -5 @ 105: prices 105*(1-0.005) .. 105*(1-0.015) rounded down: 104.47, 104.21, 103.95, 103.68,
    # 103.42; bid 104.4 drops the first
    cfg = make_cfg(0.005, 0.01, 5)
    rows = grid(cfg, LINEAR, -1, -5.0, 105.0, 1000.0, 104.4, 104.41)
    np.testing.assert_allclose(rows[:, O_PRICE], [104.21, 103.95, 103.68, 103.42])
    np.testing.assert_allclose(rows[:, O_QTY], 1.25)
    np.testing.assert_allclose(rows[:, O_POS_SIZE_AFTER], [-3.75, -2.5, -1.25, 0.0], atol=1e-12)
    # backwards: full = 1000/105 = 9.5238 -> per order round_up(full/5) = 1.905, from the farthest in
    cfg = make_cfg(0.005, 0.01, 5, backwards=True)
    rows = grid(cfg, LINEAR, -1, -5.0, 105.0, 1000.0, 104.4, 104.41)
    np.testing.assert_allclose(rows[:, O_PRICE], [103.95, 103.68, 103.42])
    np.testing.assert_allclose(rows[:, O_QTY], [5 - 2 * 1.905, 1.905, 1.905])


def test_no_kept_price_closes_all_at_the_book():
    rows = grid(make_cfg(0.005, 0.01, 5), LINEAR, 1, 5.0, 95.0, 1000.0, 199.99, 200.0)
    assert len(rows) == 1 and rows[0, O_PRICE] == 200.0 and rows[0, O_QTY] == 5.0
    rows = grid(make_cfg(0.005, 0.01, 5), LINEAR, -1, -5.0, 95.0, 1000.0, 50.0, 50.01)
    assert len(rows) == 1 and rows[0, O_PRICE] == 50.0 and rows[0, O_QTY] == 5.0


def test_one_kept_price_takes_all():
    # n 5 from 95.475 to 96.425, ask 96.3 keeps only 96.43
    for backwards in (False, True):
        rows = grid(make_cfg(0.005, 0.01, 5, backwards), LINEAR, 1, 5.0, 95.0, 1000.0, 96.29, 96.3)
        assert len(rows) == 1 and rows[0, O_PRICE] == 96.43 and rows[0, O_QTY] == 5.0
    # ... but only if at least the min qty (round_up(5/96.43, 0.001) = 0.052)
    assert len(grid(make_cfg(0.005, 0.01, 5), LINEAR, 1, 0.051, 95.0, 1000.0, 96.29, 96.3)) == 0


def test_one_point_is_at_min_markup():
    # n_close_orders 1: the only point is P*(1 +- min_markup) (95.475 -> 95.48 up, 94.525 -> 94.52 down)
    for backwards in (False, True):
        rows = grid(make_cfg(0.005, 0.01, 1, backwards), LINEAR, 1, 5.0, 95.0, 1000.0, 94.99, 95.0)
        assert rows[:, O_PRICE].tolist() == [95.48] and rows[:, O_QTY].tolist() == [5.0]
        rows = grid(make_cfg(0.005, 0.01, 1, backwards), LINEAR, -1, -5.0, 95.0, 1000.0, 95.0, 95.01)
        assert rows[:, O_PRICE].tolist() == [94.52] and rows[:, O_QTY].tolist() == [5.0]


def test_short_prices_stay_positive():
    # short P 1, markups 0.5 .. 1.1: points 0.5, 0.2, -0.1; a bid at or under zero is no price: 2 closes
    rows = grid(make_cfg(0.5, 0.6, 3), LINEAR, -1, -100.0, 1.0, 1000.0, 0.99, 1.0)
    assert rows[:, O_PRICE].tolist() == [0.5, 0.2] and rows[:, O_QTY].tolist() == [50.0, 50.0]


def test_size_is_rounded_down_to_qty_step():
    rows = grid(make_cfg(0.005, 0.01, 5), LINEAR, 1, 5.0009, 95.0, 1000.0, 95.49, 95.5)
    assert rows[:, O_QTY].sum() == pytest.approx(5.0)


def test_frontwards_small_position_remainder_onto_last_placed():
    # Q 0.1 over 4 kept prices: d = 0.025 < min qty 0.053, so the first takes 0.053, the 0.047 left is
    # under every min qty and goes onto that first order: one order of 0.1
    rows = grid(make_cfg(0.005, 0.01, 5), LINEAR, 1, 0.1, 95.0, 1000.0, 95.49, 95.5)
    assert len(rows) == 1 and rows[0, O_PRICE] == 95.72 and rows[0, O_QTY] == pytest.approx(0.1)


def test_frontwards_keeps_duplicate_prices_backwards_drops_them():
    # 0.0001 markup range over 5 points at price_step 0.01: many rounded prices coincide
    cfg = make_cfg(0.005, 0.0001, 5)
    rows = grid(cfg, LINEAR, 1, 5.0, 95.0, 1000.0, 95.0, 95.01)
    assert len(rows) == 5 and len(set(rows[:, O_PRICE])) < 5
    _, k, n_all = tp_prices(make_cfg(0.005, 0.0001, 5, True), C_LONG, LINEAR, 1, 95.0, 1000.0, 95.0, 95.01,
                            np.zeros(0))
    assert k == n_all == len(set(rows[:, O_PRICE]))


def test_backwards_point_count_limited_by_full_size_over_min_qty():
    # full = cost_to_qty(W*WEL, P) = 100/95 = 1.0526; min qty 0.053 -> 19.9 -> n = min(30, 20) = 20
    cfg = make_cfg(0.005, 0.01, 30, backwards=True, wel=1.0)
    _, k, n_all = tp_prices(cfg, C_LONG, LINEAR, 1, 95.0, 100.0, 94.0, 94.01, np.zeros(0))
    assert n_all == 20 and k == 20


def test_inverse_market():
    # inverse: Q 100 contracts @ 50000, ask 50100; prices 50250 .. 50750 (price_step 0.5) all kept
    cfg = make_cfg(0.005, 0.01, 5)
    rows = grid(cfg, INVERSE, 1, 100.0, 50_000.0, 0.01, 50_099.5, 50_100.0)
    np.testing.assert_allclose(rows[:, O_PRICE], [50250, 50375, 50500, 50625, 50750])
    np.testing.assert_allclose(rows[:, O_QTY], 20.0)
    # WE after in coin: remaining contracts / P / balance
    np.testing.assert_allclose(rows[0, O_WE_AFTER], 80 / 50_000 / 0.01)
    # backwards: full = 0.01 * 50000 = 500 contracts, min qty 1 -> n = 5, per = 100: all at the farthest
    rows = grid(make_cfg(0.005, 0.01, 5, True), INVERSE, 1, 100.0, 50_000.0, 0.01, 50_099.5, 50_100.0)
    assert len(rows) == 1 and rows[0, O_PRICE] == 50750 and rows[0, O_QTY] == 100.0


def _min_qty_over(prices, mkt):
    return max(min_entry_qty(p, mkt) for p in prices)


@settings(max_examples=150, deadline=None)
@given(size=hs.floats(0.001, 20.0), pos_price=hs.floats(20.0, 500.0), n_close=hs.integers(1, 12),
       min_markup=hs.floats(0.0, 0.02), markup_range=hs.floats(0.0, 0.05), ask_frac=hs.floats(0.99, 1.03),
       backwards=hs.booleans(), side=hs.sampled_from([1, -1]))
def test_grid_properties(size, pos_price, n_close, min_markup, markup_range, ask_frac, backwards, side):
    """Never more than the position, never crossing the book, nearest first, whole position placed when it
    is at least the min qty of every kept price."""
    cfg = make_cfg(min_markup, markup_range, n_close, backwards)
    book = round(pos_price * (ask_frac if side > 0 else 2 - ask_frac), 2)
    q = np.floor(round(size / 0.001, 6)) * 0.001
    rows = grid(cfg, LINEAR, side, side * size, pos_price, 1000.0, book, book)
    total = rows[:, O_QTY].sum()
    assert total <= q + 1e-9
    prices = rows[:, O_PRICE]
    assert (side * (prices - book) >= 0).all()
    assert (np.diff(side * prices) >= 0).all()
    base = C_LONG if side > 0 else C_SHORT
    kept, k, _ = tp_prices(cfg, base, LINEAR, side, pos_price, 1000.0, book, book, np.zeros(0))
    in_memo, k_memo, _ = tp_prices(cfg, base, LINEAR, side, pos_price, 1000.0, book, book, np.full(MEMO_SIZE, 7.0))
    assert k_memo == k and np.array_equal(in_memo[:k], kept[:k])  # the same in a memo's scratch space
    if k == 0 or q >= _min_qty_over(kept[:k], LINEAR):
        assert total == pytest.approx(q, abs=1e-9)
    np.testing.assert_allclose(rows[:, O_POS_SIZE_AFTER], side * (q - np.cumsum(rows[:, O_QTY])), atol=1e-9)
