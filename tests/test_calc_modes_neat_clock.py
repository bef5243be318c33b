"""Neat grid mode and clock mode of the calculator (STRATEGY.md §3 "Neat grid", "Clock mode")."""
import math
import os
import sys

import numpy as np
import pytest
from jit_parity import run_jit_and_python

from passivx.calc import layout as L
from passivx.calc.clock import clock_close, clock_entries
from passivx.calc.neat import basespace, neat_entries
from passivx.markets import MarketSpec

LINEAR = MarketSpec(price_step=0.01, qty_step=0.001, min_qty=0.001, min_cost=5.0).to_array()
INVERSE = MarketSpec(price_step=0.5, qty_step=1.0, min_qty=1.0, c_mult=1.0, inverse=True).to_array()
SIDES = ((1, L.C_LONG), (-1, L.C_SHORT))


def make_cfg(mode=L.MODE_NEAT, **params):
    """Both sides get the same parameters: P_<NAME> keys in lower case, e.g. grid_span=0.3."""
    cfg = np.zeros(L.CFG_SIZE)
    cfg[L.C_MODE] = mode
    values = dict(enabled=1.0, wel=1.0, initial_qty_pct=0.01, grid_span=0.3, eqty_exp_base=2.0,
                  eprice_exp_base=1.0, max_n_entry_orders=6)
    values.update(params)
    for base in (L.C_LONG, L.C_SHORT):
        for name, v in values.items():
            cfg[base + getattr(L, "P_" + name.upper())] = v
    return cfg


def make_st(balance=1000.0, bid=100.0, ask=100.0, ema=100.0, long=(0.0, 0.0), short=(0.0, 0.0), now=0.0,
            last_entry=-math.inf, last_close=-math.inf):
    st = np.zeros(L.ST_SIZE)
    st[L.S_BALANCE] = balance
    st[L.S_BEST_BID], st[L.S_BEST_ASK] = bid, ask
    st[L.S_LAST_PRICE] = bid
    ema = ema if isinstance(ema, tuple) else (ema,) * 3
    st[L.S_LONG_EMA0:L.S_LONG_EMA0 + 3] = ema
    st[L.S_SHORT_EMA0:L.S_SHORT_EMA0 + 3] = ema
    st[L.S_LONG_SIZE], st[L.S_LONG_PRICE] = long
    st[L.S_SHORT_SIZE], st[L.S_SHORT_PRICE] = short
    st[L.S_NOW_MS] = now
    for i in (L.S_LONG_LAST_ENTRY_MS, L.S_SHORT_LAST_ENTRY_MS):
        st[i] = last_entry
    for i in (L.S_LONG_LAST_CLOSE_MS, L.S_SHORT_LAST_CLOSE_MS):
        st[i] = last_close
    st[L.S_LONG_LAST_UNSTUCK_MS] = st[L.S_SHORT_LAST_UNSTUCK_MS] = -math.inf
    return st


def neat(cfg, st, side, whole_grid=True, mkt=LINEAR):
    out = np.zeros((L.MAX_ORDERS, L.O_SIZE))
    base = L.C_LONG if side > 0 else L.C_SHORT
    n = neat_entries(cfg, base, mkt, st, side, whole_grid, out, 0, np.zeros(0))
    return out[:n].copy()


def clock(fn, cfg, st, side, mkt=LINEAR):
    out = np.zeros((L.MAX_ORDERS, L.O_SIZE))
    base = L.C_LONG if side > 0 else L.C_SHORT
    n = fn(cfg, base, mkt, st, side, out, 0)
    return out[:n].copy()


def cost(q, p, mkt):
    """Hand formula of STRATEGY §1 (c_mult 1)."""
    return q / p if mkt[L.M_INVERSE] else q * p


def exposure_by_hand(rows, balance, mkt, start_cost=0.0):
    """Cumulative WE of rows filled in order (costs add up for linear and harmonic-mean inverse)."""
    return (start_cost + np.cumsum([cost(q, p, mkt) for q, p in rows[:, [L.O_QTY, L.O_PRICE]]])) / balance


def min_entry(price, mkt):
    if mkt[L.M_INVERSE]:
        return mkt[L.M_MIN_QTY]
    return max(mkt[L.M_MIN_QTY], math.ceil(round(mkt[L.M_MIN_COST] / price / mkt[L.M_QTY_STEP], 10))
               * mkt[L.M_QTY_STEP])


def on_step(x, step):
    return abs(x / step - round(x / step)) < 1e-6


# ---- basespace --------------------------------------------------------------------------------------
def test_basespace_check_value():
    assert basespace(100.0, 70.0, 2.0, 5) == pytest.approx([100, 98, 94, 86, 70], abs=1e-12)


