"""Live config loading and validation (issue 2 item 2): one-line errors naming file and key, the shipped
configs, the cfg vector layout, saving, and the optimizer's parameter ranges."""
import copy
import json
from pathlib import Path

import pytest

from passivx.calc import layout as L
from passivx.config import (
    LiveConfig,
    check_leverage,
    load_live_config,
    param_ranges,
    parse_live_config,
    save_live_config,
    with_params,
)
from passivx.config.validate import Field, check_object, integer, number, read_config_file, string
from passivx.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "configs" / "live").glob("*/*.json"))

# the seed-000 reference config, as printed in the Passiv-X README
SEED_000 = {
    "balance_pct": 0.5, "config_name": "BTCUSD_default", "cross_mode": True, "entry_qty_pct": 0.005,
    "ddown_factor": 0.02,
    "indicator_settings": {"tick_ema": {"span": 10000, "spread": 0.001}, "funding_fee_collect_mode": False,
                           "do_long": True, "do_shrt": True},
    "grid_coefficient": 245.0, "grid_spacing": 0.0026, "stop_loss_liq_diff": 0.02,
    "stop_loss_pos_price_diff": 0.04, "stop_loss_pos_reduction": 0.02, "leverage": 100, "logging_level": 0,
    "min_markup": 0.0002, "max_markup": 0.0159, "min_close_qty_multiplier": 0.5, "market_stop_loss": False,
    "n_close_orders": 20, "n_entry_orders": 8, "symbol": "BTCUSD",
}

SIDE_COMMON = {"enabled": True, "ema_span_0": 60, "ema_span_1": 240, "wallet_exposure_limit": 0.8,
               "min_markup": 0.004, "markup_range": 0.02, "n_close_orders": 7, "backwards_tp": True}
UNSTUCK = {"auto_unstuck_threshold": 0.1, "auto_unstuck_ema_dist": 0.002, "auto_unstuck_delay_minutes": 30,
           "auto_unstuck_qty_pct": 0.03}
SIDES = {
    "recursive_grid": {**SIDE_COMMON, "initial_qty_pct": 0.02, "initial_eprice_ema_dist": -0.001,
                       "ddown_factor": 0.7, "rentry_pprice_dist": 0.015,
                       "rentry_pprice_dist_wallet_exposure_weighting": 2.0, **UNSTUCK},
    "neat_grid": {**SIDE_COMMON, "initial_qty_pct": 0.02, "initial_eprice_ema_dist": 0.001, "grid_span": 0.25,
                  "eprice_exp_base": 1.3, "eqty_exp_base": 1.7, "max_n_entry_orders": 9, **UNSTUCK},
    "clock": {**SIDE_COMMON, "delay_between_fills_minutes_entry": 90, "delay_between_fills_minutes_close": 45,
              "delay_weight_entry": 10, "delay_weight_close": 5, "ema_dist_entry": 0.004,
              "ema_dist_close": 0.006, "qty_pct_entry": 0.03, "qty_pct_close": 0.04,
              "we_multiplier_entry": 0.6, "we_multiplier_close": 0.3},
}


def mode_config(mode):
    short = {**SIDES[mode], "enabled": False, "wallet_exposure_limit": 0.4}
    return {"mode": mode, "config_name": f"t_{mode}", "symbol": "BTCUSDT", "long": dict(SIDES[mode]), "short": short}


def error_of(data, source="cfg.json"):
    with pytest.raises(ConfigError) as e:
        parse_live_config(data, source)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{source}: ")
    return msg


def edited(data, path, value=None, delete=False):
    data = copy.deepcopy(data)
    *parents, leaf = path.split(".")
    node = data
    for k in parents:
        node = node[k]
    if delete:
        del node[leaf]
    else:
        node[leaf] = value
    return data


