"""Classic strategy (STRATEGY.md §1-2, seed 000): check values and hand-derived cases for
`passivx.calc.classic.classic_orders`."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from passivx.calc import layout as L
from passivx.calc.classic import classic_initial_qty, classic_orders
from passivx.calc.contracts import min_entry_qty

BUY, SELL = 1.0, -1.0


def vectors(mkt=None, cfg=None, st=None):
    """Default linear market / config / flat state, with overrides given as {layout name: value}."""
    m = np.zeros(L.MKT_SIZE)
    c = np.zeros(L.CFG_SIZE)
    s = np.zeros(L.ST_SIZE)
    defaults = (
        (m, {"M_PRICE_STEP": 0.01, "M_QTY_STEP": 0.001, "M_MIN_QTY": 0.001, "M_MIN_COST": 0.0, "M_C_MULT": 1.0,
             "M_INVERSE": 0.0, "M_MM_RATE": 0.004, "M_MAX_LEVERAGE": 100.0}, mkt),
        (c, {"C_MODE": L.MODE_CLASSIC, "C_BALANCE_PCT": 1.0, "C_ENTRY_QTY_PCT": 0.01, "C_DDOWN_FACTOR": 0.5,
             "C_EMA_SPAN": 100.0, "C_EMA_SPREAD": 0.0, "C_FUNDING_COLLECT": 0.0, "C_DO_LONG": 1.0,
             "C_DO_SHORT": 1.0, "C_GRID_COEF": 10.0, "C_GRID_SPACING": 0.01, "C_SL_LIQ_DIFF": 0.0,
             "C_SL_PPRICE_DIFF": 10.0, "C_SL_POS_REDUCTION": 0.02, "C_LEVERAGE": 10.0, "C_MIN_MARKUP": 0.0005,
             "C_MAX_MARKUP": 0.005, "C_MIN_CLOSE_QTY_MULT": 0.5, "C_MARKET_SL": 0.0, "C_N_CLOSE": 10.0,
             "C_N_ENTRY": 3.0}, cfg),
        (s, {"S_BALANCE": 1000.0, "S_BEST_BID": 99.99, "S_BEST_ASK": 100.01, "S_LAST_PRICE": 100.0,
             "S_TICK_EMA": 100.0}, st),
    )
    for vec, base, over in defaults:
        for name, value in {**base, **(over or {})}.items():
            vec[getattr(L, name)] = value
    return m, c, s


def orders(m, c, s, whole_grid=False):
    out = np.full((L.MAX_ORDERS, L.O_SIZE), np.nan)
    n = classic_orders(c, m, s, whole_grid, out)
    return out[:n].copy()


def entries(rows):
    return rows[rows[:, L.O_KIND] == L.K_ENTRY]


def closes(rows):
    return rows[rows[:, L.O_KIND] == L.K_CLOSE]


def stops(rows):
    return rows[rows[:, L.O_KIND] == L.K_STOP_LOSS]


def col(rows, c):
    return [float(v) for v in rows[:, c]]


approx = pytest.approx


# ---- seed 000 check values: initial entry qty ----------------------------------------------------

def test_bybit_inverse_initial_qty_3_885_rounds_down_to_3():
    m, c, s = vectors(
        mkt={"M_PRICE_STEP": 0.5, "M_QTY_STEP": 1.0, "M_MIN_QTY": 1.0, "M_INVERSE": 1.0},
        cfg={"C_ENTRY_QTY_PCT": 0.0021, "C_LEVERAGE": 50.0, "C_DO_SHORT": 0.0},
        st={"S_BALANCE": 0.001, "S_BEST_BID": 37000.0, "S_BEST_ASK": 37000.5, "S_TICK_EMA": 37000.0})
    assert classic_initial_qty(c, m, 0.001, 37000.0) == 3.0
    rows = orders(m, c, s)
    assert len(rows) == 1
    assert rows[0, L.O_PRICE] == 37000.0 and rows[0, L.O_QTY] == 3.0 and rows[0, L.O_SIDE] == BUY


def test_binance_ethusdt_initial_qty_0_084():
    m, c, s = vectors(
        mkt={"M_MIN_COST": 5.0},
        cfg={"C_ENTRY_QTY_PCT": 0.07, "C_LEVERAGE": 33.0, "C_DO_SHORT": 0.0},
        st={"S_BALANCE": 40.0, "S_BEST_BID": 1100.0, "S_BEST_ASK": 1100.01, "S_TICK_EMA": 1100.0})
    assert classic_initial_qty(c, m, 40.0, 1100.0) == 0.084
    rows = orders(m, c, s)
    assert col(rows, L.O_QTY) == [0.084] and col(rows, L.O_PRICE) == [1100.0]


def test_balance_pct_scales_the_balance_used():
    # B = W * min(1, |balance_pct|): 0.5 of 1000 at 10x, 1% -> 5000/99.99*0.01 = 0.50005 -> 0.5
    m, c, s = vectors(cfg={"C_BALANCE_PCT": -0.5, "C_DO_SHORT": 0.0})
    assert col(orders(m, c, s), L.O_QTY) == [0.5]
    m, c, s = vectors(cfg={"C_BALANCE_PCT": 3.0, "C_DO_SHORT": 0.0})  # capped at 1
    assert col(orders(m, c, s), L.O_QTY) == [1.0]


def test_initial_qty_floor_is_min_entry_qty():
    # linear min qty at the order price: round_up(5/99.99, 0.001) = 0.051 > round_dn(0.0010001) = 0.001
    m, c, s = vectors(mkt={"M_MIN_COST": 5.0}, cfg={"C_ENTRY_QTY_PCT": 0.00001, "C_DO_SHORT": 0.0})
    assert col(orders(m, c, s), L.O_QTY) == [0.051]


# ---- initial entries when flat ---------------------------------------------------------------------

def test_flat_places_bid_and_ask_each_at_its_own_qty():
    # bid min(99.99, round_dn(100*0.999)) = 99.9; ask max(100.01, round_up(100.1)) = 100.1
    # q0(99.9) = round_dn(10000/99.9*0.01 = 1.001001) = 1.001; q0(100.1) = round_dn(0.999001) = 0.999
    m, c, s = vectors(cfg={"C_EMA_SPREAD": 0.001})
    rows = orders(m, c, s)
    assert col(rows, L.O_SIDE) == [BUY, SELL]
    assert col(rows, L.O_POS_SIDE) == [1.0, -1.0]
    assert col(rows, L.O_PRICE) == [99.9, 100.1]
    assert col(rows, L.O_QTY) == [1.001, 0.999]
    assert col(rows, L.O_REDUCE_ONLY) == [0.0, 0.0]
    assert col(rows, L.O_KIND) == [L.K_ENTRY, L.K_ENTRY]
    assert col(rows, L.O_POS_SIZE_AFTER) == [1.001, -0.999]
    assert col(rows, L.O_POS_PRICE_AFTER) == [99.9, 100.1]
    assert rows[0, L.O_WE_AFTER] == approx(1.001 * 99.9 / 1000)


def test_initial_prices_clamp_to_the_book():
    # ema*(1-spread) above the best bid -> the best bid; ema*(1+spread) below the best ask -> the best ask
    m, c, s = vectors(cfg={"C_EMA_SPREAD": 0.001}, st={"S_TICK_EMA": 101.0, "S_BEST_BID": 100.5,
                                                         "S_BEST_ASK": 100.6})
    assert col(orders(m, c, s), L.O_PRICE) == [100.5, 101.11]
    m, c, s = vectors(cfg={"C_EMA_SPREAD": 0.001}, st={"S_TICK_EMA": 99.0, "S_BEST_BID": 98.0,
                                                         "S_BEST_ASK": 100.6})
    assert col(orders(m, c, s), L.O_PRICE) == [98.0, 100.6]


@pytest.mark.parametrize("do_long, do_short, sides", [
    (1.0, 1.0, [BUY, SELL]), (1.0, 0.0, [BUY]), (0.0, 1.0, [SELL]), (0.0, 0.0, []),
])
def test_do_long_do_shrt_gate_initial_entries(do_long, do_short, sides):
    m, c, s = vectors(cfg={"C_DO_LONG": do_long, "C_DO_SHORT": do_short})
    assert col(orders(m, c, s), L.O_SIDE) == sides


@pytest.mark.parametrize("funding, sides", [(-0.0001, [BUY]), (0.0001, [SELL]), (0.0, [])])
def test_funding_fee_collect_mode_gates_on_predicted_funding(funding, sides):
    m, c, s = vectors(cfg={"C_FUNDING_COLLECT": 1.0}, st={"S_PREDICTED_FUNDING": funding})
    assert col(orders(m, c, s), L.O_SIDE) == sides
    c[L.C_FUNDING_COLLECT] = 0.0  # off: both sides whatever the funding
    assert col(orders(m, c, s), L.O_SIDE) == [BUY, SELL]


def test_funding_gate_still_needs_the_side_enabled():
    m, c, s = vectors(cfg={"C_FUNDING_COLLECT": 1.0, "C_DO_LONG": 0.0}, st={"S_PREDICTED_FUNDING": -0.001})
    assert len(orders(m, c, s)) == 0


# ---- rounding guard (§1) -----------------------------------------------------------------------------

def test_rounding_guard_initial_prices():
    # 10*(1-0.07) = 9.299999999999999: the guarded round_dn gives 9.30 (unguarded floor: 9.29);
    # 1.1*(1+0.1) = 1.2100000000000002: the guarded round_up gives 1.21 (unguarded ceil: 1.22)
    m, c, s = vectors(cfg={"C_EMA_SPREAD": 0.07, "C_DO_SHORT": 0.0},
                      st={"S_TICK_EMA": 10.0, "S_BEST_BID": 10.0, "S_BEST_ASK": 10.01})
    assert col(orders(m, c, s), L.O_PRICE) == [9.3]
    m, c, s = vectors(cfg={"C_EMA_SPREAD": 0.1, "C_DO_LONG": 0.0},
                      st={"S_TICK_EMA": 1.1, "S_BEST_BID": 1.09, "S_BEST_ASK": 1.1})
    assert col(orders(m, c, s), L.O_PRICE) == [1.21]


def test_rounding_guard_past_a_million_steps():
    # 2062.352/0.001 = 2062351.9999999998 (2 M steps: no 10th decimal left to snap): still 2062.352, not
    # 2062.351; a value genuinely between steps still rounds
    from passivx.calc.rounding import round_, round_dn, round_up
    assert round_dn(2062.352, 0.001) == round_up(2062.352, 0.001) == round_(2062.352, 0.001) == 2062.352
    assert round_dn(2062.3525, 0.001) == 2062.352 and round_up(2062.3525, 0.001) == 2062.353
    assert round_dn(-4_100_000.7, 1.0) == -4_100_001.0 and round_up(12_345_678.2, 0.5) == 12_345_678.5


def test_rounding_guard_reentry_qty_and_tp_price():
    # long 0.7 @ 1.1, ddown 0.1: 0.7*0.1 = 0.06999999999999999 -> re-entry qty 0.07 (unguarded: 0.069)
    # single TP at round_up(1.1*1.1 = 1.2100000000000002) = 1.21 (unguarded: 1.22)
    m, c, s = vectors(cfg={"C_DDOWN_FACTOR": 0.1, "C_GRID_COEF": 0.0, "C_N_ENTRY": 1.0, "C_N_CLOSE": 1.0,
                           "C_MIN_MARKUP": 0.1, "C_MAX_MARKUP": 0.2},
                      st={"S_LONG_SIZE": 0.7, "S_LONG_PRICE": 1.1, "S_BEST_BID": 1.09, "S_BEST_ASK": 1.1,
                          "S_LAST_PRICE": 1.1})
    rows = orders(m, c, s)
    assert col(entries(rows), L.O_QTY) == [0.07]
    assert col(closes(rows), L.O_PRICE) == [1.21] and col(closes(rows), L.O_QTY) == [0.7]


# ---- re-entry grid -----------------------------------------------------------------------------------

def test_long_reentry_grid_uses_the_coarse_step():
    # W=B=1000, L=10, gs 0.01, gc 10, long 1 @ 100, ddown 0.5, bid 99.99.
    # node 1: M = 100/10 = 10, g = 0.01*(1 + 10/1000*10) = 0.011, P(1-g) = 98.9,
    #         s* = round_up(100*0.01/4, 0.01) = 0.25 -> 98.75 (price_step rounding would give 98.90);
    #         q = round_dn(1*0.5) = 0.5 -> 1.5 @ (100 + 49.375)/1.5 = 99.58333
    # node 2: M = 14.9375, g = 0.01149375, P(1-g) = 98.4387, s* = round_up(0.24896) = 0.25 -> 98.25, q = 0.75
    #         -> 2.25 @ (149.375 + 73.6875)/2.25 = 99.13889
    # node 3: M = 22.30625, g = 0.012230625, P(1-g) = 97.9264, s* = 0.25 -> 97.75, q = round_dn(1.125) = 1.125
    m, c, s = vectors(st={"S_LONG_SIZE": 1.0, "S_LONG_PRICE": 100.0})
    e = entries(orders(m, c, s))
    assert col(e, L.O_PRICE) == [98.75, 98.25, 97.75]
    assert col(e, L.O_QTY) == [0.5, 0.75, 1.125]
    assert col(e, L.O_SIDE) == [BUY] * 3 and col(e, L.O_REDUCE_ONLY) == [0.0] * 3
    assert col(e, L.O_POS_SIZE_AFTER) == [1.5, 2.25, 3.375]
    assert col(e, L.O_POS_PRICE_AFTER) == approx([149.375 / 1.5, 223.0625 / 2.25,
                                                  (223.0625 + 1.125 * 97.75) / 3.375])
    assert col(e, L.O_WE_AFTER) == approx([0.149375, 0.2230625, (223.0625 + 1.125 * 97.75) / 1000])


def test_short_reentry_grid_mirrors_with_round_up():
    # short -1 @ 100, ask 100.01: node 1: P(1+0.011) = 101.1 -> round_up(·, 0.25) = 101.25, q 0.5
    #   -> -1.5 @ (100 + 50.625)/1.5 = 100.41667
    # node 2: M = 15.0625, g = 0.01150625, P(1+g) = 101.5721, s* = round_up(100.41667*0.0025 = 0.25104) = 0.26
    #   -> round_up(101.5721, 0.26) = 391*0.26 = 101.66, q 0.75
    m, c, s = vectors(cfg={"C_N_ENTRY": 2.0}, st={"S_SHORT_SIZE": -1.0, "S_SHORT_PRICE": 100.0})
    e = entries(orders(m, c, s))
    assert col(e, L.O_PRICE) == [101.25, 101.66]
    assert col(e, L.O_QTY) == [0.5, 0.75]
    assert col(e, L.O_SIDE) == [SELL, SELL] and col(e, L.O_POS_SIDE) == [-1.0, -1.0]
    assert col(e, L.O_POS_SIZE_AFTER) == [-1.5, -2.25]
    assert e[0, L.O_POS_PRICE_AFTER] == approx(150.625 / 1.5)


def test_reentry_clamps_to_the_book():
    # bid 98.5 below the grid price 98.75: the node is at the bid; the next node (1.5 @ 99.5, g = 0.0114925,
    # P(1-g) = 98.3565 -> 98.25) is below it. Short mirror: ask 101.5 above 101.25.
    m, c, s = vectors(cfg={"C_N_ENTRY": 2.0},
                      st={"S_LONG_SIZE": 1.0, "S_LONG_PRICE": 100.0, "S_BEST_BID": 98.5})
    assert col(entries(orders(m, c, s)), L.O_PRICE) == [98.5, 98.25]
    m, c, s = vectors(cfg={"C_N_ENTRY": 1.0},
                      st={"S_SHORT_SIZE": -1.0, "S_SHORT_PRICE": 100.0, "S_BEST_ASK": 101.5})
    assert col(entries(orders(m, c, s)), L.O_PRICE) == [101.5]


def test_next_node_clamps_to_the_previous_node_price():
    # short -10 @ 100, gs 0.0096, gc 0, ddown 0 (q = min qty 0.001):
    # node 1: s* = round_up(0.24) = 0.24, round_up(100.96, 0.24) = 421*0.24 = 101.04
    # node 2: P' = (1000 + 0.10104)/10.001 = 100.0001, s* = round_up(0.2400002) = 0.25,
    #   round_up(100.9601, 0.25) = 101.0 -- nearer than node 1, which must fill first: clamped to 101.04,
    #   where it joins node 1 (one order per price) and the position after is after both
    m, c, s = vectors(cfg={"C_GRID_SPACING": 0.0096, "C_GRID_COEF": 0.0, "C_DDOWN_FACTOR": 0.0,
                           "C_N_ENTRY": 2.0},
                      st={"S_SHORT_SIZE": -10.0, "S_SHORT_PRICE": 100.0})
    e = entries(orders(m, c, s))
    assert col(e, L.O_PRICE) == [101.04] and col(e, L.O_QTY) == [0.002]
    assert col(e, L.O_POS_SIZE_AFTER) == [-10.002]


def test_inverse_reentry_and_harmonic_position_price():
    # inverse, W 0.01 BTC, L 10, gs 0.01, gc 4, long 100 @ 40000: M = (100/40000)/10 = 0.00025,
    # g = 0.01*(1 + 0.025*4) = 0.011, P(1-g) = 39560, s* = round_up(100, 0.5) = 100 -> 39500;
    # q = round_dn(100*0.5) = 50 (room 0.01*39500*10 - 100 = 3850); P' = 150/(100/40000 + 50/39500)
    m, c, s = vectors(mkt={"M_PRICE_STEP": 0.5, "M_QTY_STEP": 1.0, "M_MIN_QTY": 1.0, "M_INVERSE": 1.0},
                      cfg={"C_GRID_COEF": 4.0, "C_N_ENTRY": 1.0},
                      st={"S_BALANCE": 0.01, "S_LONG_SIZE": 100.0, "S_LONG_PRICE": 40000.0,
                          "S_BEST_BID": 39999.5, "S_BEST_ASK": 40000.0, "S_LAST_PRICE": 40000.0})
    e = entries(orders(m, c, s))
    assert col(e, L.O_PRICE) == [39500.0] and col(e, L.O_QTY) == [50.0]
    p_after = 150 / (100 / 40000 + 50 / 39500)
    assert e[0, L.O_POS_PRICE_AFTER] == approx(p_after, rel=1e-12)
    assert e[0, L.O_WE_AFTER] == approx(150 / p_after / 0.01, rel=1e-12)


def test_room_caps_the_last_node_at_max_position():
    # L=1, gc 0, long 9 @ 100, ddown 1: node at round_dn(99, 0.25) = 99, maxpos(99) = 1000/99 = 10.10101,
    # room = round_dn(1.10101) = 1.101 < 9 -> q = 1.101 and the grid ends there (max position reached)
    m, c, s = vectors(cfg={"C_LEVERAGE": 1.0, "C_GRID_COEF": 0.0, "C_DDOWN_FACTOR": 1.0},
                      st={"S_LONG_SIZE": 9.0, "S_LONG_PRICE": 100.0})
    for whole in (False, True):
        e = entries(orders(m, c, s, whole))
        assert col(e, L.O_PRICE) == [99.0] and col(e, L.O_QTY) == [1.101]
        assert col(e, L.O_POS_SIZE_AFTER) == [10.101]


def test_short_room_cap_mirrors():
    # short -9 @ 100: node at round_up(101, 0.25) = 101, maxpos = 1000/101 = 9.90099 < 9 + 9 -> room 0.9
    m, c, s = vectors(cfg={"C_LEVERAGE": 1.0, "C_GRID_COEF": 0.0, "C_DDOWN_FACTOR": 1.0},
                      st={"S_SHORT_SIZE": -9.0, "S_SHORT_PRICE": 100.0})
    e = entries(orders(m, c, s))
    assert col(e, L.O_PRICE) == [101.0] and col(e, L.O_QTY) == [0.9] and col(e, L.O_POS_SIZE_AFTER) == [-9.9]


def test_no_reentry_when_room_is_below_min_entry_qty():
    # long 10.1 @ 100, L 1: room at 99 = round_dn(10.10101 - 10.1) = 0.001 < min_entry_qty(99) = 0.051
    m, c, s = vectors(mkt={"M_MIN_COST": 5.0}, cfg={"C_LEVERAGE": 1.0, "C_GRID_COEF": 0.0},
                      st={"S_LONG_SIZE": 10.1, "S_LONG_PRICE": 100.0})
    rows = orders(m, c, s)
    assert len(entries(rows)) == 0 and len(closes(rows)) > 0


def test_reentry_floor_is_min_entry_qty_not_q0():
    # ddown 0: q = max(min_entry_qty(98.75), 0) = 0.001 each node (q0 would be 1.0); the second node barely
    # moves the position, lands on the same price and joins the first (one order per price)
    m, c, s = vectors(cfg={"C_DDOWN_FACTOR": 0.0, "C_N_ENTRY": 2.0},
                      st={"S_LONG_SIZE": 1.0, "S_LONG_PRICE": 100.0})
    e = entries(orders(m, c, s))
    assert col(e, L.O_QTY) == [0.002] and col(e, L.O_POS_SIZE_AFTER) == [1.002]


def test_n_entry_orders_caps_live_grid():
    m, c, s = vectors(cfg={"C_N_ENTRY": 0.0}, st={"S_LONG_SIZE": 1.0, "S_LONG_PRICE": 100.0})
    assert len(entries(orders(m, c, s))) == 0
    c[L.C_N_ENTRY] = 5.0
    assert len(entries(orders(m, c, s))) == 5


# ---- take-profit grid --------------------------------------------------------------------------------

def tp_setup(side, size, **st):
    # q0(100) = (100/100)*1*0.01 = 0.01 -> min_close_qty = round_dn(0.01*0.5) = 0.005 (seed check setup)
    key = "S_LONG" if side > 0 else "S_SHORT"
    return vectors(cfg={"C_LEVERAGE": 1.0, "C_N_ENTRY": 0.0},
                   st={"S_BALANCE": 100.0, f"{key}_SIZE": size, f"{key}_PRICE": 100.0, "S_BEST_BID": 99.98,
                       "S_BEST_ASK": 100.02, **st})


def test_tp_check_ten_orders_of_0_01():
    rows = orders(*tp_setup(1, 0.1))
    cl = closes(rows)
    assert len(rows) == 10 and len(cl) == 10
    assert col(cl, L.O_PRICE) == approx([100.05 + 0.05 * i for i in range(10)], abs=1e-9)
    assert col(cl, L.O_PRICE) == [round(100.05 + 0.05 * i, 2) for i in range(10)]
    assert col(cl, L.O_QTY) == [0.01] * 10
    assert col(cl, L.O_SIDE) == [SELL] * 10 and col(cl, L.O_POS_SIDE) == [1.0] * 10
    assert col(cl, L.O_REDUCE_ONLY) == [1.0] * 10
    assert col(cl, L.O_POS_SIZE_AFTER) == approx([0.1 - 0.01 * (i + 1) for i in range(10)], abs=1e-12)
    assert col(cl, L.O_POS_PRICE_AFTER)[:9] == [100.0] * 9 and cl[-1, L.O_POS_SIZE_AFTER] == 0.0


def test_short_tp_mirror_rounds_down_nearest_first():
    cl = closes(orders(*tp_setup(-1, -0.1)))
    assert col(cl, L.O_PRICE) == [round(99.95 - 0.05 * i, 2) for i in range(10)]
    assert col(cl, L.O_QTY) == [0.01] * 10
    assert col(cl, L.O_SIDE) == [BUY] * 10 and col(cl, L.O_POS_SIDE) == [-1.0] * 10
    assert cl[0, L.O_POS_SIZE_AFTER] == approx(-0.09) and cl[-1, L.O_POS_SIZE_AFTER] == 0.0


def test_tp_count_limited_by_min_close_qty():
    # |Q| = 0.02, min_close 0.005 -> n = 4 -> linspace 100.05 .. 100.5 in 4 -> diff 0.15/100.05 > 0.3 %: single
    # |Q| = 0.02 with max_markup 0.002 -> 100.05, 100.1, 100.15, 100.2: 4 orders of 0.005
    m, c, s = tp_setup(1, 0.02)
    c[L.C_MAX_MARKUP] = 0.002
    cl = closes(orders(m, c, s))
    assert col(cl, L.O_PRICE) == [100.05, 100.1, 100.15, 100.2] and col(cl, L.O_QTY) == [0.005] * 4


def test_tp_zero_orders_gives_single_order_at_min_markup_or_ask():
    # |Q| = 0.002 < min_close/2 -> n = round(0.4) = 0 -> all at max(ask, round_up(100.05)) = 100.05
    cl = closes(orders(*tp_setup(1, 0.002)))
    assert col(cl, L.O_PRICE) == [100.05] and col(cl, L.O_QTY) == [0.002]
    cl = closes(orders(*tp_setup(1, 0.002, S_BEST_ASK=100.07)))
    assert col(cl, L.O_PRICE) == [100.07]
    cl = closes(orders(*tp_setup(-1, -0.002, S_BEST_BID=99.93)))
    assert col(cl, L.O_PRICE) == [99.93] and col(cl, L.O_QTY) == [0.002]


def test_tp_0_3_pct_rule_single_order():
    # n 3, markups 0.001..0.01: 100.1, 100.55, 101.0; ask 100.3 keeps 100.55, 101.0, 0.45/100.55 > 0.003
    # -> one order of all Q at max(100.3, round_up(100.1)) = 100.3
    m, c, s = tp_setup(1, 0.1, S_BEST_ASK=100.3)
    c[L.C_N_CLOSE], c[L.C_MIN_MARKUP], c[L.C_MAX_MARKUP] = 3.0, 0.001, 0.01
    cl = closes(orders(m, c, s))
    assert col(cl, L.O_PRICE) == [100.3] and col(cl, L.O_QTY) == [0.1]
    s[L.S_BEST_ASK] = 100.0  # all kept: 100.1 -> 100.55 is 0.45 % apart: single at round_up(100.1)
    assert col(closes(orders(m, c, s)), L.O_PRICE) == [100.1]
    # short: 99.9, 99.45, 99.0; bid 99.7 keeps 99.45, 99.0 -> single at min(99.7, 99.9) = 99.7
    m, c, s = tp_setup(-1, -0.1, S_BEST_BID=99.7)
    c[L.C_N_CLOSE], c[L.C_MIN_MARKUP], c[L.C_MAX_MARKUP] = 3.0, 0.001, 0.01
    cl = closes(orders(m, c, s))
    assert col(cl, L.O_PRICE) == [99.7] and col(cl, L.O_QTY) == [0.1]


def test_tp_0_3_pct_rule_boundary_keeps_grid():
    # 100.1 and 100.4: 0.3/100.1 = 0.2997 % (not > 0.3 %) -> grid of 2 at 100.1, 100.4
    m, c, s = tp_setup(1, 0.1)
    c[L.C_N_CLOSE], c[L.C_MIN_MARKUP], c[L.C_MAX_MARKUP] = 2.0, 0.001, 0.004
    cl = closes(orders(m, c, s))
    assert col(cl, L.O_PRICE) == [100.1, 100.4] and col(cl, L.O_QTY) == [0.05, 0.05]


def test_tp_k_equals_1_puts_all_at_the_kept_price():
    # ask 100.48 keeps only 100.5 -> all 0.1 there; short bid 99.52 keeps only 99.5
    cl = closes(orders(*tp_setup(1, 0.1, S_BEST_ASK=100.48)))
    assert col(cl, L.O_PRICE) == [100.5] and col(cl, L.O_QTY) == [0.1]
    cl = closes(orders(*tp_setup(-1, -0.1, S_BEST_BID=99.52)))
    assert col(cl, L.O_PRICE) == [99.5] and col(cl, L.O_QTY) == [0.1]
    # ask above every price -> k = 0 -> at the ask
    cl = closes(orders(*tp_setup(1, 0.1, S_BEST_ASK=100.6)))
    assert col(cl, L.O_PRICE) == [100.6] and col(cl, L.O_QTY) == [0.1]


def test_tp_crossing_filter_drops_prices_through_the_book():
    # ask 100.22: 100.05 .. 100.2 dropped, 100.25 .. 100.5 kept (6 prices), 0.1 over 6:
    # round_up(0.016667) = 0.017, 6*0.017 - 0.1 = 0.002 -> the two lowest get 0.016
    cl = closes(orders(*tp_setup(1, 0.1, S_BEST_ASK=100.22)))
    assert col(cl, L.O_PRICE) == [100.25, 100.3, 100.35, 100.4, 100.45, 100.5]
    assert col(cl, L.O_QTY) == [0.016, 0.016, 0.017, 0.017, 0.017, 0.017]


def test_tp_qty_step_taken_from_lowest_price_first():
    # n 3, markups 0.001..0.002: 100.1, 100.15, 100.2; 0.1/3 -> 0.034 each, sum 0.102: two steps off
    # long: lowest prices are the nearest -> [0.033, 0.033, 0.034]
    m, c, s = tp_setup(1, 0.1)
    c[L.C_N_CLOSE], c[L.C_MIN_MARKUP], c[L.C_MAX_MARKUP] = 3.0, 0.001, 0.002
    cl = closes(orders(m, c, s))
    assert col(cl, L.O_PRICE) == [100.1, 100.15, 100.2] and col(cl, L.O_QTY) == [0.033, 0.033, 0.034]
    # short: 99.9, 99.85, 99.8 nearest first; the lowest (farthest) lose a step -> [0.034, 0.033, 0.033]
    m, c, s = tp_setup(-1, -0.1)
    c[L.C_N_CLOSE], c[L.C_MIN_MARKUP], c[L.C_MAX_MARKUP] = 3.0, 0.001, 0.002
    cl = closes(orders(m, c, s))
    assert col(cl, L.O_PRICE) == [99.9, 99.85, 99.8] and col(cl, L.O_QTY) == [0.034, 0.033, 0.033]


def test_tp_duplicates_removed():
    # price_step 1: 100.05..100.5 all round up to 101 -> one distinct price -> k = 1, all 0.1 at 101
    m, c, s = tp_setup(1, 0.1)
    m[L.M_PRICE_STEP] = 1.0
    s[L.S_BEST_ASK] = 101.0
    cl = closes(orders(m, c, s))
    assert col(cl, L.O_PRICE) == [101.0] and col(cl, L.O_QTY) == [0.1]


def tp_min_close_0_05(side, size, min_markup=0.001, max_markup=0.005, **mkt):
    """min_close_qty 0.05: q0(100) = round_dn(100/100*1*0.1) = 0.1, times 0.5; n_close_orders 10."""
    m, c, s = tp_setup(side, size)
    c[L.C_ENTRY_QTY_PCT], c[L.C_MIN_MARKUP], c[L.C_MAX_MARKUP] = 0.1, min_markup, max_markup
    for name, value in mkt.items():
        m[getattr(L, name)] = value
    return m, c, s


def test_tp_count_rounds_to_nearest_and_splits_from_the_lowest_price():
    # Q 0.13 / min_close 0.05 = 2.6 -> n = 3 (floor would give 2): linspace(100.1, 100.5, 3), 0.2 % apart;
    # round_up(0.13/3) = 0.044, three of them are 0.132: 0.001 off the two lowest prices
    cl = closes(orders(*tp_min_close_0_05(1, 0.13)))
    assert col(cl, L.O_PRICE) == [100.1, 100.3, 100.5] and col(cl, L.O_QTY) == [0.043, 0.043, 0.044]
    assert col(cl, L.O_POS_SIZE_AFTER) == approx([0.087, 0.044, 0.0], abs=1e-12)
    # short: 99.9, 99.7, 99.5 nearest first; its lowest prices are the farthest
    cl = closes(orders(*tp_min_close_0_05(-1, -0.13)))
    assert col(cl, L.O_PRICE) == [99.9, 99.7, 99.5] and col(cl, L.O_QTY) == [0.044, 0.043, 0.043]


def test_tp_orders_may_be_below_min_close_qty():
    # Q 0.084 = 1.68 x min_close -> n = round(1.68) = 2 orders of 0.042 < 0.05 at 100.1, 100.3 (0.2 % apart)
    cl = closes(orders(*tp_min_close_0_05(1, 0.084, max_markup=0.003)))
    assert col(cl, L.O_PRICE) == [100.1, 100.3] and col(cl, L.O_QTY) == [0.042, 0.042]
    # 1.4 x min_close rounds to one order of all Q
    cl = closes(orders(*tp_min_close_0_05(1, 0.07, max_markup=0.003)))
    assert col(cl, L.O_PRICE) == [100.1] and col(cl, L.O_QTY) == [0.07]


def test_tp_single_point_is_at_min_markup():
    # n_close_orders 1: linspace of one point is P*(1+min_markup), never max_markup
    m, c, s = tp_setup(1, 0.1)
    c[L.C_N_CLOSE] = 1.0
    assert col(closes(orders(m, c, s)), L.O_PRICE) == [100.05]
    m, c, s = tp_setup(-1, -0.1)
    c[L.C_N_CLOSE] = 1.0
    assert col(closes(orders(m, c, s)), L.O_PRICE) == [99.95]


def test_tp_exchange_minimum_still_binds():
    # min_cost 5: min_entry_qty(100.1) = round_up(0.04995) = 0.05. The spec's 2 x 0.042 would be rejected:
    # one order of all 0.084; the spec's 3 x ~0.043 of Q 0.13 become 2 x 0.065 at the two nearest prices
    m, c, s = tp_min_close_0_05(1, 0.084, max_markup=0.003, M_MIN_COST=5.0)
    cl = closes(orders(m, c, s))
    assert col(cl, L.O_PRICE) == [100.1] and col(cl, L.O_QTY) == [0.084]
    cl = closes(orders(*tp_min_close_0_05(1, 0.13, M_MIN_COST=5.0)))
    assert col(cl, L.O_PRICE) == [100.1, 100.3] and col(cl, L.O_QTY) == [0.065, 0.065]
    # a min_qty (0.045) under min_close but over the split binds the same way, short side too
    cl = closes(orders(*tp_min_close_0_05(-1, -0.13, M_MIN_QTY=0.045)))
    assert col(cl, L.O_PRICE) == [99.9, 99.7] and col(cl, L.O_QTY) == [0.065, 0.065]


def test_tp_0_3_pct_rule_uses_the_kept_prices_before_the_exchange_minimum():
    # 100.1, 100.55, 101.0 with ask 100.3: kept 100.55, 101.0 are 0.45 % apart -> all at the ask, even though
    # the exchange minimum (min_cost 6: 0.06 > 0.05 each) would leave one order at 100.55
    m, c, s = tp_setup(1, 0.1, S_BEST_ASK=100.3)
    c[L.C_N_CLOSE], c[L.C_MIN_MARKUP], c[L.C_MAX_MARKUP] = 3.0, 0.001, 0.01
    m[L.M_MIN_COST] = 6.0
    cl = closes(orders(m, c, s))
    assert col(cl, L.O_PRICE) == [100.3] and col(cl, L.O_QTY) == [0.1]


def test_calc_cli_ethusdt_default_one_close_at_min_markup():
    # issue 8 item 2: q0(2000) = min_entry_qty = 0.01 -> min_close 0.005, Q 0.01 -> n 2: 2001.0 and 2030.0
    # are 1.45 % apart -> all at round_up(2000*1.0005) = 2001.0 (it used to go to max_markup, 2030.0)
    from click.testing import CliRunner

    from passivx.cli import main
    config = Path(__file__).resolve().parents[1] / "configs/live/binance/ETHUSDT_default.json"
    res = CliRunner().invoke(main, ["calc", str(config), "--exchange", "binance", "--price", "2000",
                                    "--balance", "100", "--long-size", "0.01", "--long-price", "2000"])
    assert res.exit_code == 0, res.output
    cl = [o for o in json.loads(res.stdout)["orders"] if o["kind"] == "close"]
    assert [(o["price"], o["qty"]) for o in cl] == [(2001.0, 0.01)]


@settings(max_examples=200, deadline=None)
@given(size=hs.integers(1, 3000), side=hs.sampled_from([1, -1]), n_close=hs.integers(0, 25),
       min_markup=hs.floats(0.0, 0.01), spread=hs.floats(0.0, 0.02), mult=hs.floats(0.0, 3.0),
       min_qty=hs.sampled_from([0.0, 0.001, 0.01, 0.05]), min_cost=hs.sampled_from([0.0, 1.0, 5.0, 20.0]),
       book_frac=hs.floats(-0.005, 0.03))
def test_tp_properties(size, side, n_close, min_markup, spread, mult, min_qty, min_cost, book_frac):
    """The closes sum to |Q| exactly, never cross the book, run nearest first, and each is at least the
    exchange minimum at its price unless it is a single order of all |Q|."""
    q = size / 1000
    key = "S_LONG" if side > 0 else "S_SHORT"
    book = round(100.0 * (1.0 + side * book_frac), 2)
    m, c, s = vectors(mkt={"M_MIN_QTY": min_qty, "M_MIN_COST": min_cost},
                      cfg={"C_LEVERAGE": 1.0, "C_N_ENTRY": 0.0, "C_N_CLOSE": float(n_close),
                           "C_MIN_MARKUP": min_markup, "C_MAX_MARKUP": min_markup + spread,
                           "C_MIN_CLOSE_QTY_MULT": mult, "C_ENTRY_QTY_PCT": 0.05},
                      st={"S_BALANCE": 100.0, f"{key}_SIZE": side * q, f"{key}_PRICE": 100.0,
                          "S_BEST_BID": book - 0.01 if side > 0 else book,
                          "S_BEST_ASK": book if side > 0 else book + 0.01})
    cl = closes(orders(m, c, s))
    assert len(cl) >= 1 and sum(col(cl, L.O_QTY)) == approx(q, abs=1e-9)
    assert cl[-1, L.O_POS_SIZE_AFTER] == approx(0.0, abs=1e-12)
    prices = np.array(col(cl, L.O_PRICE))
    assert (side * np.diff(prices) > 0).all()
    assert (side * (prices - book) >= 0).all()
    if len(cl) > 1:
        assert all(qty >= min_entry_qty(p, m) for p, qty in zip(prices, col(cl, L.O_QTY)))


# ---- soft stop loss --------------------------------------------------------------------------------------

def test_stop_loss_by_distance_from_position_price():
    # long 1 @ 100, last 95.9: |100-95.9|/95.9 = 4.28 % > 4 % -> sell round_up(1*0.02) = 0.02 at the ask
    m, c, s = vectors(cfg={"C_SL_PPRICE_DIFF": 0.04, "C_N_ENTRY": 0.0},
                      st={"S_LONG_SIZE": 1.0, "S_LONG_PRICE": 100.0, "S_LAST_PRICE": 95.9,
                          "S_BEST_BID": 95.89, "S_BEST_ASK": 95.91})
    rows = orders(m, c, s)
    sl = stops(rows)
    assert col(sl, L.O_PRICE) == [95.91] and col(sl, L.O_QTY) == [0.02]
    assert col(sl, L.O_SIDE) == [SELL] and col(sl, L.O_REDUCE_ONLY) == [1.0] and col(sl, L.O_POS_SIZE_AFTER) == [0.98]
    assert rows[0, L.O_KIND] == L.K_STOP_LOSS  # first of the closes
    cl = closes(rows)  # the take-profits close the rest
    assert sum(col(cl, L.O_QTY)) == approx(0.98) and cl[-1, L.O_POS_SIZE_AFTER] == 0.0
    s[L.S_LAST_PRICE] = 96.5  # 3.6 % -> no stop loss
    assert len(stops(orders(m, c, s))) == 0
    s[L.S_LAST_PRICE] = 104.5  # 4.3 % above: the rule is on the absolute distance
    assert len(stops(orders(m, c, s))) == 1


def test_stop_loss_near_liquidation_long_and_short():
    # linear W 1000, mm 0.004, long 20 @ 100: liq = (2000-1000)/(20-0.08) = 50.2008
    m, c, s = vectors(cfg={"C_SL_LIQ_DIFF": 0.02, "C_LEVERAGE": 1.0},
                      st={"S_LONG_SIZE": 20.0, "S_LONG_PRICE": 100.0, "S_LAST_PRICE": 51.0,
                          "S_BEST_BID": 50.99, "S_BEST_ASK": 51.01})
    sl = stops(orders(m, c, s))  # |50.2008-51|/51 = 1.57 % < 2 %
    assert col(sl, L.O_PRICE) == [51.01] and col(sl, L.O_QTY) == [0.4]
    s[L.S_LAST_PRICE] = 52.0  # 3.46 %
    assert len(stops(orders(m, c, s))) == 0
    # short -20 @ 100: liq = (-2000-1000)/(-20-0.08) = 149.4024; last 147 -> 1.63 % -> buy 0.4 at the bid
    m, c, s = vectors(cfg={"C_SL_LIQ_DIFF": 0.02, "C_LEVERAGE": 1.0},
                      st={"S_SHORT_SIZE": -20.0, "S_SHORT_PRICE": 100.0, "S_LAST_PRICE": 147.0,
                          "S_BEST_BID": 146.99, "S_BEST_ASK": 147.01})
    sl = stops(orders(m, c, s))
    assert col(sl, L.O_PRICE) == [146.99] and col(sl, L.O_QTY) == [0.4] and col(sl, L.O_SIDE) == [BUY]
    assert col(sl, L.O_POS_SIZE_AFTER) == [-19.6]
    s[L.S_LAST_PRICE] = 145.0  # 3.04 %
    assert len(stops(orders(m, c, s))) == 0


def test_market_stop_loss_takes_the_opposite_top_of_book():
    m, c, s = vectors(cfg={"C_SL_PPRICE_DIFF": 0.04, "C_MARKET_SL": 1.0},
                      st={"S_LONG_SIZE": 1.0, "S_LONG_PRICE": 100.0, "S_LAST_PRICE": 95.0,
                          "S_BEST_BID": 94.99, "S_BEST_ASK": 95.01})
    assert col(stops(orders(m, c, s)), L.O_PRICE) == [94.99]
    m, c, s = vectors(cfg={"C_SL_PPRICE_DIFF": 0.04, "C_MARKET_SL": 1.0},
                      st={"S_SHORT_SIZE": -1.0, "S_SHORT_PRICE": 100.0, "S_LAST_PRICE": 105.0,
                          "S_BEST_BID": 104.99, "S_BEST_ASK": 105.01})
    sl = stops(orders(m, c, s))
    assert col(sl, L.O_PRICE) == [105.01] and col(sl, L.O_SIDE) == [BUY]


def test_stop_loss_qty_capped_at_position():
    # reduction 150 % -> the whole position; nothing left for take-profits
    m, c, s = vectors(cfg={"C_SL_PPRICE_DIFF": 0.04, "C_SL_POS_REDUCTION": 1.5, "C_N_ENTRY": 0.0},
                      st={"S_LONG_SIZE": 1.0, "S_LONG_PRICE": 100.0, "S_LAST_PRICE": 95.0,
                          "S_BEST_BID": 94.99, "S_BEST_ASK": 95.01})
    rows = orders(m, c, s)
    assert col(rows, L.O_KIND) == [L.K_STOP_LOSS] and col(rows, L.O_QTY) == [1.0]
    assert col(rows, L.O_POS_SIZE_AFTER) == [0.0]


# ---- one-way lists and whole grid -------------------------------------------------------------------

def test_long_position_places_only_long_orders():
    rows = orders(*vectors(st={"S_LONG_SIZE": 1.0, "S_LONG_PRICE": 100.0}))
    assert set(col(rows, L.O_POS_SIDE)) == {1.0}
    kinds = col(rows, L.O_KIND)
    assert kinds == sorted(kinds)  # entries, then closes
    e, cl = entries(rows), closes(rows)
    assert col(e, L.O_PRICE) == sorted(col(e, L.O_PRICE), reverse=True)  # nearest first
    assert col(cl, L.O_PRICE) == sorted(col(cl, L.O_PRICE))
    assert len(orders(*vectors(cfg={"C_DO_LONG": 0.0}, st={"S_LONG_SIZE": 1.0, "S_LONG_PRICE": 100.0}))) > 0


def test_whole_grid_flat_lists_each_side_initial_entry_then_its_grid():
    m, c, s = vectors()
    live = orders(m, c, s)
    rows = orders(m, c, s, True)
    longs, shorts = rows[rows[:, L.O_SIDE] == BUY], rows[rows[:, L.O_SIDE] == SELL]
    assert len(longs) > 1 and len(shorts) > 1
    assert np.array_equal(rows[:len(longs)], longs)  # long block first
    assert np.array_equal(longs[0], live[0]) and np.array_equal(shorts[0], live[1])
    # long initial 1.0 @ 99.99; next node from 1 @ 99.99: g = 0.01*(1 + 0.009999*10) = 0.0109999,
    # P(1-g) = 98.890, s* = round_up(0.249975) = 0.25 -> 98.75, qty round_dn(0.5) = 0.5
    assert longs[1, L.O_PRICE] == 98.75 and longs[1, L.O_QTY] == 0.5
    # short initial q0(100.01) = round_dn(0.99990) = 0.999; next from 0.999 @ 100.01: M = 9.991,
    # g = 0.01*(1 + 0.09991) = 0.0109991, P(1+g) = 101.1100, s* = round_up(0.250025) = 0.26 -> 101.14, q 0.499
    assert shorts[0, L.O_QTY] == 0.999
    assert shorts[1, L.O_PRICE] == 101.14 and shorts[1, L.O_QTY] == 0.499
    for block, sign in ((longs, 1.0), (shorts, -1.0)):
        sizes = col(block, L.O_POS_SIZE_AFTER)
        assert sizes == approx(list(sign * np.cumsum(block[:, L.O_QTY])), abs=1e-9)
        prices = col(block, L.O_PRICE)
        assert prices == sorted(prices, reverse=sign > 0)


def test_whole_grid_with_position_extends_the_live_grid_to_max_position():
    m, c, s = vectors(cfg={"C_LEVERAGE": 2.0}, st={"S_LONG_SIZE": 1.0, "S_LONG_PRICE": 100.0})
    live = orders(m, c, s)
    whole = orders(m, c, s, True)
    le, we = entries(live), entries(whole)
    assert len(le) == 3 and len(we) > 3
    assert np.array_equal(we[:3], le)
    assert np.array_equal(closes(whole), closes(live))
    # the last node filled the room: the position is within one qty_step of maxpos(x) = 2000/x
    last = we[-1]
    assert 0.0 <= 2000.0 / last[L.O_PRICE] - last[L.O_POS_SIZE_AFTER] < 0.001 + 1e-9


# ---- JIT vs pure Python ----------------------------------------------------------------------------------

PARITY_CASES = [
    ({}, {"C_EMA_SPREAD": 0.001}, {}, True),
    ({}, {"C_FUNDING_COLLECT": 1.0}, {"S_PREDICTED_FUNDING": -0.001}, False),
    ({}, {}, {"S_LONG_SIZE": 1.0, "S_LONG_PRICE": 100.0}, True),
    ({}, {"C_SL_PPRICE_DIFF": 0.04}, {"S_SHORT_SIZE": -2.0, "S_SHORT_PRICE": 95.0}, False),
    ({}, {"C_N_CLOSE": 3.0, "C_MAX_MARKUP": 0.002}, {"S_SHORT_SIZE": -0.1, "S_SHORT_PRICE": 100.0}, True),
    ({"M_PRICE_STEP": 0.5, "M_QTY_STEP": 1.0, "M_MIN_QTY": 1.0, "M_INVERSE": 1.0}, {"C_GRID_COEF": 4.0},
     {"S_BALANCE": 0.01, "S_LONG_SIZE": 100.0, "S_LONG_PRICE": 40000.0, "S_BEST_BID": 39999.5,
      "S_BEST_ASK": 40000.0, "S_LAST_PRICE": 40000.0, "S_TICK_EMA": 40000.0}, True),
    # take-profit count and split (0.043/0.043/0.044), 1.68 x min_close, the exchange minimum, one point
    ({}, {"C_LEVERAGE": 1.0, "C_ENTRY_QTY_PCT": 0.1, "C_MIN_MARKUP": 0.001}, {"S_BALANCE": 100.0,
     "S_LONG_SIZE": 0.13, "S_LONG_PRICE": 100.0}, False),
    ({}, {"C_LEVERAGE": 1.0, "C_ENTRY_QTY_PCT": 0.1, "C_MIN_MARKUP": 0.001, "C_MAX_MARKUP": 0.003},
     {"S_BALANCE": 100.0, "S_SHORT_SIZE": -0.084, "S_SHORT_PRICE": 100.0}, False),
    ({"M_MIN_COST": 5.0}, {"C_LEVERAGE": 1.0, "C_ENTRY_QTY_PCT": 0.1, "C_MIN_MARKUP": 0.001},
     {"S_BALANCE": 100.0, "S_LONG_SIZE": 0.13, "S_LONG_PRICE": 100.0}, False),
    ({}, {"C_LEVERAGE": 1.0, "C_N_CLOSE": 1.0}, {"S_BALANCE": 100.0, "S_LONG_SIZE": 0.1, "S_LONG_PRICE": 100.0},
     False),
]

_PARITY_SCRIPT = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("tcc", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
print(json.dumps(mod.parity_rows()))
"""


