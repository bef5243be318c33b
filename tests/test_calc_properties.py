"""Property tests of the order calculator over random states (issue 2 item 6), for every strategy on linear
and inverse markets, through the same request path as `passivx calc` (`calc_cmd.evaluate`).

Each random case: a valid config drawn from moderate ranges, a market, a book on the price grid, EMAs,
timers and positions holding at least a few minimum orders; the balance is large against the minimum order
cost (>= 1000x per unit of exposure), so min-qty floors cannot push exposure past its limit by themselves.
Expectations come from STRATEGY.md §1-3, not from the calculator."""
import json
import math
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jit_parity import run_jit_and_python

from passivx.cli.calc_cmd import evaluate
from passivx.config import parse_live_config

ROOT = Path(__file__).resolve().parents[1]
NOW = 1_700_000_000_000.0

LINEAR_MARKETS = [
    {"price_step": 0.01, "qty_step": 0.001, "min_qty": 0.001, "min_cost": 5.0},
    {"price_step": 0.1, "qty_step": 0.001, "min_qty": 0.001, "min_cost": 100.0},
    {"price_step": 0.0001, "qty_step": 1.0, "min_qty": 1.0, "min_cost": 5.0},
    {"price_step": 0.5, "qty_step": 0.01, "min_qty": 0.02, "min_cost": 0.0, "c_mult": 0.1},
]
INVERSE_MARKETS = [
    {"price_step": 0.5, "qty_step": 1.0, "min_qty": 1.0, "inverse": True, "mm_rate": 0.005},
    {"price_step": 0.1, "qty_step": 1.0, "min_qty": 1.0, "c_mult": 100.0, "inverse": True},
]

# moderate ranges for drawing configs (all inside the validated ranges of passivx.config.live)
CLASSIC_RANGES = {
    "balance_pct": (0.1, 1.0), "entry_qty_pct": (0.0001, 0.1), "ddown_factor": (0.0, 2.0),
    "grid_coefficient": (0.0, 500.0), "grid_spacing": (0.001, 0.05), "stop_loss_liq_diff": (0.0, 0.1),
    "stop_loss_pos_price_diff": (0.01, 0.5), "stop_loss_pos_reduction": (0.0, 0.1), "leverage": (1.0, 50.0),
    "min_markup": (0.0, 0.005), "max_markup": (0.005, 0.05), "min_close_qty_multiplier": (0.0, 2.0),
}
COMMON_RANGES = {"wallet_exposure_limit": (0.1, 3.0), "min_markup": (0.0, 0.02), "markup_range": (0.0, 0.05),
                 "n_close_orders": (1.0, 20.0), "ema_span_0": (1.0, 1000.0), "ema_span_1": (1.0, 5000.0)}
ENTRY_RANGES = {"initial_qty_pct": (0.005, 0.1), "initial_eprice_ema_dist": (-0.01, 0.02)}
MODE_RANGES = {
    "recursive_grid": {**COMMON_RANGES, **ENTRY_RANGES, "ddown_factor": (0.05, 2.0),
                       "rentry_pprice_dist": (0.002, 0.05),
                       "rentry_pprice_dist_wallet_exposure_weighting": (0.0, 10.0)},
    "neat_grid": {**COMMON_RANGES, **ENTRY_RANGES, "grid_span": (0.05, 0.6), "eprice_exp_base": (0.8, 2.5),
                  "eqty_exp_base": (0.8, 2.5), "max_n_entry_orders": (1.0, 20.0)},
    "clock": {**COMMON_RANGES, "delay_between_fills_minutes_entry": (0.0, 600.0),
              "delay_between_fills_minutes_close": (0.0, 600.0), "delay_weight_entry": (0.0, 100.0),
              "delay_weight_close": (0.0, 100.0), "ema_dist_entry": (-0.01, 0.02),
              "ema_dist_close": (-0.01, 0.02), "qty_pct_entry": (0.005, 0.1), "qty_pct_close": (0.005, 0.1),
              "we_multiplier_entry": (0.0, 2.0), "we_multiplier_close": (0.0, 2.0)},
}
UNSTUCK_RANGES = {"auto_unstuck_threshold": (0.05, 0.5), "auto_unstuck_ema_dist": (-0.01, 0.01),
                  "auto_unstuck_delay_minutes": (1.0, 1000.0), "auto_unstuck_qty_pct": (0.005, 0.1)}

