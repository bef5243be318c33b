"""Neat grid (issue 8 items 3 and 6): a market without an exchange minimum places its grid, and a position
a plan built gets that plan back when the grid is re-anchored, linear and inverse, long and short."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from jit_parity import run_jit_and_python
from test_backtest_engine import LINEAR as BACKTEST_LINEAR
from test_backtest_engine import fills, replay
from test_calc_modes_neat_clock import INVERSE, LINEAR, make_cfg, make_st, neat

from passivx.calc import layout as L
from passivx.config.live import load_live_config
from passivx.markets import MarketSpec, snapshot_specs

ROOT = Path(__file__).resolve().parents[1]
NEAT_CONFIG = ROOT / "configs/live/binance/BTCUSDT_neat_grid.json"
NO_MINIMUM = MarketSpec(price_step=0.01, qty_step=0.001).to_array()  # min_qty = min_cost = 0


# ---- a market without a minimum ----------------------------------------------------------------------
def _side(out, position_side):
    return [o for o in out["orders"] if o["position_side"] == position_side]


def test_market_without_minimum_places_the_grid_jit_on_and_off():
    # the repro: no --min-qty/--min-cost; once live, once the whole grid, in one batch
    cmd = [sys.executable, "-m", "passivx", "calc", str(NEAT_CONFIG), "--price", "100", "--balance", "1000",
           "--price-step", "0.01", "--qty-step", "0.001", "--batch", "-"]
    lines = json.dumps({}) + "\n" + json.dumps({"whole_grid": True}) + "\n"
    jit_out, py_out = run_jit_and_python(cmd, input=lines, cwd=ROOT)
    assert jit_out == py_out
    live, grid = (json.loads(line) for line in jit_out.splitlines())
    cfg = json.loads(NEAT_CONFIG.read_text())
    for side, sign in (("long", 1), ("short", -1)):
        wel, pct = cfg[side]["wallet_exposure_limit"], cfg[side]["initial_qty_pct"]
        (first,) = _side(live, side)  # flat, live: the initial entry only
        assert (first["kind"], first["price"]) == ("entry", 100.0)
        assert first["qty"] == pytest.approx(round(1000 * wel * pct / 100, 3))  # W*WEL*pct/p0
        rows = _side(grid, side)
        assert len(rows) == cfg[side]["max_n_entry_orders"]
        prices = [o["price"] for o in rows]
        assert prices[0] == 100.0 and prices[-1] == pytest.approx(100 * (1 - sign * cfg[side]["grid_span"]))
        assert all(sign * (a - b) > 0 for a, b in zip(prices, prices[1:]))  # moving away from the market
        qtys = [o["qty"] for o in rows]
        assert qtys[0] == first["qty"] and all(b >= a > 0 for a, b in zip(qtys, qtys[1:]))
        assert rows[-1]["wallet_exposure_after"] == pytest.approx(wel, rel=0.01)
        assert rows[-1]["wallet_exposure_after"] <= wel * 1.01


@pytest.mark.parametrize("side", [1, -1])
def test_market_without_minimum_one_qty_step_is_a_position(side):
    # the exchange minimum is then one qty step: a position of one step is no dust but the grid's start
    cfg = make_cfg(initial_qty_pct=0.01)
    flat = neat(cfg, make_st(), side, whole_grid=False, mkt=NO_MINIMUM)
    assert flat[:, [L.O_QTY, L.O_PRICE]].tolist() == [[0.1, 100.0]]
    key = "long" if side > 0 else "short"
    rows = neat(cfg, make_st(**{key: (side * 0.001, 100.0)}), side, whole_grid=False, mkt=NO_MINIMUM)
    # node 0 at 100 is partly filled: its remainder, just behind the position price
    assert rows[0, L.O_QTY] == pytest.approx(0.099)
    assert rows[0, L.O_PRICE] == pytest.approx(100.0 - side * 0.01)


def test_market_without_minimum_backtest_fills_the_grid():
    # the same config (long only, EMA band = the previous minute's close) on such a market: the initial
    # entry and the next node fill as planned, by default and in the exhaustive reference mode
    config = json.loads(NEAT_CONFIG.read_text())
    config["long"].update(ema_span_0=1, ema_span_1=1)
    config["short"]["enabled"] = False
    market = dict(BACKTEST_LINEAR, price_step=0.01, min_qty=0.0, min_cost=0.0)
    trades = [(0, 100.0, -1), (60_000, 100.0, -1), (120_000, 99.9, -1), (180_000, 97.0, -1)]
    plan = neat(load_live_config(NEAT_CONFIG).to_array(), make_st(), 1, mkt=MarketSpec(**market).to_array())
    for exhaustive in (False, True):
        rows = fills(replay(config, market, trades, exhaustive=exhaustive))
        assert [(r["kind"], r["price"], r["qty"]) for r in rows] == \
            [(L.K_ENTRY, plan[i, L.O_PRICE], plan[i, L.O_QTY]) for i in (0, 1)]


# ---- re-anchoring a position the plan built ----------------------------------------------------------
MARKETS = {  # name: (market, price range, balance range)
    "linear": (LINEAR, (20.0, 500.0), (300.0, 20000.0)),
    "linear_btc": (MarketSpec(price_step=0.1, qty_step=0.001, min_qty=0.001, min_cost=100.0).to_array(),
                   (20000.0, 70000.0), (2000.0, 50000.0)),
    "linear_coarse_qty": (MarketSpec(price_step=0.0001, qty_step=1.0, min_qty=1.0, min_cost=5.0).to_array(),
                          (0.3, 2.0), (300.0, 20000.0)),
    "inverse_btc": (INVERSE, (20000.0, 70000.0), (0.005, 0.5)),
    "inverse_eth": (MarketSpec(price_step=0.05, qty_step=1.0, min_qty=1.0, inverse=True).to_array(),
                    (1000.0, 4000.0), (0.05, 5.0)),
}


def _random_case(rng, market):
    mkt, (p_lo, p_hi), (b_lo, b_hi) = MARKETS[market]
    step = mkt[L.M_PRICE_STEP]
    p0 = round(round(rng.uniform(p_lo, p_hi) / step) * step, 10)
    cfg = make_cfg(wel=rng.uniform(0.3, 2.0), initial_qty_pct=rng.uniform(0.005, 0.05),
                   grid_span=rng.uniform(0.05, 0.5), eqty_exp_base=rng.uniform(1.0, 2.5),
                   eprice_exp_base=rng.uniform(1.0, 1.8), max_n_entry_orders=int(rng.integers(3, 11)))
    return mkt, p0, float(rng.uniform(b_lo, b_hi)), cfg


def _continuations(mkt, p0, balance, cfg, side):
    """(plan, k, live, rest) for each position the whole plan builds: nodes 0..k-1 filled, the book there."""
    plan = neat(cfg, make_st(balance=balance, bid=p0, ask=p0, ema=p0), side, mkt=mkt)
    key = "long" if side > 0 else "short"
    for k in range(1, len(plan)):
        pos = (plan[k - 1, L.O_POS_SIZE_AFTER], plan[k - 1, L.O_POS_PRICE_AFTER])
        st = make_st(balance=balance, bid=plan[k - 1, L.O_PRICE], ask=plan[k - 1, L.O_PRICE], ema=p0,
                     **{key: pos})
        yield plan, k, neat(cfg, st, side, whole_grid=False, mkt=mkt), neat(cfg, st, side, mkt=mkt)


@pytest.mark.parametrize("market", sorted(MARKETS))
@pytest.mark.parametrize("side", [1, -1])
def test_reanchored_grid_is_the_plan_random_grids(market, side):
    """The bound: every remaining node within one price step and one qty step of the plan (the same
    number of nodes), and nearly always the very same grid. One step, not zero: `round_dn`/`round_up`
    can put a price a step off its exact value (float noise), and then two anchors a step apart
    both hold the position exactly."""
    rng = np.random.default_rng(8 + (side > 0) + 2 * sorted(MARKETS).index(market))
    checked = exact = 0
    for _ in range(40):
        mkt, p0, balance, cfg = _random_case(rng, market)
        ps, qs = mkt[L.M_PRICE_STEP], mkt[L.M_QTY_STEP]
        for plan, k, live, rest in _continuations(mkt, p0, balance, cfg, side):
            assert len(live) == 1 and len(rest) == len(plan) - k, (p0, balance, k)
            assert np.abs(rest[:, L.O_PRICE] - plan[k:, L.O_PRICE]).max() <= ps * (1 + 1e-9), (p0, balance, k)
            assert np.abs(rest[:, L.O_QTY] - plan[k:, L.O_QTY]).max() <= qs * (1 + 1e-9), (p0, balance, k)
            assert live[0, [L.O_PRICE, L.O_QTY]].tolist() == rest[0, [L.O_PRICE, L.O_QTY]].tolist()
            checked += 1
            exact += np.array_equal(rest[:, [L.O_PRICE, L.O_QTY]], plan[k:, [L.O_PRICE, L.O_QTY]])
    assert checked > 100 and exact >= 0.99 * checked


def test_inverse_short_whole_grid_after_node_2_is_the_plan():
    # the case: Bybit BTCUSD (inverse), the shipped neat config's short side, balance 0.5 BTC, the
    # whole grid planned at 30000; once nodes 0..2 filled, node 3 came back as 426@32541.5, not 422@32536.5
    cfg = load_live_config(NEAT_CONFIG).to_array()
    mkt = MarketSpec.from_dict(snapshot_specs("bybit")["BTCUSD"]).to_array()
    plan = neat(cfg, make_st(balance=0.5, bid=30000.0, ask=30000.0, ema=30000.0), -1, mkt=mkt)
    assert len(plan) == 8 and plan[3, [L.O_QTY, L.O_PRICE]].tolist() == [422.0, 32536.5]
    pos = (plan[2, L.O_POS_SIZE_AFTER], plan[2, L.O_POS_PRICE_AFTER])
    st = make_st(balance=0.5, bid=plan[2, L.O_PRICE], ask=plan[2, L.O_PRICE], ema=30000.0, short=pos)
    rest = neat(cfg, st, -1, mkt=mkt)
    assert rest[:, [L.O_PRICE, L.O_QTY]].tolist() == plan[3:, [L.O_PRICE, L.O_QTY]].tolist()