def test_basespace_base_one_is_linspace():
    assert np.array_equal(basespace(3.0, 11.0, 1.0, 7), np.linspace(3.0, 11.0, 7))
    assert np.array_equal(basespace(5.0, 5.0, 1.0, 1), [5.0])


@pytest.mark.parametrize("base", [1.2, 1.618034, 3.0])
def test_basespace_spacing_grows_with_base_above_one(base):
    v = basespace(0.5, 9.0, base, 8)
    assert v[0] == 0.5 and v[-1] == 9.0
    gaps = np.diff(v)
    assert np.all(gaps > 0) and np.all(np.diff(gaps) > 0)
    assert gaps[1] / gaps[0] == pytest.approx(base)


# ---- neat grid ----------------------------------------------------------------------------------------
def test_neat_check_value_whole_grid():
    rows = neat(make_cfg(), make_st(), 1)
    assert rows[:, L.O_PRICE].tolist() == [100, 94, 88, 82, 76, 70]
    assert rows[:, L.O_QTY] == pytest.approx([0.1, 0.324, 0.771, 1.666, 3.456, 7.035], abs=0.002)
    assert rows[-1, L.O_WE_AFTER] == pytest.approx(1.0, rel=0.01)
    assert rows[:, L.O_WE_AFTER] == pytest.approx(exposure_by_hand(rows, 1000.0, LINEAR))
    assert np.all(rows[:, L.O_KIND] == L.K_ENTRY) and np.all(rows[:, L.O_SIDE] == 1)
    assert np.all(rows[:, L.O_REDUCE_ONLY] == 0)


def test_neat_live_flat_places_only_the_initial_entry():
    rows = neat(make_cfg(initial_eprice_ema_dist=0.01), make_st(bid=100.0, ema=100.0), 1, whole_grid=False)
    assert len(rows) == 1
    assert rows[0, L.O_PRICE] == 99.0  # round_dn(100*(1-0.01))
    assert rows[0, L.O_QTY] == pytest.approx(round(10 / 99, 3))  # W*WEL*pct / p0


def test_neat_initial_entry_clamped_to_book():
    rows = neat(make_cfg(), make_st(bid=97.5, ema=100.0), 1, whole_grid=False)
    assert rows[0, L.O_PRICE] == 97.5


def test_neat_dust_position_gets_partial_initial_entry():
    # min_entry_qty(100) = 0.05 (min_cost 5); 0.02 < 0.9*0.05: still "flat"
    rows = neat(make_cfg(), make_st(long=(0.02, 101.0)), 1, whole_grid=False)
    assert len(rows) == 1 and rows[0, L.O_PRICE] == 100.0
    assert rows[0, L.O_QTY] == pytest.approx(0.08)  # q0 0.1 - 0.02
    rows = neat(make_cfg(), make_st(long=(0.04, 101.0)), 1, whole_grid=False)
    assert rows[0, L.O_QTY] == pytest.approx(0.06)
    # a dust remainder below the exchange minimum is raised to it
    rows = neat(make_cfg(initial_qty_pct=0.006), make_st(long=(0.03, 101.0)), 1, whole_grid=False)
    assert rows[0, L.O_QTY] == pytest.approx(0.05)


def test_neat_short_mirrors_long():
    rows = neat(make_cfg(), make_st(bid=99.99, ask=100.0), -1)
    assert rows[:, L.O_PRICE].tolist() == [100, 106, 112, 118, 124, 130]
    assert np.all(rows[:, L.O_SIDE] == -1) and np.all(rows[:, L.O_POS_SIDE] == -1)
    assert np.all(rows[:, L.O_POS_SIZE_AFTER] < 0)
    assert rows[0, L.O_QTY] == pytest.approx(0.1)
    # qtys follow basespace(q0, q_last, 2, 6): gaps double
    gaps = np.diff(rows[:, L.O_QTY])
    assert gaps[1:] / gaps[:-1] == pytest.approx([2, 2, 2, 2], rel=0.02)
    assert rows[:, L.O_WE_AFTER] == pytest.approx(exposure_by_hand(rows, 1000.0, LINEAR))
    assert 0.99 <= rows[-1, L.O_WE_AFTER] <= 1.0


def test_neat_short_price_rounds_up():
    rows = neat(make_cfg(grid_span=0.33, max_n_entry_orders=4), make_st(bid=99.99, ask=100.0), -1)
    raw = np.linspace(100, 133, 4)
    assert rows[:, L.O_PRICE] == pytest.approx(np.ceil(np.round(raw / 0.01, 10)) * 0.01)
    rows = neat(make_cfg(grid_span=0.33, max_n_entry_orders=4), make_st(), 1)
    raw = np.linspace(100, 67, 4)
    assert rows[:, L.O_PRICE] == pytest.approx(np.floor(np.round(raw / 0.01, 10)) * 0.01)