def parity_rows():
    """Rows of every parity case, as float hex strings (exact)."""
    return [[[float(v).hex() for v in row] for row in orders(*vectors(m, c, s), whole)]
            for m, c, s, whole in PARITY_CASES]


def test_pure_python_gives_the_same_rows_as_jit():
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    res = subprocess.run([sys.executable, "-c", _PARITY_SCRIPT, str(Path(__file__).resolve())],
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    python_rows = json.loads(res.stdout.strip().splitlines()[-1])
    jit_rows = parity_rows()
    assert all(len(rows) > 0 for rows in jit_rows)
    assert python_rows == jit_rows


# ---- one order per price ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "configs" / "live").glob("*/*.json")))
def test_shipped_configs_never_put_two_entries_of_a_side_on_one_price(path):
    from passivx.calc.entry import ideal_orders, new_memo
    from passivx.config import load_live_config
    from passivx.markets import market_spec

    config = load_live_config(path)
    mkt = market_spec(path.parent.name, config.symbol).to_array()
    cfg = config.to_array()
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(40):
        price = float(rng.choice([100.0, 2000.0, 30000.0])) * rng.uniform(0.9, 1.1)
        price = round(price / mkt[L.M_PRICE_STEP]) * mkt[L.M_PRICE_STEP]
        _, _, st = vectors(st={"S_BEST_BID": price, "S_BEST_ASK": price + mkt[L.M_PRICE_STEP], "S_LAST_PRICE": price,
                               "S_TICK_EMA": price})
        st[L.S_LONG_EMA0:L.S_LONG_EMA0 + 3] = st[L.S_SHORT_EMA0:L.S_SHORT_EMA0 + 3] = price
        # balances from a few minimum orders to thousands of them
        min_cost = max(mkt[L.M_MIN_COST], min_entry_qty(price, mkt) * (1 / price if mkt[L.M_INVERSE] else price))
        st[L.S_BALANCE] = min_cost * float(np.exp(rng.uniform(np.log(3), np.log(5000))))
        out = np.zeros((L.MAX_ORDERS, L.O_SIZE))
        n = ideal_orders(cfg, mkt, st, True, out, new_memo())
        for side in (1.0, -1.0):
            prices = [r[L.O_PRICE] for r in out[:n] if r[L.O_KIND] == L.K_ENTRY and r[L.O_POS_SIDE] == side]
            assert len(prices) == len(set(prices)), f"{path.name} at {price}: {sorted(prices)}"
            checked += len(prices)
    assert checked > 40