# ---- shipped configs and the seed ---------------------------------------------------------------
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_configs_load(path):
    cfg = load_live_config(path)
    assert cfg.data == json.loads(path.read_text())  # nothing defaulted or reshaped
    assert cfg.source == str(path)


def test_one_shipped_example_per_mode_and_both_classic_defaults():
    modes = {load_live_config(p).mode for p in SHIPPED}
    assert modes == {"classic", "recursive_grid", "neat_grid", "clock"}
    for name in ("bybit/BTCUSD_default.json", "binance/ETHUSDT_default.json"):
        cfg = load_live_config(ROOT / "configs" / "live" / name)
        assert cfg.mode == "classic" and set(cfg.data) == set(SEED_000)
        assert set(cfg.data["indicator_settings"]) == set(SEED_000["indicator_settings"])


def test_bybit_default_is_the_seed_reference_config():
    assert load_live_config(ROOT / "configs/live/bybit/BTCUSD_default.json").data == SEED_000


def test_seed_reference_parses_as_classic():
    cfg = parse_live_config(SEED_000, "seed")
    assert (cfg.mode, cfg.config_name, cfg.symbol) == ("classic", "BTCUSD_default", "BTCUSD")


@pytest.mark.parametrize("mode", sorted(SIDES))
def test_every_mode_parses(mode):
    cfg = parse_live_config(mode_config(mode), "m.json")
    assert cfg.mode == mode and cfg.config_name == f"t_{mode}"


# ---- one error line per problem -----------------------------------------------------------------
def test_unknown_key():
    msg = error_of({**SEED_000, "grid_spasing": 0.01})
    assert "unknown key 'grid_spasing'" in msg and "grid_spacing" in msg  # lists what is allowed


def test_unknown_nested_key_is_named_with_its_path():
    msg = error_of(edited(SEED_000, "indicator_settings.tick_ema.length", 5))
    assert "unknown key 'indicator_settings.tick_ema.length'" in msg and "span" in msg


@pytest.mark.parametrize("path", ["grid_spacing", "symbol", "indicator_settings.do_shrt",
                                  "indicator_settings.tick_ema.spread"])
def test_missing_key_classic(path):
    msg = error_of(edited(SEED_000, path, delete=True))
    assert f"missing key '{path}'" in msg


def test_missing_key_mode_side():
    msg = error_of(edited(mode_config("neat_grid"), "short.grid_span", delete=True))
    assert msg == "cfg.json: missing key 'short.grid_span' (a number > 0 and < 1)"


def test_missing_side_object():
    msg = error_of(edited(mode_config("clock"), "short", delete=True))
    assert "missing key 'short'" in msg


@pytest.mark.parametrize("path,value,allowed", [
    ("grid_spacing", "abc", "a number > 0 and < 1"),
    ("cross_mode", 1, "true or false"),
    ("n_close_orders", 2.5, "an integer between 1 and 100"),
    ("symbol", 5, "a non-empty string"),
    ("indicator_settings.tick_ema", 5, "an object {...}"),
    ("indicator_settings.do_long", "yes", "true or false"),
    ("leverage", True, "a number between 1 and 125"),
])
def test_wrong_type(path, value, allowed):
    msg = error_of(edited(SEED_000, path, value))
    assert msg == f"cfg.json: key '{path}': must be {allowed}, got {value!r}".replace("True", "true")


@pytest.mark.parametrize("path,value", [
    ("grid_spacing", 0.0), ("grid_spacing", 1.0), ("balance_pct", 1.5), ("balance_pct", 0),
    ("stop_loss_pos_reduction", -0.1), ("n_entry_orders", 101), ("leverage", 0.5),
    ("indicator_settings.tick_ema.span", 0.5), ("min_markup", float("nan")), ("max_markup", float("inf")),
])
def test_out_of_range_classic(path, value):
    msg = error_of(edited(SEED_000, path, value))
    assert msg.startswith(f"cfg.json: key '{path}': must be ")
    assert msg.endswith(f"got {value!r}")