def test_neat_eprice_exp_base_spreads_deeper_nodes():
    rows = neat(make_cfg(eprice_exp_base=1.5, max_n_entry_orders=5), make_st(), 1)
    gaps = -np.diff(rows[:, L.O_PRICE])
    assert np.all(np.diff(gaps) > 0)
    assert rows[-1, L.O_PRICE] == 70.0


def test_neat_inverse_market():
    cfg = make_cfg(initial_qty_pct=0.05, grid_span=0.2, eqty_exp_base=1.5, eprice_exp_base=1.2,
                   max_n_entry_orders=5)
    st = make_st(balance=0.01, bid=50000.0, ask=50000.5, ema=50000.0)
    rows = neat(cfg, st, 1, mkt=INVERSE)
    assert rows[0, L.O_PRICE] == 50000.0 and rows[-1, L.O_PRICE] == 40000.0
    assert rows[0, L.O_QTY] == 25.0  # 0.01 BTC * 0.05 * 50000 USD contracts
    assert all(on_step(q, 1.0) for q in rows[:, L.O_QTY])
    # harmonic-mean averaging: costs in coin add up
    assert rows[:, L.O_WE_AFTER] == pytest.approx(exposure_by_hand(rows, 0.01, INVERSE), rel=1e-9)
    assert 0.99 <= rows[-1, L.O_WE_AFTER] <= 1.0
    size = rows[-1, L.O_POS_SIZE_AFTER]
    assert rows[-1, L.O_POS_PRICE_AFTER] == pytest.approx(size / sum(rows[:, L.O_QTY] / rows[:, L.O_PRICE]))


def _filled(rows, k, frac=0.0):
    """Position after filling nodes 0..k-1 fully and node k by `frac` (linear or inverse averaging)."""
    qtys = list(rows[:k, L.O_QTY])
    prices = list(rows[:k, L.O_PRICE])
    if frac:
        qtys.append(round(rows[k, L.O_QTY] * frac, 3))
        prices.append(rows[k, L.O_PRICE])
    return qtys, prices


@pytest.mark.parametrize("mkt, balance, p0", [(LINEAR, 1000.0, 100.0), (INVERSE, 0.05, 30000.0)])
@pytest.mark.parametrize("side", [1, -1])
def test_neat_position_on_grid_continues_the_same_grid(mkt, balance, p0, side):
    cfg = make_cfg(max_n_entry_orders=7, eqty_exp_base=1.4, eprice_exp_base=1.3)
    st = make_st(balance=balance, bid=p0, ask=p0, ema=p0)
    plan = neat(cfg, st, side, mkt=mkt)
    assert len(plan) == 7
    for k in range(1, 6):
        size, price = plan[k - 1, L.O_POS_SIZE_AFTER], plan[k - 1, L.O_POS_PRICE_AFTER]
        key = "long" if side > 0 else "short"
        st2 = make_st(balance=balance, bid=plan[k - 1, L.O_PRICE], ask=plan[k - 1, L.O_PRICE], ema=p0,
                      **{key: (size, price)})
        live = neat(cfg, st2, side, whole_grid=False, mkt=mkt)
        assert len(live) == 1
        step = mkt[L.M_PRICE_STEP]
        assert live[0, L.O_PRICE] == pytest.approx(plan[k, L.O_PRICE], abs=2 * step)
        assert live[0, L.O_QTY] == pytest.approx(plan[k, L.O_QTY], rel=0.01, abs=2 * mkt[L.M_QTY_STEP])
        rest = neat(cfg, st2, side, mkt=mkt)
        assert len(rest) == 7 - k
        assert rest[:, L.O_PRICE] == pytest.approx(plan[k:, L.O_PRICE], abs=2 * step)
        assert rest[-1, L.O_WE_AFTER] == pytest.approx(plan[-1, L.O_WE_AFTER], rel=0.01)


def test_neat_partly_filled_node_gets_the_remainder():
    cfg = make_cfg()
    plan = neat(cfg, make_st(), 1)
    qtys, prices = _filled(plan, 3, frac=0.5)
    size = sum(qtys)
    pprice = np.dot(qtys, prices) / size
    rows = neat(cfg, make_st(bid=82.0, long=(size, pprice)), 1)
    assert rows[0, L.O_PRICE] == pytest.approx(82.0, abs=0.02)
    assert rows[0, L.O_QTY] == pytest.approx(plan[3, L.O_QTY] - qtys[-1], abs=0.005)
    assert rows[1:, L.O_PRICE] == pytest.approx(plan[4:, L.O_PRICE], abs=0.02)
    assert rows[-1, L.O_WE_AFTER] == pytest.approx(1.0, rel=0.01)


