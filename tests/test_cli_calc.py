"""`passivx calc` (issue 2 item 5): the STRATEGY.md / seed check values through the command line, batch
mode, and one-line errors with their exit codes. Expected values come from the spec, worked by hand."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from passivx.cli import main

ROOT = Path(__file__).resolve().parents[1]
LINEAR = ["--price-step", "0.01", "--qty-step", "0.001", "--min-qty", "0.001", "--min-cost", "5"]

CLASSIC = {
    "balance_pct": 1.0, "config_name": "t", "cross_mode": True, "entry_qty_pct": 0.005, "ddown_factor": 0.02,
    "indicator_settings": {"tick_ema": {"span": 10000, "spread": 0.0}, "funding_fee_collect_mode": False,
                           "do_long": True, "do_shrt": True},
    "grid_coefficient": 245.0, "grid_spacing": 0.0026, "stop_loss_liq_diff": 0.02,
    "stop_loss_pos_price_diff": 0.04, "stop_loss_pos_reduction": 0.02, "leverage": 100, "logging_level": 0,
    "min_markup": 0.0002, "max_markup": 0.0159, "min_close_qty_multiplier": 0.5, "market_stop_loss": False,
    "n_close_orders": 20, "n_entry_orders": 8, "symbol": "BTCUSD",
}
SIDE = {
    "enabled": True, "ema_span_0": 60, "ema_span_1": 240, "wallet_exposure_limit": 1.0, "min_markup": 0.005,
    "markup_range": 0.01, "n_close_orders": 5, "backwards_tp": False, "initial_qty_pct": 0.01,
    "initial_eprice_ema_dist": 0.0, "auto_unstuck_threshold": 0.0, "auto_unstuck_ema_dist": 0.0,
    "auto_unstuck_delay_minutes": 0, "auto_unstuck_qty_pct": 0.0,
}
RECURSIVE = {**SIDE, "ddown_factor": 0.6, "rentry_pprice_dist": 0.02,
             "rentry_pprice_dist_wallet_exposure_weighting": 1.5}
NEAT = {**SIDE, "grid_span": 0.3, "eprice_exp_base": 1.0, "eqty_exp_base": 2.0, "max_n_entry_orders": 6}


def classic(**changes):
    cfg = json.loads(json.dumps(CLASSIC))
    for key, value in changes.items():
        if key in ("spread", "span"):
            cfg["indicator_settings"]["tick_ema"][key] = value
        else:
            cfg[key] = value
    return cfg


def grid(mode, long, **short_changes):
    return {"mode": mode, "config_name": "t", "symbol": "X", "long": long,
            "short": {**long, "enabled": False, **short_changes}}


@pytest.fixture
def calc(tmp_path):
    """Run `passivx calc` on a config dict with flags; return the parsed JSON output."""
    def run(config, *flags):
        path = tmp_path / "cfg.json"
        path.write_text(json.dumps(config))
        result = CliRunner().invoke(main, ["calc", str(path), *map(str, flags)])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)
    return run


def pick(out, position_side=None, kind=None, side=None):
    return [o for o in out["orders"] if (position_side is None or o["position_side"] == position_side)
            and (kind is None or o["kind"] == kind) and (side is None or o["side"] == side)]


def qp(orders):
    return [(o["qty"], o["price"]) for o in orders]


# ---- classic (seed 000, STRATEGY §2) ------------------------------------------------------------
def test_classic_initial_qty_bybit_inverse_is_3(calc):
    # 0.001 BTC * 37000 * 50 * 0.0021 = 3.885 contracts -> round_dn to qty_step 1 -> 3.0
    out = calc(classic(entry_qty_pct=0.0021, leverage=50), "--price", 37000, "--balance", 0.001, "--inverse",
               "--price-step", 0.5, "--qty-step", 1, "--min-qty", 1)
    assert qp(pick(out, "long", "entry")) == [(3.0, 37000.0)]
    assert qp(pick(out, "short", "entry")) == [(3.0, 37000.0)]
    assert pick(out, "long", "entry")[0]["side"] == "buy" and pick(out, "short", "entry")[0]["side"] == "sell"
    assert len(out["orders"]) == 2


def test_classic_initial_qty_binance_linear_is_0_084(calc):
    # (40 / 1100) * 33 * 0.07 = 0.084
    out = calc(classic(entry_qty_pct=0.07, leverage=33, symbol="ETHUSDT"), "--price", 1100, "--balance", 40,
               *LINEAR)
    assert qp(pick(out, "long", "entry")) == [(0.084, 1100.0)]


def test_classic_take_profit_grid_check(calc):
    # q0(100) = 1000/100 * 1 * 0.001 = 0.01 -> min close 0.005; n = min(10, 0.1/0.005) = 10 orders of 0.01
    cfg = classic(entry_qty_pct=0.001, leverage=1, min_markup=0.0005, max_markup=0.005, n_close_orders=10)
    out = calc(cfg, "--price", 100, "--best-ask", 100.02, "--balance", 1000, "--long-size", 0.1,
               "--long-price", 100, "--price-step", 0.01, "--qty-step", 0.001, "--min-qty", 0.001)
    closes = pick(out, "long", "close")
    assert qp(closes) == [(0.01, round(100 + 0.05 * i, 2)) for i in range(1, 11)]
    assert all(o["side"] == "sell" and o["reduce_only"] for o in closes)
    assert closes[-1]["pos_size_after"] == 0.0
    assert not pick(out, "long", "stop_loss")


def test_classic_stop_loss_when_price_far_from_position(calc):
    # |P - p| / p = 5/95 > 0.04: reduce 2 % of 1.0 at the top of the book (limit: best ask for a long)
    cfg = classic(entry_qty_pct=0.001, leverage=1)
    out = calc(cfg, "--price", 95, "--best-bid", 94.99, "--best-ask", 95.01, "--balance", 1000,
               "--long-size", 1, "--long-price", 100, *LINEAR)
    assert qp(pick(out, "long", "stop_loss")) == [(0.02, 95.01)]


def test_wallet_exposure_example(calc):
    # linear W=1000, Q=100, P=35 -> WE = 3.5
    out = calc(classic(), "--price", 35, "--balance", 1000, "--long-size", 100, "--long-price", 35, *LINEAR)
    assert out["wallet_exposure"] == {"long": pytest.approx(3.5, rel=1e-12), "short": 0.0}


# ---- bankruptcy / liquidation (STRATEGY §1) ----------------------------------------------------------
def test_bankruptcy_linear_50(calc):
    out = calc(classic(), "--price", 100, "--balance", 1000, "--long-size", 20, "--long-price", 100, *LINEAR,
               "--mm-rate", 0.004)
    assert out["bankruptcy_price"] == pytest.approx(50.0, rel=1e-12)
    # equity W + Q(p - P) equals mm * Q * p  ->  p = (Q*P - W) / (Q * (1 - mm))
    assert out["liquidation_price"] == pytest.approx((20 * 100 - 1000) / (20 * 0.996), rel=1e-12)


def test_bankruptcy_inverse_50000(calc):
    out = calc(classic(), "--price", 100000, "--balance", 0.01, "--long-size", 1000, "--long-price", 100000,
               "--inverse", "--price-step", 0.5, "--qty-step", 1, "--min-qty", 1, "--mm-rate", 0)
    assert out["bankruptcy_price"] == pytest.approx(50000.0, rel=1e-12)
    assert out["liquidation_price"] == pytest.approx(50000.0, rel=1e-12)  # mm 0: the same price


# ---- grid modes (STRATEGY §3, seed 002) -------------------------------------------------------------
def test_recursive_whole_grid_check(calc):
    out = calc(grid("recursive_grid", RECURSIVE), "--price", 100, "--balance", 1000, "--whole-grid", *LINEAR)
    nodes = pick(out, "long", "entry")
    expected = [(0.1, 100.0), (0.102, 97.97), (0.121, 96.93), (0.194, 96.15), (0.31, 95.34), (0.496, 94.48),
                (0.794, 93.55), (1.27, 92.5), (2.032, 91.26)]
    assert qp(nodes[:9]) == expected
    assert len(nodes) == 10  # and a last node cropped so WE ends at the limit
    assert nodes[-1]["price"] < 91.26
    assert nodes[-1]["wallet_exposure_after"] == pytest.approx(1.0, rel=0.02)
    assert nodes[-1]["pos_size_after"] == pytest.approx(sum(o["qty"] for o in nodes), abs=1e-9)
    assert out["grid_filled"]["long"]["wallet_exposure"] == pytest.approx(1.0, rel=0.02)
    assert not pick(out, "short")  # short side disabled and flat


def test_recursive_live_while_flat_places_node_0_only(calc):
    out = calc(grid("recursive_grid", RECURSIVE), "--price", 100, "--balance", 1000, *LINEAR)
    assert qp(out["orders"]) == [(0.1, 100.0)]


def test_neat_grid_check(calc):
    out = calc(grid("neat_grid", NEAT), "--price", 100, "--balance", 1000, "--whole-grid", *LINEAR)
    nodes = pick(out, "long", "entry")
    assert [o["price"] for o in nodes] == [100.0, 94.0, 88.0, 82.0, 76.0, 70.0]
    for got, want in zip([o["qty"] for o in nodes], [0.1, 0.324, 0.771, 1.666, 3.456, 7.035], strict=True):
        assert got == pytest.approx(want, rel=0.01)
    assert nodes[-1]["wallet_exposure_after"] == pytest.approx(1.0, rel=0.01)
    live = calc(grid("neat_grid", NEAT), "--price", 100, "--balance", 1000, *LINEAR)
    assert qp(live["orders"]) == [(0.1, 100.0)]  # flat: only the initial entry


def test_take_profit_seed_002_example(calc):
    cfg = grid("recursive_grid", {**RECURSIVE, "min_markup": 0.02, "markup_range": 0.03, "n_close_orders": 7})
    out = calc(cfg, "--price", 100, "--balance", 1000, "--long-size", 0.7, "--long-price", 100, *LINEAR)
    closes = pick(out, "long", "close")
    assert [o["price"] for o in closes] == [102.0, 102.5, 103.0, 103.5, 104.0, 104.5, 105.0]
    assert [o["qty"] for o in closes] == [0.1] * 7


def test_take_profit_frontwards_check(calc):
    out = calc(grid("recursive_grid", RECURSIVE), "--price", 95.5, "--balance", 1000, "--long-size", 5,
               "--long-price", 95, *LINEAR)
    assert qp(pick(out, "long", "close")) == [(1.25, 95.72), (1.25, 95.95), (1.25, 96.19), (1.25, 96.43)]


def test_take_profit_backwards_check(calc):
    out = calc(grid("recursive_grid", {**RECURSIVE, "backwards_tp": True}), "--price", 95.5, "--balance", 1000,
               "--long-size", 5, "--long-price", 95, *LINEAR)
    assert qp(pick(out, "long", "close")) == [(0.788, 95.95), (2.106, 96.19), (2.106, 96.43)]


@pytest.mark.parametrize("delay,qty_pct,expected", [(60, 0.02, 0.21), (0, 0.0, 0.958)])
def test_auto_unstuck_check(calc, delay, qty_pct, expected):
    side = {**RECURSIVE, "auto_unstuck_threshold": 0.2, "auto_unstuck_ema_dist": 0.001,
            "auto_unstuck_delay_minutes": delay, "auto_unstuck_qty_pct": qty_pct}
    out = calc(grid("recursive_grid", side), "--price", 94, "--balance", 1000, "--long-size", 9,
               "--long-price", 100, "--emas", "95,95,95", *LINEAR)
    unstuck = [o for o in pick(out, "long", "unstuck") if o["reduce_only"]]
    assert len(unstuck) == 1 and unstuck[0]["price"] == 95.1 and unstuck[0]["side"] == "sell"
    assert unstuck[0]["qty"] == pytest.approx(expected, abs=0.002)


def test_short_side_mirrors_long(calc):
    # with both sides enabled and flat at price 100, the short initial entry sits at the ask
    cfg = grid("recursive_grid", RECURSIVE, enabled=True)
    out = calc(cfg, "--price", 100, "--best-bid", 99.99, "--best-ask", 100.01, "--balance", 1000, *LINEAR)
    assert qp(pick(out, "short", "entry")) == [(0.1, 100.01)]
    assert pick(out, "short", "entry")[0]["side"] == "sell"


def test_clock_timer(calc):
    clock_side = {k: v for k, v in SIDE.items() if not k.startswith(("initial", "auto_unstuck"))}
    clock_side.update({"delay_between_fills_minutes_entry": 10, "delay_between_fills_minutes_close": 10,
                       "delay_weight_entry": 0, "delay_weight_close": 0, "ema_dist_entry": 0.01,
                       "ema_dist_close": 0.01, "qty_pct_entry": 0.01, "qty_pct_close": 0.01,
                       "we_multiplier_entry": 0, "we_multiplier_close": 0})
    cfg = grid("clock", clock_side)
    base = ["--price", 100, "--balance", 1000, "--long-size", 1, "--long-price", 100, *LINEAR]
    # last entry 5 minutes ago, delay 10 minutes: not due; 11 minutes ago: due at 99.0 for 1000*0.01/99 -> 0.101
    assert not pick(calc(cfg, *base, "--now-ms", 600_000, "--long-last-entry-ms", 300_000), "long", "entry")
    due = pick(calc(cfg, *base, "--now-ms", 660_001, "--long-last-entry-ms", 0), "long", "entry")
    assert qp(due) == [(0.101, 99.0)]


# ---- batch mode --------------------------------------------------------------------------------------
def test_batch_with_a_bad_line_in_the_middle(tmp_path):
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(json.dumps(grid("recursive_grid", RECURSIVE)))
    lines = [
        {"price": 100, "balance": 1000, "whole_grid": True},
        {"price": "abc", "balance": 1000},
        "not json",
        {"config": grid("neat_grid", NEAT), "price": 100, "balance": 1000, "emas": [100, 100, 100],
         "price_step": 0.01},
    ]
    batch = tmp_path / "in.jsonl"
    batch.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    result = CliRunner().invoke(main, ["calc", str(cfg_path), "--batch", str(batch), *LINEAR])
    assert result.exit_code == 1 and result.stderr == f"error: {batch}: 2 of 4 line(s) failed (their output lines hold the errors)\n"
    outs = [json.loads(s) for s in result.stdout.splitlines()]
    assert len(outs) == 4
    assert qp(outs[0]["orders"])[:2] == [(0.1, 100.0), (0.102, 97.97)]
    assert outs[1] == {"error": "line 2: key 'price': must be a finite number, got 'abc'"}
    assert set(outs[2]) == {"error"} and outs[2]["error"].startswith("line 3: not valid JSON")
    assert outs[3]["mode"] == "neat_grid" and qp(outs[3]["orders"]) == [(0.1, 100.0)]


def test_batch_from_stdin_matches_single_calls(tmp_path):
    cfg = str(ROOT / "configs/live/binance/BTCUSDT_recursive_grid.json")
    states = [{"config": cfg, "price": 100, "balance": 1000, "long_size": 1, "long_price": 101,
               "price_step": 0.01, "qty_step": 0.001, "min_qty": 0.001, "min_cost": 5},
              {"config": cfg, "price": 100, "balance": 1000, "unknown_key": 1}]
    proc = subprocess.run([sys.executable, "-m", "passivx", "calc", "--batch", "-"], capture_output=True, text=True,
                          input="\n".join(json.dumps(s) for s in states) + "\n", cwd=tmp_path, timeout=300, check=False)
    assert proc.returncode == 1 and proc.stderr.endswith("error: stdin: 1 of 2 line(s) failed (their output lines hold "
                                                          "the errors)\n"), proc.stderr
    outs = proc.stdout.splitlines()
    assert len(outs) == 2 and json.loads(outs[1])["error"].startswith("line 2: unknown key 'unknown_key'")
    single = CliRunner().invoke(main, ["calc", cfg, "--price", "100", "--balance", "1000", "--long-size", "1",
                                       "--long-price", "101", *LINEAR])
    assert json.loads(outs[0]) == json.loads(single.stdout)


def test_batch_of_a_binary_file_fails_each_line_without_a_traceback(tmp_path):
    cfg = str(ROOT / "configs/live/binance/BTCUSDT_recursive_grid.json")
    batch = tmp_path / "binary.jsonl"
    batch.write_bytes(b"\x7fELF\x02\x01\x00\x00\n\xd0\xcf\x11\xe0\n" + json.dumps({"price": 1}).encode())
    result = CliRunner().invoke(main, ["calc", cfg, "--batch", str(batch), "--balance", "100", *LINEAR])
    outs = [json.loads(s) for s in result.stdout.splitlines()]
    assert [o["error"].split(":")[0] for o in outs[:2]] == ["line 1", "line 2"] and "orders" in outs[2]
    assert "NUL" in outs[0]["error"] and "UTF-8" in outs[1]["error"]
    assert result.exit_code == 1 and result.stderr.startswith(f"error: {batch}: 2 of 3 line(s) failed")


# ---- errors: one line, exit code 1 (usage errors of click: 2) ----------------------------------------
@pytest.mark.parametrize("args,message", [
    (["--balance", "1000"], "error: --price is required"),
    (["--price", "100"], "error: --balance is required"),
    (["--price", "abc", "--balance", "1"], "error: --price: must be a number, got 'abc'"),
    (["--price", "100", "--balance", "-5"], "error: --balance: must be > 0, got -5.0"),
    (["--price", "100", "--balance", "1000", "--long-size", "1"],
     "error: --long-price is required with --long-size"),
    (["--price", "100", "--balance", "1000", "--long-size", "-1", "--long-price", "100"],
     "error: --long-size: must be >= 0 (a magnitude), got -1.0"),
    (["--price", "100", "--balance", "1000", "--best-bid", "101"],
     "error: --best-bid (101.0) must not be above --best-ask (100.0)"),
    (["--price", "100", "--balance", "1000", "--emas", "1,2"],
     "error: --emas: must be three EMA values > 0, got [1.0, 2.0]"),
    (["--price", "100", "--balance", "1000", "--long-size", "1", "--long-price", "100", "--short-size", "1",
      "--short-price", "100"], "error: a classic config is one-way: give --long-size or --short-size, not both"),
])
def test_state_errors_are_one_line(tmp_path, args, message):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(classic()))
    result = CliRunner().invoke(main, ["calc", str(cfg), *args, *LINEAR])
    assert result.exit_code == 1
    assert result.stderr.strip() == message and result.stdout == ""


def test_market_and_config_errors_are_one_line(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(classic()))
    state = ["--price", "100", "--balance", "1000"]
    cases = [
        (["calc", str(cfg), *state], "error: give --exchange, --market or both --price-step and --qty-step"),
        (["calc", str(cfg), *state, "--exchange", "binance"], "error: unknown symbol BTCUSD on binance"),
        (["calc", str(tmp_path / "nope.json"), *state, *LINEAR], f"error: {tmp_path / 'nope.json'}: file not found"),
        (["calc", *state, *LINEAR], "error: CONFIG is required (a live config file)"),
        (["calc", str(cfg), *state, "--market", str(tmp_path / "m.json")],
         f"error: {tmp_path / 'm.json'}: market file not found"),
        (["calc", str(cfg), *state, "--price-step", "0", "--qty-step", "1"],
         "error: market: price_step must be a number > 0, got 0.0"),
        (["calc", str(cfg), *state, *LINEAR, "--batch", str(tmp_path / "none.jsonl")],
         f"error: {tmp_path / 'none.jsonl'}: cannot read the batch file (No such file or directory)"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.strip().startswith(message) and result.stderr.count("\n") == 1


def test_market_file_and_flag_override(calc):
    market = str(ROOT / "configs/markets/binance_ETHUSDT.json")  # min_cost 20
    cfg = classic(entry_qty_pct=0.07, leverage=33)
    out = calc(cfg, "--price", 1100, "--balance", 40, "--market", market)
    assert qp(pick(out, "long", "entry")) == [(0.084, 1100.0)]
    # a tiny balance: the initial entry is raised to the minimum cost, round_up(20/1100, 0.001) = 0.019
    out = calc(cfg, "--price", 1100, "--balance", 1, "--market", market)
    assert qp(pick(out, "long", "entry")) == [(0.019, 1100.0)]
    out = calc(cfg, "--price", 1100, "--balance", 1, "--market", market, "--min-cost", 0)
    assert qp(pick(out, "long", "entry")) == [(0.002, 1100.0)]  # (1/1100)*33*0.07 = 0.0021 -> 0.002


def test_exchange_takes_the_known_spec_of_the_config_symbol(calc):
    # Bybit BTCUSD is inverse with qty_step 1: the seed-000 example gives 3 contracts
    out = calc(classic(entry_qty_pct=0.0021, leverage=50), "--price", 37000, "--balance", 0.001,
               "--exchange", "bybit")
    assert qp(pick(out, "long", "entry")) == [(3.0, 37000.0)]


def test_linear_flag_overrides_an_inverse_market_file(calc):
    market = str(ROOT / "configs/markets/bybit_BTCUSD.json")  # inverse, qty_step 1, min_qty 1
    cfg = classic(entry_qty_pct=0.0021, leverage=50)
    inverse = calc(cfg, "--price", 37000, "--balance", 0.001, "--market", market)
    assert qp(pick(inverse, "long", "entry")) == [(3.0, 37000.0)]
    # linear: 0.001 / 37000 * 50 * 0.0021 contracts rounds down to 0 -> the minimum qty 1
    linear = calc(cfg, "--price", 37000, "--balance", 0.001, "--market", market, "--linear")
    assert qp(pick(linear, "long", "entry")) == [(1.0, 37000.0)]


def test_subprocess_exit_codes_and_stdout_is_json(tmp_path):
    cfg = str(ROOT / "configs/live/bybit/BTCUSD_default.json")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run([sys.executable, "-m", "passivx", "calc", cfg, "--price", "37000", "--balance", "0.01",
                         "--market", str(ROOT / "configs/markets/bybit_BTCUSD.json")],
                        capture_output=True, text=True, env=env, timeout=300, check=False)
    assert ok.returncode == 0 and ok.stderr == ""
    assert {o["position_side"] for o in json.loads(ok.stdout)["orders"]} == {"long", "short"}
    bad = subprocess.run([sys.executable, "-m", "passivx", "calc", cfg, "--price", "1"], capture_output=True,
                         text=True, env=env, timeout=300, check=False)
    assert bad.returncode == 1 and bad.stderr == "error: --balance is required\n" and bad.stdout == ""
    usage = subprocess.run([sys.executable, "-m", "passivx", "calc", cfg, "--no-such-flag"], capture_output=True,
                           text=True, env=env, timeout=300, check=False)
    assert usage.returncode == 2 and "No such option" in usage.stderr


# ---- "after" fields in the printed order; closes beyond the position (issue 8 item 7) -------------------
CLOCK_SIDE = {**{k: v for k, v in SIDE.items() if not k.startswith(("initial", "auto_unstuck"))},
              "delay_between_fills_minutes_entry": 10, "delay_between_fills_minutes_close": 10,
              "delay_weight_entry": 0, "delay_weight_close": 0, "ema_dist_entry": 0.01, "ema_dist_close": 0.001,
              "qty_pct_entry": 0.01, "qty_pct_close": 0.01, "we_multiplier_entry": 0, "we_multiplier_close": 0}


def test_clock_after_fields_follow_the_printed_order(calc):
    # long 1 @ 100, balance 1000, both timers due: clock close 0.1 @ 100.1 (1000*0.01/100.1 -> 0.1) is the
    # nearest close, then the take-profit grid of the whole position, 5 x 0.2 from 100.5 to 101.5
    out = calc(grid("clock", CLOCK_SIDE), "--price", 100, "--balance", 1000, "--long-size", 1, "--long-price", 100,
               "--now-ms", 3_600_000, *LINEAR)
    closes = pick(out, "long", side="sell")
    assert qp(closes) == [(0.1, 100.1), (0.2, 100.5), (0.2, 100.75), (0.2, 101.0), (0.2, 101.25), (0.2, 101.5)]
    assert closes[0]["kind"] == "close"
    left = 1.0
    for o in closes:  # each: this close and the ones printed before it filled, never below flat
        left = max(0.0, round(left - o["qty"], 9))
        assert o["pos_size_after"] == pytest.approx(left, abs=1e-12)
        assert o["pos_price_after"] == (100.0 if left else 0.0)
        assert o["wallet_exposure_after"] == pytest.approx(left * 100 / 1000, abs=1e-12)
    assert [o["pos_size_after"] for o in closes][-2:] == [pytest.approx(0.1), 0.0]
    assert set(out["notes"]) == {"long"}
    note = out["notes"]["long"]
    assert note.startswith("closes total 1.1 but the position is 1.0") and "clock close" in note
    # entries chain on their own, from the current position: 1 @ 100 + 0.101 @ 99
    (entry,) = pick(out, "long", "entry")
    assert (entry["qty"], entry["price"]) == (0.101, 99.0)
    assert entry["pos_size_after"] == pytest.approx(1.101, abs=1e-12)
    assert entry["pos_price_after"] == pytest.approx((100 + 0.101 * 99) / 1.101, rel=1e-12)


def test_closes_that_fit_the_position_have_no_note(calc):
    cfg = grid("recursive_grid", {**RECURSIVE, "min_markup": 0.02, "markup_range": 0.03, "n_close_orders": 7})
    out = calc(cfg, "--price", 100, "--balance", 1000, "--long-size", 0.7, "--long-price", 100, *LINEAR)
    closes = pick(out, "long", "close")
    assert [o["pos_size_after"] for o in closes] == pytest.approx([0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0], abs=1e-12)
    assert out["notes"] == {}
    clock = calc(grid("clock", CLOCK_SIDE), "--price", 100, "--balance", 1000, "--long-size", 1,
                 "--long-price", 100, "--now-ms", 300_000, "--long-last-close-ms", 0, *LINEAR)
    assert not [o for o in pick(clock, "long", "close") if o["price"] < 100.5]  # clock close not due: no note
    assert clock["notes"] == {}


def test_short_whole_grid_filled_matches_its_deepest_printed_entry(calc):
    out = calc(grid("recursive_grid", {**RECURSIVE, "enabled": False}, enabled=True), "--price", 100,
               "--balance", 1000, "--whole-grid", *LINEAR)
    nodes = pick(out, "short", "entry")
    assert len(nodes) > 3 and [o["price"] for o in nodes] == sorted(o["price"] for o in nodes)
    size, cost = 0.0, 0.0
    for o in nodes:
        size, cost = size + o["qty"], cost + o["qty"] * o["price"]
        assert o["pos_size_after"] == pytest.approx(size, abs=1e-9)
        assert o["pos_price_after"] == pytest.approx(cost / size, rel=1e-12)
    end = out["grid_filled"]["short"]
    assert (end["size"], end["price"]) == (nodes[-1]["pos_size_after"], nodes[-1]["pos_price_after"])
    # cross margin, short only: W + Q(p0 - p) = mm * Q * p  ->  p = (Q*p0 + W) / (Q * (1 + mm)), mm 0.004
    q, p0 = end["size"], end["price"]
    assert end["liquidation_price"] == pytest.approx((q * p0 + 1000) / (q * 1.004), rel=1e-12)


# ---- leverage against the market's maximum (issue 8 item 5) ------------------------------------------
def test_leverage_above_the_market_maximum_is_one_error_line(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(classic(leverage=100)))
    market = tmp_path / "m.json"
    market.write_text(json.dumps({"price_step": 0.5, "qty_step": 1, "inverse": True, "max_leverage": 50}))
    state = ["--price", "37000", "--balance", "0.01"]
    result = CliRunner().invoke(main, ["calc", str(cfg), *state, "--market", str(market)])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (f"error: {cfg}: key 'leverage': 100 is above the maximum leverage 50 of {market}; "
                             "set it to 50 or less\n")
    ok = CliRunner().invoke(main, ["calc", str(cfg), *state, "--exchange", "bybit"])  # Bybit BTCUSD: 100
    assert ok.exit_code == 0, ok.output
    high = tmp_path / "high.json"
    high.write_text(json.dumps(classic(leverage=125)))
    result = CliRunner().invoke(main, ["calc", str(high), *state, "--exchange", "bybit"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {high}: key 'leverage': 125 is above the maximum leverage 100 of "
                                    "the market bybit BTCUSD; set it to 100 or less")


def test_grid_wallet_exposure_limit_above_the_market_maximum_in_a_batch(tmp_path):
    batch = tmp_path / "in.jsonl"
    lines = [{"config": grid("recursive_grid", {**RECURSIVE, "wallet_exposure_limit": 3.0}), "price": 100,
              "balance": 1000, "market": {"price_step": 0.01, "qty_step": 0.001, "max_leverage": m}} for m in (2, 3)]
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = CliRunner().invoke(main, ["calc", "--batch", str(batch)])
    assert result.exit_code == 1 and "1 of 2 line(s) failed" in result.stderr, result.output
    refused, ok = (json.loads(s) for s in result.stdout.splitlines())
    assert refused["error"].startswith("line 1: config: key 'long.wallet_exposure_limit': 3 is above the maximum "
                                       "leverage 2 of the market spec")
    assert qp(ok["orders"]) == [(0.3, 100.0)]  # 1000 * 3 * 0.01 / 100