@pytest.mark.parametrize("mode,key,value", [
    ("recursive_grid", "wallet_exposure_limit", 0), ("recursive_grid", "ddown_factor", -1),
    ("neat_grid", "grid_span", 1), ("neat_grid", "eqty_exp_base", 0), ("clock", "qty_pct_close", 1.01),
    ("clock", "ema_dist_entry", -1), ("recursive_grid", "auto_unstuck_threshold", 1),
])
def test_out_of_range_mode(mode, key, value):
    msg = error_of(edited(mode_config(mode), f"long.{key}", value))
    assert msg.startswith(f"cfg.json: key 'long.{key}': must be a number")
    assert msg.endswith(f"got {value!r}")


def test_max_markup_below_min_markup():
    msg = error_of({**SEED_000, "min_markup": 0.01, "max_markup": 0.005})
    assert "key 'max_markup'" in msg and "min_markup" in msg


def test_integer_counts_accept_whole_floats():
    cfg = parse_live_config({**SEED_000, "n_close_orders": 12.0}, "x")
    assert cfg.data["n_close_orders"] == 12 and isinstance(cfg.data["n_close_orders"], int)


@pytest.mark.parametrize("mode,key,owner", [
    ("recursive_grid", "grid_span", "neat_grid"),
    ("neat_grid", "ddown_factor", "recursive_grid"),
    ("clock", "initial_qty_pct", "recursive_grid / neat_grid"),
    ("recursive_grid", "qty_pct_entry", "clock"),
])
def test_key_of_another_mode_names_its_mode(mode, key, owner):
    msg = error_of(edited(mode_config(mode), f"short.{key}", 0.5))
    assert f"unknown key 'short.{key}'" in msg and f"belongs to mode {owner}" in msg and mode in msg


def test_classic_key_in_mode_config_and_mode_key_in_classic():
    msg = error_of({**mode_config("clock"), "grid_spacing": 0.01})
    assert "unknown key 'grid_spacing'" in msg and "classic" in msg
    msg = error_of({**SEED_000, "long": SIDES["clock"]})
    assert "unknown key 'long'" in msg and '"mode"' in msg
    msg = error_of({**SEED_000, "wallet_exposure_limit": 1.0})
    assert "unknown key 'wallet_exposure_limit'" in msg and '"long"' in msg


def test_bad_mode_value():
    msg = error_of({**mode_config("clock"), "mode": "grid"})
    assert "key 'mode'" in msg and "recursive_grid, neat_grid, clock" in msg and "'grid'" in msg


def test_not_an_object():
    assert "JSON object" in error_of([1, 2])
    assert "key 'long'" in error_of({**mode_config("clock"), "long": [1]})