@pytest.mark.parametrize("mkt", [LINEAR, INVERSE], ids=["linear", "inverse"])
@pytest.mark.parametrize("side", [1, -1])
def test_neat_position_priced_under_a_price_step_gets_a_grid_of_real_prices(mkt, side):
    # a position price far below the book and under one price step: the re-anchoring search walks the
    # anchor toward zero; grid prices stay at least a step (no zero price, no division by zero)
    step = mkt[L.M_PRICE_STEP]
    st = make_st(balance=1.0 if mkt is INVERSE else 1000.0, long=(3.0, 0.2) if side > 0 else (0.0, 0.0),
                 short=(-3.0, 0.2) if side < 0 else (0.0, 0.0))
    rows = neat(make_cfg(), st, side, mkt=mkt)
    assert np.isfinite(rows).all()
    assert (rows[:, L.O_PRICE] >= step).all() and (rows[:, L.O_QTY] > 0).all()


def test_neat_nearly_filled_node_counts_as_filled():
    cfg = make_cfg()
    plan = neat(cfg, make_st(), 1)
    qtys, prices = _filled(plan, 3, frac=0.997)  # node 82 filled but for 0.005 (0.2 % of the position)
    size = sum(qtys)
    rows = neat(cfg, make_st(bid=82.0, long=(size, np.dot(qtys, prices) / size)), 1, whole_grid=False)
    assert rows[0, L.O_PRICE] == pytest.approx(76.0, abs=0.02)
    assert rows[0, L.O_QTY] == pytest.approx(plan[4, L.O_QTY], abs=0.005)


def test_neat_partial_initial_entry_completes_under_position_price():
    # 0.06 of q0 0.1 filled at 100 (0.06 >= 0.9*min_entry_qty 0.05, so not dust); the bid is above P
    rows = neat(make_cfg(), make_st(bid=101.0, ask=101.01, ema=101.0, long=(0.06, 100.0)), 1,
                whole_grid=False)
    assert rows[0, L.O_PRICE] == 99.99  # the node at 100 may not be placed at or above P
    assert rows[0, L.O_QTY] == pytest.approx(0.05)  # remainder 0.04 raised to min_entry_qty(99.99)
    rows = neat(make_cfg(), make_st(bid=99.0, ask=99.01, ema=99.0, short=(-0.06, 100.0)), -1,
                whole_grid=False)
    assert rows[0, L.O_PRICE] == 100.01 and rows[0, L.O_QTY] == pytest.approx(0.05)


def test_neat_full_position_places_nothing():
    plan = neat(make_cfg(), make_st(), 1)
    st = make_st(bid=69.0, long=(plan[-1, L.O_POS_SIZE_AFTER], plan[-1, L.O_POS_PRICE_AFTER]))
    assert len(neat(make_cfg(), st, 1)) == 0


def test_neat_entries_stay_behind_position_price_and_book():
    # a position that did not come from this grid: at 100 with a bid above the position price
    st = make_st(bid=101.0, ask=101.01, ema=101.0, long=(1.0, 100.0), short=(-1.0, 100.0))
    for side in (1, -1):
        rows = neat(make_cfg(), st, side)
        assert len(rows) > 0
        if side > 0:
            assert np.all(rows[:, L.O_PRICE] < 100.0) and np.all(rows[:, L.O_PRICE] <= 101.0)
        else:
            assert np.all(rows[:, L.O_PRICE] > 100.0) and np.all(rows[:, L.O_PRICE] >= 101.01)
        assert rows[-1, L.O_WE_AFTER] <= 1.01


def test_neat_grid_clamped_to_book_merges_nodes():
    plan = neat(make_cfg(), make_st(), 1)
    st = make_st(bid=80.0, long=(plan[1, L.O_POS_SIZE_AFTER], plan[1, L.O_POS_PRICE_AFTER]))
    rows = neat(make_cfg(), st, 1)
    # nodes 88 and 82 are both clamped to the bid 80 and become one order; 76 and 70 keep their prices
    assert rows[:, L.O_PRICE].tolist() == [80, 76, 70]
    assert rows[0, L.O_QTY] == pytest.approx(plan[2, L.O_QTY] + plan[3, L.O_QTY], abs=0.003)
    assert rows[:, L.O_WE_AFTER] == pytest.approx(
        exposure_by_hand(rows, 1000.0, LINEAR, start_cost=plan[1, L.O_WE_AFTER] * 1000.0))