CASE_SETTINGS = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                         derandomize=True)


def unit(draw, lo, hi):
    """A float in [lo, hi]; log-uniform when the range spans two orders of magnitude or more."""
    if lo > 0 and hi / lo >= 100:
        return math.exp(draw(st.floats(math.log(lo), math.log(hi))))
    return draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False))


def drawn(draw, ranges):
    return {k: unit(draw, lo, hi) for k, (lo, hi) in ranges.items()}


@st.composite
def classic_config(draw):
    data = drawn(draw, CLASSIC_RANGES)
    data.update(config_name="p", symbol="X", cross_mode=True, logging_level=0,
                market_stop_loss=draw(st.booleans()),
                n_close_orders=draw(st.integers(1, 30)), n_entry_orders=draw(st.integers(0, 10)),
                indicator_settings={"tick_ema": {"span": 100, "spread": unit(draw, 0.0, 0.01)},
                                    "funding_fee_collect_mode": draw(st.booleans()),
                                    "do_long": draw(st.booleans()), "do_shrt": draw(st.booleans())})
    return data


@st.composite
def side_params(draw, mode):
    side = drawn(draw, MODE_RANGES[mode])
    side.update(enabled=draw(st.booleans()), backwards_tp=draw(st.booleans()))
    if mode != "clock":
        au = drawn(draw, UNSTUCK_RANGES)
        if draw(st.booleans()):
            au["auto_unstuck_threshold"] = 0.0  # off
        if draw(st.booleans()):
            au["auto_unstuck_delay_minutes"] = au["auto_unstuck_qty_pct"] = 0.0  # legacy
        side.update(au)
    return side


def mode_config(mode):
    return st.builds(lambda lo, sh: {"mode": mode, "config_name": "p", "symbol": "X", "long": lo, "short": sh},
                     side_params(mode), side_params(mode))


def min_entry_qty(price, m):
    """STRATEGY §1: inverse min_qty; linear max(min_qty, round_up(min_cost / (price * c), qty_step))."""
    if m.get("inverse"):
        return m["min_qty"]
    steps = math.ceil(round(m.get("min_cost", 0.0) / (price * m.get("c_mult", 1.0)) / m["qty_step"], 9))
    return max(m["min_qty"], steps * m["qty_step"])


def cost(qty, price, m):
    c = m.get("c_mult", 1.0)
    return abs(qty) * c / price if m.get("inverse") else abs(qty) * price * c


def to_qty(value, price, m):
    c = m.get("c_mult", 1.0)
    return value * price / c if m.get("inverse") else value / (price * c)


@st.composite
def request(draw, mode, inverse):
    """A random `passivx calc` request (config object, market object, state) for `mode`."""
    config = draw(classic_config() if mode == "classic" else mode_config(mode))
    m = dict(draw(st.sampled_from(INVERSE_MARKETS if inverse else LINEAR_MARKETS)))
    ps = m["price_step"]
    p = ps * draw(st.integers(2_000, 2_000_000))
    wel = 1.0 if mode == "classic" else max(config["long"]["wallet_exposure_limit"],
                                            config["short"]["wallet_exposure_limit"])
    min_cost = max(cost(min_entry_qty(p * 0.3, m), p * 0.3, m), cost(m["min_qty"], p, m))
    balance = min_cost * 10 ** unit(draw, 3.0, 5.0) / min(wel, 1.0)
    req = {"config": config, "market": m, "price": p, "balance": balance,
           "best_bid": p - ps * draw(st.integers(0, 5)), "best_ask": p + ps * draw(st.integers(0, 5)),
           "ema": p * (1 + unit(draw, -0.02, 0.02)),
           "long_emas": [p * (1 + unit(draw, -0.05, 0.05)) for _ in range(3)],
           "short_emas": [p * (1 + unit(draw, -0.05, 0.05)) for _ in range(3)],
           "now_ms": NOW, "funding_rate": unit(draw, -0.001, 0.001), "whole_grid": draw(st.booleans())}
    for key in ("long_last_entry_ms", "long_last_close_ms", "long_last_unstuck_ms", "short_last_entry_ms",
                "short_last_close_ms", "short_last_unstuck_ms"):
        req[key] = draw(st.one_of(st.none(), st.floats(NOW - 2e7, NOW)))
    sides = draw(st.sampled_from([(), ("long",), ("short",)] if mode == "classic"
                                 else [(), ("long",), ("short",), ("long", "short")]))
    for side in sides:
        side_wel = wel if mode == "classic" else config[side]["wallet_exposure_limit"]
        pos_price = p * (1 + unit(draw, -0.2, 0.2))
        floor = 3 * min_entry_qty(0.5 * min(p, pos_price), m)
        qty = to_qty(balance * side_wel * unit(draw, 1e-4, 1.3), pos_price, m)
        req[f"{side}_size"] = max(floor, round(qty / m["qty_step"]) * m["qty_step"])
        req[f"{side}_price"] = pos_price
    parse_live_config(config, "drawn")  # the drawn config is valid
    return req