def test_malformed_json_missing_file_and_non_object(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"balance_pct": 0.5,\n')
    arr = tmp_path / "arr.json"
    arr.write_text("[1, 2]")
    for path, words in ((bad, "not valid JSON ("), (tmp_path / "nope.json", "file not found"),
                        (arr, "expected a JSON object"), (tmp_path, "is a directory")):
        with pytest.raises(ConfigError) as e:
            load_live_config(path)
        assert str(e.value).startswith(f"{path}: ") and words in str(e.value) and "\n" not in str(e.value)
        if path == bad:
            assert "line 2" in str(e.value)


def test_file_errors_name_the_file_and_key(tmp_path):
    p = tmp_path / "live.json"
    p.write_text(json.dumps({**SEED_000, "ddown_factor": "x"}))
    with pytest.raises(ConfigError, match=rf"^{p}: key 'ddown_factor': must be a number between 0 and 100, got 'x'$"):
        load_live_config(p)


def test_cli_prints_config_errors_as_one_line(tmp_path):
    from click.testing import CliRunner

    from passivx.cli import main

    p = tmp_path / "live.json"
    p.write_text(json.dumps(edited(SEED_000, "indicator_settings.tick_ema.spread", -1)))
    result = CliRunner().invoke(main, ["calc", str(p), "--price", "100", "--balance", "1000",
                                       "--price-step", "0.01", "--qty-step", "0.001"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: {p}: key 'indicator_settings.tick_ema.spread': must be a number between 0 and 0.5, got -1"]


# ---- cfg vector -----------------------------------------------------------------------------------
def test_to_array_classic_indices():
    a = parse_live_config(SEED_000, "s").to_array()
    assert a.shape == (L.CFG_SIZE,) and a.dtype.kind == "f"
    expect = {L.C_MODE: L.MODE_CLASSIC, L.C_BALANCE_PCT: 0.5, L.C_ENTRY_QTY_PCT: 0.005, L.C_DDOWN_FACTOR: 0.02,
              L.C_EMA_SPAN: 10000, L.C_EMA_SPREAD: 0.001, L.C_FUNDING_COLLECT: 0, L.C_DO_LONG: 1, L.C_DO_SHORT: 1,
              L.C_GRID_COEF: 245, L.C_GRID_SPACING: 0.0026, L.C_SL_LIQ_DIFF: 0.02, L.C_SL_PPRICE_DIFF: 0.04,
              L.C_SL_POS_REDUCTION: 0.02, L.C_LEVERAGE: 100, L.C_MIN_MARKUP: 0.0002, L.C_MAX_MARKUP: 0.0159,
              L.C_MIN_CLOSE_QTY_MULT: 0.5, L.C_MARKET_SL: 0, L.C_N_CLOSE: 20, L.C_N_ENTRY: 8}
    for i, v in expect.items():
        assert a[i] == v, i
    assert sum(1 for i in range(L.CFG_SIZE) if a[i] != 0 and i not in expect) == 0


def test_to_array_classic_booleans():
    data = edited(edited(SEED_000, "indicator_settings.do_shrt", False), "market_stop_loss", True)
    data = edited(data, "indicator_settings.funding_fee_collect_mode", True)
    a = parse_live_config(data, "s").to_array()
    assert (a[L.C_DO_SHORT], a[L.C_MARKET_SL], a[L.C_FUNDING_COLLECT]) == (0.0, 1.0, 1.0)


@pytest.mark.parametrize("mode,code", [("recursive_grid", L.MODE_RECURSIVE), ("neat_grid", L.MODE_NEAT),
                                       ("clock", L.MODE_CLOCK)])
def test_to_array_mode_side_blocks(mode, code):
    data = mode_config(mode)
    a = parse_live_config(data, "m").to_array()
    assert a[L.C_MODE] == code
    names = {"enabled": "P_ENABLED", "wallet_exposure_limit": "P_WEL",
             "rentry_pprice_dist_wallet_exposure_weighting": "P_RENTRY_WE_WEIGHT",
             "auto_unstuck_threshold": "P_AU_THRESHOLD", "auto_unstuck_ema_dist": "P_AU_EMA_DIST",
             "auto_unstuck_delay_minutes": "P_AU_DELAY_MINUTES", "auto_unstuck_qty_pct": "P_AU_QTY_PCT",
             "delay_between_fills_minutes_entry": "P_DELAY_ENTRY",
             "delay_between_fills_minutes_close": "P_DELAY_CLOSE", "we_multiplier_entry": "P_WE_MULT_ENTRY",
             "we_multiplier_close": "P_WE_MULT_CLOSE"}
    for side, base in (("long", L.C_LONG), ("short", L.C_SHORT)):
        seen = set()
        for key, value in data[side].items():
            i = base + getattr(L, names.get(key, "P_" + key.upper()))
            assert a[i] == float(value), (side, key)
            seen.add(i)
        others = [i for i in range(base, base + L.P_SIZE) if i not in seen]
        assert not a[others].any()  # keys of other modes stay 0
    assert a[L.C_LONG + L.P_ENABLED] == 1.0 and a[L.C_SHORT + L.P_ENABLED] == 0.0
    assert a[L.C_SHORT + L.P_WEL] == 0.4
    assert not a[1:L.C_LONG].any()  # classic block untouched


# ---- save, parameter ranges, with_params -----------------------------------------------------------
def test_save_round_trip_is_atomic(tmp_path):
    cfg = parse_live_config(mode_config("neat_grid"), "m")
    path = tmp_path / "sub" / "out.json"
    save_live_config(cfg, path)
    assert load_live_config(path).data == cfg.data
    assert [p.name for p in path.parent.iterdir()] == ["out.json"]  # no temp file left behind


def test_save_failure_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot write"):
        save_live_config(parse_live_config(SEED_000, "s"), blocker / "out.json")


def test_param_ranges_are_the_validated_ranges():
    classic = param_ranges("classic")
    assert "grid_spacing" in classic and "indicator_settings.tick_ema.span" in classic
    assert "symbol" not in classic and "cross_mode" not in classic and "logging_level" not in classic
    gs = classic["grid_spacing"]
    assert (gs.lo, gs.hi, gs.lo_open, gs.hi_open) == (0, 1, True, True)
    assert classic["n_close_orders"].integer
    rec = param_ranges("recursive_grid")
    assert "long.ddown_factor" in rec and "short.ddown_factor" in rec and "long.grid_span" not in rec
    assert "long.enabled" not in rec and "long.backwards_tp" not in rec
    assert set(param_ranges("clock")) >= {"long.we_multiplier_entry", "short.delay_weight_close"}


def test_with_params_mutates_and_revalidates():
    cfg = parse_live_config(SEED_000, "s.json")
    new = with_params(cfg, {"grid_spacing": 0.01, "n_close_orders": 12.5, "indicator_settings.tick_ema.span": 500})
    assert new.data["grid_spacing"] == 0.01 and new.data["n_close_orders"] == 12  # ties to even
    assert new.data["indicator_settings"]["tick_ema"]["span"] == 500
    assert cfg.data == SEED_000  # original untouched
    assert isinstance(new, LiveConfig) and new != cfg
    with pytest.raises(ConfigError, match=r"^s.json: key 'grid_spacing': must be a number > 0 and < 1, got 2.0$"):
        with_params(cfg, {"grid_spacing": 2})
    with pytest.raises(ConfigError, match="'long.ddown_factor' is not an optimizable parameter"):
        with_params(cfg, {"long.ddown_factor": 1.0})
    m = with_params(parse_live_config(mode_config("recursive_grid"), "m"), {"short.ddown_factor": 1.25})
    assert m.data["short"]["ddown_factor"] == 1.25 and m.data["long"]["ddown_factor"] == 0.7


def test_with_params_accepts_numpy_scalars():
    import numpy as np

    new = with_params(parse_live_config(SEED_000, "s"), {"n_entry_orders": np.int64(5), "leverage": np.float64(7)})
    assert json.loads(json.dumps(new.data))["n_entry_orders"] == 5 and new.data["leverage"] == 7.0


def _full_validation(cfg, params):
    """The reference of `with_params`: set the parameters in a deep copy, validate the whole config."""
    import numbers

    data = copy.deepcopy(cfg.data)
    for name, value in params.items():
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = round(float(value)) if param_ranges(cfg.mode)[name].integer else float(value)
        *parents, leaf = name.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[leaf] = value
    return parse_live_config(data, cfg.source)


def _outcome(fn):
    try:
        cfg = fn()
    except (ConfigError, ValueError, OverflowError) as e:  # rounding NaN or inf to an integer: ValueError
        return "error", (type(e).__name__, str(e))
    return "config", (cfg.mode, cfg.config_name, cfg.symbol, cfg.source, json.dumps(cfg.data))


def test_with_params_checks_only_set_keys_and_equals_full_validation():
    """Random parameter sets, valid and not (out of range, at open bounds, non-integers, NaN, bool, text,
    max_markup below min_markup): `with_params` gives the same config (keys in the same order) or the
    same error as validating the whole mutated config, and leaves the base config untouched."""
    import random

    import numpy as np

    rng = random.Random(11)
    kinds = {"config": 0, "error": 0}
    for base in [SEED_000] + [mode_config(m) for m in SIDES]:
        cfg = parse_live_config(base, "b.json")
        ranges = list(param_ranges(cfg.mode).items())
        for _ in range(300):
            params, tame = {}, rng.random() < 0.6
            for name, f in rng.sample(ranges, rng.randint(1, min(8, len(ranges)))):
                lo, hi = f.lo, f.hi
                inside = lo + (hi - lo) * rng.random()
                wild = [lo, hi, lo - 1e-9, hi * 1.5 + 1, round(inside) + 0.5, float("nan"), float("inf"), True,
                        "0.1", None]
                params[name] = rng.choice([inside, np.float64(inside)] + ([] if tame else wild))
            expected = _outcome(lambda: _full_validation(cfg, params))
            assert _outcome(lambda: with_params(cfg, params)) == expected, params
            kinds[expected[0]] += 1
        assert cfg.data == base  # untouched
    assert min(kinds.values()) > 300  # both outcomes were exercised


# ---- the shared field-spec machinery (reused by the backtest settings) ------------------------------
def test_field_spec_messages_and_defaults():
    spec = {"days": integer(1, 30), "fee": number(0, 0.1, hi_open=True), "exchange": string("binance", "bybit"),
            "latency_ms": number(0, default=100)}
    assert check_object({"days": 3, "fee": 0.01, "exchange": "bybit"}, spec, "bt.hjson")["latency_ms"] == 100
    with pytest.raises(ConfigError, match=r"^bt.hjson: key 'exchange': must be one of 'binance', 'bybit', got 'ftx'$"):
        check_object({"days": 3, "fee": 0.01, "exchange": "ftx"}, spec, "bt.hjson")
    with pytest.raises(ConfigError, match=r"^bt.hjson: key 'fee': must be a number >= 0 and < 0.1, got 0.1$"):
        check_object({"days": 3, "fee": 0.1, "exchange": "bybit"}, spec, "bt.hjson")
    with pytest.raises(ConfigError, match=r"^bt.hjson: missing key 'days' \(an integer between 1 and 30\)$"):
        check_object({}, spec, "bt.hjson")


def test_field_custom_check_and_reader(tmp_path):
    def pair(v):
        if not (isinstance(v, list) and len(v) == 2 and v[0] <= v[1]):
            raise ValueError(f"must be a [min, max] pair, got {v!r}")
        return v
    spec = {"range": Field("custom", check=pair, describe="a [min, max] pair")}
    assert check_object({"range": [1, 2]}, spec, "s")["range"] == [1, 2]
    with pytest.raises(ConfigError, match=r"^s: key 'range': must be a \[min, max\] pair, got \[2, 1\]$"):
        check_object({"range": [2, 1]}, spec, "s")
    with pytest.raises(ConfigError, match=r"^s: missing key 'range' \(a \[min, max\] pair\)$"):
        check_object({}, spec, "s")
    p = tmp_path / "s.hjson"
    p.write_text("{a: 1}")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_config_file(p)
    import hjson
    assert read_config_file(p, hjson.loads, "hjson") == {"a": 1}


# ---- cross margin only; leverage against the market's maximum (issue 8 item 5) -----------------------
def test_isolated_margin_is_refused_with_one_line():
    msg = error_of(edited(SEED_000, "cross_mode", False))
    assert msg.startswith("cfg.json: key 'cross_mode': must be true: passivx supports cross margin only")
    assert msg.endswith("got false")
    assert parse_live_config(SEED_000, "s").data["cross_mode"] is True


def market(max_leverage):
    from passivx.markets import MarketSpec

    return MarketSpec(price_step=0.01, qty_step=0.001, max_leverage=max_leverage)


@pytest.mark.parametrize("leverage,top", [(100, 100.0), (20, 125.0), (1, 1.0)])
def test_classic_leverage_within_the_market_maximum_passes(leverage, top):
    check_leverage(parse_live_config(edited(SEED_000, "leverage", leverage), "cfg.json"), market(top), "m")


@pytest.mark.parametrize("leverage,top", [(100, 50.0), (125, 100.0), (20.5, 20.0)])
def test_classic_leverage_above_the_market_maximum_is_refused(leverage, top):
    cfg = parse_live_config(edited(SEED_000, "leverage", leverage), "cfg.json")
    with pytest.raises(ConfigError) as e:
        check_leverage(cfg, market(top), "the market binance BTCUSD")
    assert str(e.value) == (f"cfg.json: key 'leverage': {leverage:g} is above the maximum leverage {top:g} of the "
                            f"market binance BTCUSD; set it to {top:g} or less")


@pytest.mark.parametrize("mode", sorted(SIDES))
def test_grid_wallet_exposure_limits_above_the_market_maximum_are_refused(mode):
    data = edited(edited(mode_config(mode), "long.wallet_exposure_limit", 30), "short.wallet_exposure_limit", 60)
    cfg = parse_live_config(data, "g.json")  # short disabled: its limit opens nothing
    check_leverage(cfg, market(30.0), "m")
    with pytest.raises(ConfigError, match=r"^g.json: key 'long.wallet_exposure_limit': 30 is above the maximum "
                                          r"leverage 25 of m \(.*could never be margined\); set it to 25 or less$"):
        check_leverage(cfg, market(25.0), "m")
    both = parse_live_config(edited(data, "short.enabled", True), "g.json")
    with pytest.raises(ConfigError, match=r"key 'short.wallet_exposure_limit': 60 is above the maximum leverage 50"):
        check_leverage(both, market(50.0), "m")
    check_leverage(both, market(90.0), "m")
    # each side fits, together they do not: both share the cross margin of the symbol
    with pytest.raises(ConfigError, match=r"keys 'long.wallet_exposure_limit' \+ 'short.wallet_exposure_limit': "
                                          r"30 \+ 60 is above the maximum leverage 75 of m .*; lower them to add "
                                          r"up to 75 or less$"):
        check_leverage(both, market(75.0), "m")


def test_backtest_refuses_leverage_above_the_market_maximum(tmp_path):
    from passivx.backtest.runner import run_backtest
    from passivx.config.backtest import load_backtest_settings
    from passivx.data.importers import import_files

    rows = [f"{1704067200000 + 1000 * i},0,0,{i},{100 + i % 3},0.01,buy,False,BTCUSD" for i in range(20)]
    csv = tmp_path / "trades.csv"
    csv.write_text("ts_ms,local_ts_ns,event_ts_ms,trade_id,price,qty,side,is_buyer_maker,symbol\n"
                   + "\n".join(rows) + "\n")
    import_files([csv], "testex", "BTCUSD", tmp_path / "cache")
    settings = tmp_path / "bt.hjson"
    settings.write_text(json.dumps({"exchange": "testex", "symbol": "BTCUSD", "start_date": "2024-01-01",
                                    "end_date": "2024-01-01", "starting_balance": 1000, "cache_dir": "cache",
                                    "market": {"price_step": 0.01, "qty_step": 0.001, "max_leverage": 50}}))
    with pytest.raises(ConfigError, match=r"key 'leverage': 100 is above the maximum leverage 50 of the market "
                                          r"testex BTCUSD; set it to 50 or less$"):
        run_backtest(load_backtest_settings(settings), parse_live_config(SEED_000, "seed.json"), progress=False)