def test_neat_grid_clamped_to_book_is_cropped_at_wel_inverse():
    # inverse: nodes clamped to a much lower bid cost more coin than planned; the grid stops at WEL
    cfg = make_cfg(initial_qty_pct=0.05, grid_span=0.2, max_n_entry_orders=5)
    st = make_st(balance=0.01, bid=50000.0, ask=50000.5, ema=50000.0)
    plan = neat(cfg, st, 1, mkt=INVERSE)
    st = make_st(balance=0.01, bid=30000.0, ask=30000.5, ema=30000.0,
                 long=(plan[1, L.O_POS_SIZE_AFTER], plan[1, L.O_POS_PRICE_AFTER]))
    rows = neat(cfg, st, 1, mkt=INVERSE)
    assert rows[:, L.O_PRICE].tolist() == [30000.0]
    assert rows[0, L.O_QTY] < plan[2:, L.O_QTY].sum()
    assert rows[0, L.O_WE_AFTER] == pytest.approx(1.0, rel=0.01)


def test_neat_we_never_past_wel_random_grids():
    rng = np.random.default_rng(7)
    for _ in range(150):
        mkt = INVERSE if rng.random() < 0.3 else LINEAR
        p0 = float(rng.choice([30000.0, 45000.0])) if mkt is INVERSE else float(rng.uniform(5.0, 500.0))
        p0 = round(p0 / mkt[L.M_PRICE_STEP]) * mkt[L.M_PRICE_STEP]
        balance = float(rng.uniform(0.02, 0.2)) if mkt is INVERSE else float(rng.uniform(200.0, 5000.0))
        wel = float(rng.uniform(0.3, 3.0))
        cfg = make_cfg(wel=wel, initial_qty_pct=rng.uniform(0.005, 0.05), grid_span=rng.uniform(0.05, 0.6),
                       eqty_exp_base=rng.uniform(1.0, 3.0), eprice_exp_base=rng.uniform(1.0, 2.0),
                       max_n_entry_orders=int(rng.integers(2, 13)))
        side = int(rng.choice([1, -1]))
        key = "long" if side > 0 else "short"
        st = make_st(balance=balance, bid=p0, ask=p0, ema=p0)
        plan = neat(cfg, st, side, mkt=mkt)
        assert plan[-1, L.O_WE_AFTER] <= 1.01 * wel
        assert plan[-1, L.O_WE_AFTER] >= 0.95 * wel
        # a position somewhere inside the grid: the remaining grid also ends at WEL
        k = int(rng.integers(1, len(plan))) if len(plan) > 1 else 1
        qtys, prices = _filled(plan, k, frac=float(rng.choice([0.0, 0.3, 0.7])) if k < len(plan) else 0.0)
        qtys = [round(q / mkt[L.M_QTY_STEP]) * mkt[L.M_QTY_STEP] for q in qtys]
        size = sum(qtys)
        if mkt is INVERSE:
            pprice = size / sum(q / p for q, p in zip(qtys, prices))
        else:
            pprice = np.dot(qtys, prices) / size
        st = make_st(balance=balance, bid=prices[-1], ask=prices[-1], ema=p0, **{key: (side * size, pprice)})
        rows = neat(cfg, st, side, mkt=mkt)
        start = cost(size, pprice, mkt) if mkt is INVERSE else size * pprice
        we = exposure_by_hand(rows, balance, mkt, start_cost=start) if len(rows) else [start / balance]
        assert np.max(we) <= 1.01 * wel
        if len(rows):
            assert rows[:, L.O_WE_AFTER] == pytest.approx(we, rel=1e-6)
            assert we[-1] >= 0.95 * wel
            assert np.all(side * (pprice - rows[:, L.O_PRICE]) > 0)
            assert np.all(side * np.diff(rows[:, L.O_PRICE]) < 0)
            for q, p in rows[:, [L.O_QTY, L.O_PRICE]]:
                assert on_step(q, mkt[L.M_QTY_STEP]) and q >= min_entry(p, mkt) - 1e-12


def test_neat_no_orders_without_balance_or_wel():
    assert len(neat(make_cfg(wel=0.0), make_st(), 1)) == 0
    assert len(neat(make_cfg(), make_st(balance=0.0), 1)) == 0


# ---- clock mode ---------------------------------------------------------------------------------------
def clock_cfg(**params):
    values = dict(delay_entry=5.0, delay_close=10.0, delay_weight_entry=0.0, delay_weight_close=0.0,
                  ema_dist_entry=0.01, ema_dist_close=0.02, qty_pct_entry=0.05, qty_pct_close=0.1,
                  we_mult_entry=0.0, we_mult_close=0.0, wel=1.0)
    values.update(params)
    return make_cfg(mode=L.MODE_CLOCK, **values)


