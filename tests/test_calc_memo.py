"""The calculator's memo (`passivx.calc.entry.new_memo`) is a pure cache: the orders with a memo reused over
many calls equal the orders computed without one, whatever the sequence of states, sides, configs and
markets; and the filled-grid bound the backtester's shortcuts use (`neat.filled_grid_bound`)."""
import math

import numpy as np
import pytest
from test_calc_modes_neat_clock import INVERSE, LINEAR, make_cfg, make_st

from passivx.calc import layout as L
from passivx.calc.contracts import min_entry_qty
from passivx.calc.entry import ideal_orders, new_memo
from passivx.calc.neat import filled_grid_bound, neat_entries
from passivx.markets import MarketSpec

COARSE = MarketSpec(price_step=0.5, qty_step=0.1, min_qty=0.1, min_cost=10.0).to_array()


def _orders(cfg, mkt, st, memo, whole_grid=False):
    out = np.zeros((L.MAX_ORDERS, L.O_SIZE))
    n = ideal_orders(cfg, mkt, st, whole_grid, out, memo)
    return out[:n].copy()


@pytest.mark.parametrize("seed", range(6))
def test_a_reused_memo_gives_the_orders_computed_without_one(seed):
    rng = np.random.default_rng(seed)
    cfgs = [make_cfg(max_n_entry_orders=int(rng.integers(1, 9)), eqty_exp_base=float(rng.uniform(1.0, 2.0)),
                     eprice_exp_base=float(rng.uniform(1.0, 1.6)), grid_span=float(rng.uniform(0.05, 0.4)),
                     initial_qty_pct=float(rng.uniform(0.005, 0.05))) for _ in range(2)]
    memo = new_memo()
    hits = 0
    for _ in range(40):  # episodes: config, market, balance and positions held while the book and EMAs move
        cfg, mkt = cfgs[rng.integers(len(cfgs))], (LINEAR, COARSE)[rng.integers(2)]
        balance = float(rng.choice([30.0, 1000.0, 1000.0 * rng.uniform(0.5, 2.0)]))
        long = (round(float(rng.uniform(0.05, 3.0)), 3), round(float(rng.uniform(80, 110)), 2)) \
            if rng.random() < 0.8 else (0.0, 0.0)
        short = (-round(float(rng.uniform(0.05, 3.0)), 3), round(float(rng.uniform(95, 120)), 2)) \
            if rng.random() < 0.8 else (0.0, 0.0)
        for _ in range(4):
            bid = round(100.0 * rng.uniform(0.9, 1.1), 2)
            st = make_st(balance=balance, bid=bid, ask=round(bid + 0.01, 2),
                         ema=round(100.0 * rng.uniform(0.95, 1.05), 2), long=long, short=short)
            whole = bool(rng.integers(2))
            kept = memo[:L.MEMO_SIDE].copy()
            memo[L.MEMO_SCRATCH:] = rng.choice([np.nan, -1e300, 7.0])  # a kept grid needs no workspace basis
            got = _orders(cfg, mkt, st, memo, whole)
            hits += long[0] != 0.0 and kept[1] == long[0] and np.array_equal(kept, memo[:L.MEMO_SIDE])
            np.testing.assert_array_equal(got, _orders(cfg, mkt, st, np.zeros(0), whole))
    assert hits > 40  # the sequence did reuse kept grids


def test_inverse_market_memo():
    memo = new_memo()
    cfg = make_cfg(max_n_entry_orders=5, eqty_exp_base=1.4)
    for size, price in [(300.0, 30000.0), (300.0, 30000.0), (-500.0, 31000.0), (300.0, 30000.0)]:
        key = "long" if size > 0 else "short"
        st = make_st(balance=0.05, bid=29000.0, ask=29000.5, ema=29500.0, **{key: (size, price)})
        np.testing.assert_array_equal(_orders(cfg, INVERSE, st, memo), _orders(cfg, INVERSE, st, np.zeros(0)))


def _whole_grid_position(cfg, mkt, st, side):
    """The position after every node of the flat grid at `st` filled."""
    out = np.zeros((L.MAX_ORDERS, L.O_SIZE))
    n = neat_entries(cfg, L.C_LONG if side > 0 else L.C_SHORT, mkt, st, side, True, out, 0, np.zeros(0))
    return out[n - 1, L.O_POS_SIZE_AFTER], out[n - 1, L.O_POS_PRICE_AFTER]