def multiple(x, step):
    """x is a whole number of steps (up to float noise: a few ulps at huge magnitudes)."""
    r = x / step
    return abs(r - round(r)) < max(1e-6, abs(r) * 1e-12)


def check_properties(req):
    out = evaluate(req)
    m = req["market"]
    classic = "mode" not in req["config"]
    for o in out["orders"]:
        assert o["qty"] > 0 and multiple(o["qty"], m["qty_step"]), o
        assert multiple(o["price"], m["price_step"]), o
        if o["kind"] == "stop_loss":
            continue  # STRATEGY §2: a fixed share of the position, no minimum
        assert o["qty"] >= min_entry_qty(o["price"], m) - 1e-9, o
        bid_side = (o["side"] == "buy")
        if bid_side:
            assert o["price"] <= req["best_bid"] + 1e-9, o
        else:
            assert o["price"] >= req["best_ask"] - 1e-9, o
    for side in ("long", "short"):
        size = req.get(f"{side}_size", 0.0)
        mine = [o for o in out["orders"] if o["position_side"] == side]
        closes = [o["qty"] for o in mine if o["reduce_only"]]
        entries = [o for o in mine if not o["reduce_only"]]
        if size == 0:
            assert not closes
        elif classic:
            assert math.isclose(sum(closes), size, abs_tol=1e-9)  # stop loss + take-profits = |Q|
        else:
            q = math.floor(round(size / m["qty_step"], 9)) * m["qty_step"]
            excess = sum(closes) - q
            if req["config"]["mode"] == "clock" and excess > 1e-9:  # the clock close comes on top of the TP grid
                assert any(math.isclose(excess, c, abs_tol=1e-9) for c in closes), (closes, q)
            else:
                assert math.isclose(excess, 0.0, abs_tol=1e-9), (closes, q)
        if classic:
            settings_ = req["config"]
            used = req["balance"] * settings_["balance_pct"] * settings_["leverage"]
            for o in entries[1 if size == 0 else 0:]:  # re-entries stay within the maximum position at x
                assert o["pos_size_after"] <= to_qty(used, o["price"], m) + 1e-9, o
        else:
            wel = req["config"][side]["wallet_exposure_limit"]
            for o in entries:
                assert o["wallet_exposure_after"] <= 1.01 * wel + 1e-9, (o, wel)


@pytest.mark.parametrize("inverse", [False, True], ids=["linear", "inverse"])
@pytest.mark.parametrize("mode", ["classic", "recursive_grid", "neat_grid", "clock"])
def test_properties(mode, inverse):
    @CASE_SETTINGS
    @given(request(mode, inverse))
    def run(req):
        check_properties(req)
    run()


def test_jit_on_and_off_give_identical_output(tmp_path):
    """Random requests of every strategy through `passivx calc --batch`, compiled and as plain Python."""
    reqs = []
    for mode in ("classic", "recursive_grid", "neat_grid", "clock"):
        for inverse in (False, True):
            @settings(max_examples=8, deadline=None, phases=[Phase.generate], derandomize=True, database=None)
            @given(request(mode, inverse))
            def collect(req):
                reqs.append(req)
            collect()
    batch = tmp_path / "states.jsonl"
    batch.write_text("".join(json.dumps(r) + "\n" for r in reqs))
    outputs = run_jit_and_python([sys.executable, "-m", "passivx", "calc", "--batch", str(batch)], cwd=ROOT)
    lines = outputs[0].splitlines()
    assert len(lines) == len(reqs) == 64 and not any('"error"' in line for line in lines)
    assert sum(len(json.loads(line)["orders"]) for line in lines) > 100  # the cases do place orders
    assert outputs[0] == outputs[1]