def test_clock_entry_prices_and_qty_long_and_short():
    st = make_st(bid=100.0, ask=100.02, ema=(100.0, 101.0, 102.0))
    rows = clock(clock_entries, clock_cfg(), st, 1)
    assert rows[0, L.O_PRICE] == 99.0  # min(bid, round_dn(100*0.99))
    assert rows[0, L.O_QTY] == pytest.approx(round(50 / 99, 3))  # W*WEL*pct at the price
    rows = clock(clock_entries, clock_cfg(), st, -1)
    assert rows[0, L.O_PRICE] == pytest.approx(103.02)  # max(ask, round_up(102*1.01))
    assert rows[0, L.O_SIDE] == -1 and rows[0, L.O_POS_SIZE_AFTER] < 0
    st = make_st(bid=95.0, ask=95.01, ema=100.0)
    assert clock(clock_entries, clock_cfg(), st, 1)[0, L.O_PRICE] == 95.0  # clamped to the bid


def test_clock_entry_qty_grows_with_we_multiplier():
    st = make_st(bid=100.0, ask=100.01, ema=100.0, long=(2.0, 100.0), last_entry=-math.inf)
    rows = clock(clock_entries, clock_cfg(we_mult_entry=3.0), st, 1)
    # WE 0.2 -> cost 1000*1*0.05*(1 + 0.2*3) = 80 at 99
    assert rows[0, L.O_QTY] == pytest.approx(round(80 / 99, 3))


def test_clock_entry_timer_strict_and_floor():
    pos = dict(long=(1.0, 100.0), bid=100.0, ask=100.01, ema=101.0)  # d = P/bid - 1 = 0
    cfg = clock_cfg(delay_entry=5.0)
    assert len(clock(clock_entries, cfg, make_st(now=1e9, last_entry=1e9 - 300_000, **pos), 1)) == 0
    assert len(clock(clock_entries, cfg, make_st(now=1e9, last_entry=1e9 - 300_001, **pos), 1)) == 1
    cfg = clock_cfg(delay_entry=0.5)  # 30 s is raised to the 60 s floor
    assert len(clock(clock_entries, cfg, make_st(now=1e9, last_entry=1e9 - 60_000, **pos), 1)) == 0
    assert len(clock(clock_entries, cfg, make_st(now=1e9, last_entry=1e9 - 60_001, **pos), 1)) == 1
    # never filled: due
    assert len(clock(clock_entries, cfg, make_st(now=0.0, **pos), 1)) == 1


def test_clock_flat_ignores_entry_timer():
    st = make_st(now=1e9, last_entry=1e9)
    assert len(clock(clock_entries, clock_cfg(), st, 1)) == 1
    assert len(clock(clock_entries, clock_cfg(), st, -1)) == 1


def test_clock_delay_weight_reduces_only():
    cfg = clock_cfg(delay_entry=10.0, delay_weight_entry=2.0)
    # long in the red: bid 80 < P 100, d = 100/80 - 1 = 0.25 -> delay 10 min * (1 - 0.5) = 300 000 ms
    red = dict(long=(1.0, 100.0), bid=80.0, ask=80.01, ema=90.0)
    assert len(clock(clock_entries, cfg, make_st(now=1e9, last_entry=1e9 - 300_000, **red), 1)) == 0
    assert len(clock(clock_entries, cfg, make_st(now=1e9, last_entry=1e9 - 300_001, **red), 1)) == 1
    # long in the green: d < 0 -> delay stays 600 000 ms
    green = dict(long=(1.0, 100.0), bid=120.0, ask=120.01, ema=125.0)
    assert len(clock(clock_entries, cfg, make_st(now=1e9, last_entry=1e9 - 599_999, **green), 1)) == 0
    assert len(clock(clock_entries, cfg, make_st(now=1e9, last_entry=1e9 - 600_001, **green), 1)) == 1
    # short in the red (ask above P): d = 120/100 - 1 = 0.2 -> 10 min * 0.6
    red_short = dict(short=(-1.0, 100.0), bid=119.99, ask=120.0, ema=110.0)
    assert len(clock(clock_entries, cfg, make_st(now=1e9, last_entry=1e9 - 360_000, **red_short), -1)) == 0
    assert len(clock(clock_entries, cfg, make_st(now=1e9, last_entry=1e9 - 360_001, **red_short), -1)) == 1