@pytest.mark.parametrize("mkt, balance", [(LINEAR, 40.0), (LINEAR, 1000.0), (COARSE, 1000.0)])
def test_a_long_filling_its_whole_grid_gets_no_entry_until_it_turns_dust(mkt, balance):
    cfg = make_cfg(max_n_entry_orders=4)
    size, price = _whole_grid_position(cfg, mkt, make_st(balance=balance), 1)
    st = make_st(balance=balance, long=(size, price))
    bound = filled_grid_bound(cfg, L.C_LONG, mkt, st, 1, np.zeros(0))
    assert 0.0 < bound < price
    for bid in np.geomspace(price, bound * 1.000001, 40):  # the book above the bound: never an entry
        st[L.S_BEST_BID] = st[L.S_BEST_ASK] = st[L.S_LONG_EMA0] = st[L.S_LONG_EMA0 + 1] = \
            st[L.S_LONG_EMA0 + 2] = round(bid, 2)
        assert neat_entries(cfg, L.C_LONG, mkt, st, 1, False, np.zeros((L.MAX_ORDERS, L.O_SIZE)), 0,
                            np.zeros(0)) == 0
    # a little under it the position counts as dust at p0 (the flat grid's entry may come back)
    assert size < 0.9 * min_entry_qty(bound * 0.99, mkt)


def test_filled_grid_bound_other_cases():
    cfg = make_cfg(max_n_entry_orders=4)
    size, price = _whole_grid_position(cfg, LINEAR, make_st(ask=100.0, bid=99.99), -1)
    short = make_st(short=(size, price))
    assert filled_grid_bound(cfg, L.C_SHORT, LINEAR, short, -1, np.zeros(0)) == math.inf  # a rising ask: never
    half = make_st(long=(_whole_grid_position(cfg, LINEAR, make_st(), 1)[0] / 2, 95.0))
    assert math.isnan(filled_grid_bound(cfg, L.C_LONG, LINEAR, half, 1, np.zeros(0)))  # nodes left
    assert math.isnan(filled_grid_bound(cfg, L.C_LONG, LINEAR, make_st(), 1, np.zeros(0)))  # flat


@pytest.mark.parametrize("seed", range(4))
def test_the_memo_scratch_space_left_dirty_changes_nothing(seed):
    """Neat workspaces and take-profit prices live in the memo's scratch space between calls: whatever an
    earlier call (or garbage) left there, the orders are those computed with freshly allocated arrays."""
    rng = np.random.default_rng(100 + seed)
    for _ in range(30):
        cfg = make_cfg(max_n_entry_orders=int(rng.integers(1, 12)), eqty_exp_base=float(rng.uniform(1.0, 2.0)),
                       eprice_exp_base=float(rng.uniform(1.0, 1.6)), grid_span=float(rng.uniform(0.05, 0.4)),
                       n_close_orders=int(rng.integers(1, 8)), backwards_tp=float(rng.integers(2)),
                       min_markup=float(rng.uniform(0.0, 0.01)), markup_range=float(rng.uniform(0.0, 0.02)))
        mkt = (LINEAR, COARSE)[rng.integers(2)]
        bid = round(100.0 * rng.uniform(0.9, 1.1), 2)
        st = make_st(balance=float(rng.choice([30.0, 1000.0])), bid=bid, ask=round(bid + 0.01, 2),
                     ema=round(100.0 * rng.uniform(0.95, 1.05), 2),
                     long=(round(float(rng.uniform(0.05, 3.0)), 3), round(float(rng.uniform(80, 110)), 2)),
                     short=(-round(float(rng.uniform(0.05, 3.0)), 3), round(float(rng.uniform(95, 120)), 2)))
        whole = bool(rng.integers(2))
        want = _orders(cfg, mkt, st, np.zeros(0), whole)
        for junk in (np.nan, -1e300, 7.0):
            memo = new_memo()
            memo[L.MEMO_SCRATCH:] = junk
            np.testing.assert_array_equal(_orders(cfg, mkt, st, memo, whole), want)