def test_clock_entry_limited_by_wel_and_cropped():
    # WE 0.995 >= 0.99*WEL: no entry
    st = make_st(long=(9.95, 100.0), bid=100.0, ask=100.01, ema=100.0)
    assert len(clock(clock_entries, clock_cfg(), st, 1)) == 0
    # WE 0.9, qty 50/99 would reach ~1.4: cropped so WE lands at WEL (±1 %)
    st = make_st(long=(9.0, 100.0), bid=100.0, ask=100.01, ema=100.0)
    rows = clock(clock_entries, clock_cfg(qty_pct_entry=0.5), st, 1)
    q = rows[0, L.O_QTY]
    assert q < round(500 / 99, 3)
    assert (900 + q * 99) / 1000 == pytest.approx(1.0, rel=0.011)
    assert rows[0, L.O_WE_AFTER] == pytest.approx((900 + q * 99) / 1000)
    # a crop (about 0.2 here) smaller than the exchange minimum (0.5) is raised to it
    big_min = MarketSpec(price_step=0.01, qty_step=0.001, min_qty=0.5).to_array()
    st = make_st(long=(9.8, 100.0), bid=100.0, ask=100.01, ema=100.0)
    rows = clock(clock_entries, clock_cfg(qty_pct_entry=0.5), st, 1, mkt=big_min)
    assert rows[0, L.O_QTY] == 0.5


def test_clock_close_qty_and_close_all():
    cfg = clock_cfg(qty_pct_close=0.1)
    st = make_st(long=(5.0, 100.0), bid=100.0, ask=100.01, ema=(100.0, 101.0, 102.0))
    rows = clock(clock_close, cfg, st, 1)
    price = 104.04  # max(ask, round_up(102*1.02))
    assert rows[0, L.O_PRICE] == pytest.approx(price)
    assert rows[0, L.O_SIDE] == -1 and rows[0, L.O_REDUCE_ONLY] == 1 and rows[0, L.O_KIND] == L.K_CLOSE
    assert rows[0, L.O_QTY] == pytest.approx(round(100 / price, 3))
    assert rows[0, L.O_POS_SIZE_AFTER] == pytest.approx(5.0 - round(100 / price, 3))
    # |Q| smaller than the qty: all of it
    st = make_st(long=(0.5, 100.0), bid=100.0, ask=100.01, ema=(100.0, 101.0, 102.0))
    assert clock(clock_close, cfg, st, 1)[0, L.O_QTY] == 0.5
    # remainder 1.0 - 0.961 = 0.039 < min_entry_qty(104.04) = 0.049: close all
    st = make_st(long=(1.0, 100.0), bid=100.0, ask=100.01, ema=(100.0, 101.0, 102.0))
    rows = clock(clock_close, cfg, st, 1)
    assert rows[0, L.O_QTY] == 1.0 and rows[0, L.O_POS_SIZE_AFTER] == 0.0
    # remainder 0.05 >= 0.049: partial
    st = make_st(long=(1.011, 100.0), bid=100.0, ask=100.01, ema=(100.0, 101.0, 102.0))
    assert clock(clock_close, cfg, st, 1)[0, L.O_QTY] == pytest.approx(0.961)


def test_clock_close_short_timer_and_flat():
    cfg = clock_cfg(delay_close=2.0, delay_weight_close=1.0)
    # short in profit: bid 90 < P 100, d = 100/90 - 1 -> delay 120 000 * (1 - 1/9)
    delay = 120_000 * (1 - (100 / 90 - 1))
    kw = dict(short=(-3.0, 100.0), bid=90.0, ask=90.01, ema=(95.0, 96.0, 97.0), now=1e9)
    assert len(clock(clock_close, cfg, make_st(last_close=1e9 - math.floor(delay), **kw), -1)) == 0
    rows = clock(clock_close, cfg, make_st(last_close=1e9 - math.floor(delay) - 1, **kw), -1)
    assert rows[0, L.O_PRICE] == 90.0  # min(bid, round_dn(95*0.98) = 93.1)
    assert rows[0, L.O_SIDE] == 1 and rows[0, L.O_POS_SIDE] == -1
    assert rows[0, L.O_POS_SIZE_AFTER] == pytest.approx(-3.0 + rows[0, L.O_QTY])
    assert len(clock(clock_close, cfg, make_st(ema=100.0), -1)) == 0  # flat: nothing to close
    assert len(clock(clock_close, cfg, make_st(ema=100.0), 1)) == 0


def test_clock_inverse_qty():
    st = make_st(balance=0.01, bid=40000.0, ask=40000.5, ema=40000.0)
    rows = clock(clock_entries, clock_cfg(ema_dist_entry=0.0), st, 1, mkt=INVERSE)
    # cost 0.01*1*0.05 BTC at 40000 -> 20 contracts of 1 USD
    assert rows[0, L.O_PRICE] == 40000.0 and rows[0, L.O_QTY] == 20.0


# ---- JIT parity ---------------------------------------------------------------------------------------
_PARITY_SCRIPT = r"""
import math, sys
import numpy as np
sys.path.insert(0, {tests!r})
import test_calc_modes_neat_clock as t
from passivx.calc import layout as L
from passivx.calc.clock import clock_close, clock_entries
res = []
cfg = t.make_cfg(eqty_exp_base=1.618034, eprice_exp_base=1.3, grid_span=0.37, max_n_entry_orders=9)
for side in (1, -1):
    res.append(t.neat(cfg, t.make_st(bid=123.45, ask=123.46, ema=(123.0, 124.1, 125.3)), side))
    st = t.make_st(bid=101.3, ask=101.31, long=(1.234, 109.87), short=(-0.777, 97.3))
    res.append(t.neat(cfg, st, side))
    res.append(t.neat(cfg, st, side, whole_grid=False))
    res.append(t.neat(cfg, t.make_st(balance=0.03, bid=30000.0, ask=30000.5, ema=30010.0,
                                     long=(300.0, 31000.0), short=(-250.0, 29000.0)), side, mkt=t.INVERSE))
    plan = t.neat(cfg, t.make_st(balance=0.5, bid=30000.0, ask=30000.0, ema=30000.0), side, mkt=t.INVERSE)
    pos = (plan[2, L.O_POS_SIZE_AFTER], plan[2, L.O_POS_PRICE_AFTER])  # nodes 0..2 filled: re-anchored
    flat = (0.0, 0.0)
    res.append(t.neat(cfg, t.make_st(balance=0.5, bid=plan[2, L.O_PRICE], ask=plan[2, L.O_PRICE], ema=30000.0,
                                     long=pos if side > 0 else flat, short=pos if side < 0 else flat), side,
                      mkt=t.INVERSE))
    c = t.clock_cfg(delay_weight_entry=1.3, delay_weight_close=0.7, we_mult_entry=1.1, qty_pct_entry=0.4)
    st = t.make_st(bid=97.3, ask=97.31, ema=(98.0, 99.0, 100.0), long=(8.8, 101.1), short=(-2.1, 95.0),
                   now=1e7)
    res.append(t.clock(clock_entries, c, st, side))
    res.append(t.clock(clock_close, c, st, side))
print(type(t.neat_entries).__name__)
print(";".join(r.tobytes().hex() for r in res))
"""


def test_jit_and_pure_python_agree():
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    script = _PARITY_SCRIPT.format(tests=tests_dir)
    outputs = [out.split() for out in run_jit_and_python([sys.executable, "-c", script])]
    assert outputs[0][0] != "function" and outputs[1][0] == "function"  # compiled vs plain Python
    assert outputs[0][1] == outputs[1][1]
    assert all(len(part) > 0 for part in outputs[0][1].split(";"))


@pytest.mark.parametrize("seed", range(4))
def test_neat_live_entry_is_the_whole_grids_first_node(seed):
    """Flat or dust, the live answer (only the next node, computed without solving the grid's qtys) is the
    first row of the whole grid."""
    rng = np.random.default_rng(seed)
    coarse = MarketSpec(price_step=0.5, qty_step=0.1, min_qty=0.1, min_cost=10.0).to_array()
    for _ in range(60):
        mkt = (LINEAR, INVERSE, coarse)[rng.integers(3)]
        p0 = 30000.0 if mkt is INVERSE else 100.0
        cfg = make_cfg(max_n_entry_orders=int(rng.integers(1, 9)), eqty_exp_base=float(rng.uniform(1.0, 2.0)),
                       eprice_exp_base=float(rng.choice([1.0, rng.uniform(1.0, 1.6)])),
                       grid_span=float(rng.uniform(0.05, 0.4)), initial_qty_pct=float(rng.uniform(0.005, 0.05)))
        balance = (0.05 if mkt is INVERSE else 1000.0) * float(np.exp(rng.uniform(np.log(0.02), np.log(5))))
        bid = round(p0 * rng.uniform(0.95, 1.05) / mkt[L.M_PRICE_STEP]) * mkt[L.M_PRICE_STEP]
        dust = round(float(rng.choice([0.0, rng.uniform(0.0, 0.9) * mkt[L.M_MIN_QTY]])) / mkt[L.M_QTY_STEP]) \
            * mkt[L.M_QTY_STEP]
        for side in (1, -1):
            key = "long" if side > 0 else "short"
            st = make_st(balance=balance, bid=bid, ask=bid + mkt[L.M_PRICE_STEP], ema=p0 * rng.uniform(0.97, 1.03),
                         **({key: (side * dust, bid)} if dust else {}))
            live, whole = neat(cfg, st, side, whole_grid=False, mkt=mkt), neat(cfg, st, side, mkt=mkt)
            assert len(live) == min(1, len(whole))
            np.testing.assert_array_equal(live, whole[:1])
