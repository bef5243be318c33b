"""Live configs (JSON): load, validate, save, mutate, and turn into the calculator's `cfg` vector.

Two shapes, told apart by the `mode` key:

- **classic** (no `mode` key): exactly the keys of the seed-000 reference config, all required:
  balance_pct, config_name, cross_mode, entry_qty_pct, ddown_factor,
  indicator_settings{tick_ema{span, spread}, funding_fee_collect_mode, do_long, do_shrt}, grid_coefficient,
  grid_spacing, stop_loss_liq_diff, stop_loss_pos_price_diff, stop_loss_pos_reduction, leverage,
  logging_level, min_markup, max_markup (>= min_markup), min_close_qty_multiplier, market_stop_loss,
  n_close_orders, n_entry_orders, symbol.
- **grid modes** (`"mode": "recursive_grid" | "neat_grid" | "clock"`): keys mode, config_name, symbol,
  long, short. `long` and `short` each hold every key of their mode (all required):
  - every mode: enabled, ema_span_0, ema_span_1, wallet_exposure_limit, min_markup, markup_range,
    n_close_orders, backwards_tp;
  - recursive_grid: initial_qty_pct, initial_eprice_ema_dist, ddown_factor, rentry_pprice_dist,
    rentry_pprice_dist_wallet_exposure_weighting, auto_unstuck_threshold, auto_unstuck_ema_dist,
    auto_unstuck_delay_minutes, auto_unstuck_qty_pct;
  - neat_grid: initial_qty_pct, initial_eprice_ema_dist, grid_span, eprice_exp_base, eqty_exp_base,
    max_n_entry_orders, and the four auto_unstuck_* keys;
  - clock: delay_between_fills_minutes_entry/_close, delay_weight_entry/_close, ema_dist_entry/_close,
    qty_pct_entry/_close, we_multiplier_entry/_close (no auto-unstuck, no initial entry keys).
  A key of another mode (or of the classic config) is an error naming where it belongs.

`cross_mode` must be true: passivx models cross margin only (liquidation, stop losses), and the live
engine sets cross margin. `leverage` and `wallet_exposure_limit` are checked against a market's
`max_leverage` where a config meets a market (`passivx.config.leverage.check_leverage`).

Counts of the modes (n_close_orders, max_n_entry_orders) may be floats (used as `int(round(x))`, seed
002); the classic counts are integers. Ranges are in `CLASSIC` / `SIDE_FIELDS`; `param_ranges(mode)` lists
the numeric ones by dotted name for the optimizer, and `with_params` applies and re-validates changes.
"""
from __future__ import annotations

import json
import numbers
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from passivx.calc import layout as L
from passivx.config.validate import Field, boolean, check_object, integer, number, obj, read_config_file, string
from passivx.data.atomic import write_bytes_atomic
from passivx.errors import ConfigError

MODES = ("classic", "recursive_grid", "neat_grid", "clock")
GRID_MODES = MODES[1:]
_MODE_CODES = {"classic": L.MODE_CLASSIC, "recursive_grid": L.MODE_RECURSIVE, "neat_grid": L.MODE_NEAT,
               "clock": L.MODE_CLOCK}

_dist = number(-1, 1, lo_open=True, hi_open=True)  # price offset from an EMA band, as a fraction
_pct = number(0, 1, lo_open=True)  # a fraction of balance, > 0


def _cross_margin_only(value: bool) -> bool:
    if not value:
        raise ValueError("must be true: passivx supports cross margin only (isolated margin is not "
                         "implemented; the live engine sets cross margin), got false")
    return value


CLASSIC: dict[str, Field] = {
    "balance_pct": _pct,
    "config_name": string(),
    "cross_mode": Field("bool", check=_cross_margin_only),
    "entry_qty_pct": _pct,
    "ddown_factor": number(0, 100),
    "indicator_settings": obj({
        "tick_ema": obj({"span": number(1, 1e7), "spread": number(0, 0.5)}),
        "funding_fee_collect_mode": boolean(),
        "do_long": boolean(),
        "do_shrt": boolean(),
    }),
    "grid_coefficient": number(0, 10_000),
    "grid_spacing": number(0, 1, lo_open=True, hi_open=True),
    "stop_loss_liq_diff": number(0, 1),
    "stop_loss_pos_price_diff": number(0, 10),
    "stop_loss_pos_reduction": number(0, 1),
    "leverage": number(1, 125),
    "logging_level": integer(0, 3),
    "min_markup": number(0, 1, hi_open=True),
    "max_markup": number(0, 1, hi_open=True),
    "min_close_qty_multiplier": number(0, 100),
    "market_stop_loss": boolean(),
    "n_close_orders": integer(1, 100),
    "n_entry_orders": integer(0, 100),
    "symbol": string(),
}

_COMMON = {
    "enabled": boolean(),
    "ema_span_0": number(1, 1e6),
    "ema_span_1": number(1, 1e6),
    "wallet_exposure_limit": number(0, 100, lo_open=True),
    "min_markup": number(0, 1, hi_open=True),
    "markup_range": number(0, 1),
    "n_close_orders": number(1, 100),
    "backwards_tp": boolean(),
}
_INITIAL = {"initial_qty_pct": _pct, "initial_eprice_ema_dist": _dist}
_UNSTUCK = {
    "auto_unstuck_threshold": number(0, 1, hi_open=True),
    "auto_unstuck_ema_dist": _dist,
    "auto_unstuck_delay_minutes": number(0, 1e6),
    "auto_unstuck_qty_pct": number(0, 1),
}
SIDE_FIELDS: dict[str, dict[str, Field]] = {
    "recursive_grid": {**_COMMON, **_INITIAL,
                       "ddown_factor": number(0, 100),
                       "rentry_pprice_dist": number(0, 1, lo_open=True, hi_open=True),
                       "rentry_pprice_dist_wallet_exposure_weighting": number(0, 1000),
                       **_UNSTUCK},
    "neat_grid": {**_COMMON, **_INITIAL,
                  "grid_span": number(0, 1, lo_open=True, hi_open=True),
                  "eprice_exp_base": number(0, 100, lo_open=True),
                  "eqty_exp_base": number(0, 100, lo_open=True),
                  "max_n_entry_orders": number(1, 100),
                  **_UNSTUCK},
    "clock": {**_COMMON,
              "delay_between_fills_minutes_entry": number(0, 1e6),
              "delay_between_fills_minutes_close": number(0, 1e6),
              "delay_weight_entry": number(0, 10_000),
              "delay_weight_close": number(0, 10_000),
              "ema_dist_entry": _dist,
              "ema_dist_close": _dist,
              "qty_pct_entry": _pct,
              "qty_pct_close": _pct,
              "we_multiplier_entry": number(0, 100),
              "we_multiplier_close": number(0, 100)},
}


def _mode_spec(mode: str) -> dict[str, Field]:
    side = obj(SIDE_FIELDS[mode])
    return {"mode": string(*GRID_MODES), "config_name": string(), "symbol": string(), "long": side, "short": side}


# cfg vector indices
_CLASSIC_INDEX = {
    "balance_pct": L.C_BALANCE_PCT, "entry_qty_pct": L.C_ENTRY_QTY_PCT, "ddown_factor": L.C_DDOWN_FACTOR,
    "indicator_settings.tick_ema.span": L.C_EMA_SPAN, "indicator_settings.tick_ema.spread": L.C_EMA_SPREAD,
    "indicator_settings.funding_fee_collect_mode": L.C_FUNDING_COLLECT,
    "indicator_settings.do_long": L.C_DO_LONG, "indicator_settings.do_shrt": L.C_DO_SHORT,
    "grid_coefficient": L.C_GRID_COEF, "grid_spacing": L.C_GRID_SPACING, "stop_loss_liq_diff": L.C_SL_LIQ_DIFF,
    "stop_loss_pos_price_diff": L.C_SL_PPRICE_DIFF, "stop_loss_pos_reduction": L.C_SL_POS_REDUCTION,
    "leverage": L.C_LEVERAGE, "min_markup": L.C_MIN_MARKUP, "max_markup": L.C_MAX_MARKUP,
    "min_close_qty_multiplier": L.C_MIN_CLOSE_QTY_MULT, "market_stop_loss": L.C_MARKET_SL,
    "n_close_orders": L.C_N_CLOSE, "n_entry_orders": L.C_N_ENTRY,
}
_SIDE_INDEX = {
    "enabled": L.P_ENABLED, "ema_span_0": L.P_EMA_SPAN_0, "ema_span_1": L.P_EMA_SPAN_1,
    "wallet_exposure_limit": L.P_WEL, "initial_qty_pct": L.P_INITIAL_QTY_PCT,
    "initial_eprice_ema_dist": L.P_INITIAL_EPRICE_EMA_DIST, "min_markup": L.P_MIN_MARKUP,
    "markup_range": L.P_MARKUP_RANGE, "n_close_orders": L.P_N_CLOSE_ORDERS, "backwards_tp": L.P_BACKWARDS_TP,
    "ddown_factor": L.P_DDOWN_FACTOR, "rentry_pprice_dist": L.P_RENTRY_PPRICE_DIST,
    "rentry_pprice_dist_wallet_exposure_weighting": L.P_RENTRY_WE_WEIGHT, "grid_span": L.P_GRID_SPAN,
    "eprice_exp_base": L.P_EPRICE_EXP_BASE, "eqty_exp_base": L.P_EQTY_EXP_BASE,
    "max_n_entry_orders": L.P_MAX_N_ENTRY_ORDERS, "auto_unstuck_threshold": L.P_AU_THRESHOLD,
    "auto_unstuck_ema_dist": L.P_AU_EMA_DIST, "auto_unstuck_delay_minutes": L.P_AU_DELAY_MINUTES,
    "auto_unstuck_qty_pct": L.P_AU_QTY_PCT, "delay_between_fills_minutes_entry": L.P_DELAY_ENTRY,
    "delay_between_fills_minutes_close": L.P_DELAY_CLOSE, "delay_weight_entry": L.P_DELAY_WEIGHT_ENTRY,
    "delay_weight_close": L.P_DELAY_WEIGHT_CLOSE, "ema_dist_entry": L.P_EMA_DIST_ENTRY,
    "ema_dist_close": L.P_EMA_DIST_CLOSE, "qty_pct_entry": L.P_QTY_PCT_ENTRY,
    "qty_pct_close": L.P_QTY_PCT_CLOSE, "we_multiplier_entry": L.P_WE_MULT_ENTRY,
    "we_multiplier_close": L.P_WE_MULT_CLOSE,
}


@dataclass(frozen=True)
class LiveConfig:
    """A validated live config. `data` is the validated JSON object (treat it as read-only)."""

    mode: str
    config_name: str
    symbol: str
    data: dict
    source: str = field(default="<config>", compare=False)

    def to_array(self):
        """The float64 `cfg` vector of `passivx.calc.layout` (imports numpy lazily)."""
        import numpy as np

        cfg = np.zeros(L.CFG_SIZE)
        cfg[L.C_MODE] = _MODE_CODES[self.mode]
        if self.mode == "classic":
            for path, i in _CLASSIC_INDEX.items():
                cfg[i] = float(_get(self.data, path))
        else:
            for side, base in (("long", L.C_LONG), ("short", L.C_SHORT)):
                for key, value in self.data[side].items():
                    cfg[base + _SIDE_INDEX[key]] = float(value)
        return cfg


def parse_live_config(data: Any, source: str = "<config>") -> LiveConfig:
    """Validate a parsed live config; `source` names it in error messages (usually the file path)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a live config must be a JSON object, got {type(data).__name__}")
    if "mode" in data:
        mode = data["mode"]
        if mode not in GRID_MODES:
            raise ConfigError(f"{source}: key 'mode': must be one of {', '.join(GRID_MODES)} "
                              f"(leave it out for a classic config), got {mode!r}")
        valid = check_object(data, _mode_spec(mode), source, unknown_hint=lambda k: _owner_hint(k, mode))
    else:
        mode = "classic"
        valid = check_object(data, CLASSIC, source, unknown_hint=lambda k: _owner_hint(k, mode))
        if valid["max_markup"] < valid["min_markup"]:
            raise ConfigError(f"{source}: key 'max_markup': must be >= min_markup ({valid['min_markup']}), "
                              f"got {valid['max_markup']}")
    return LiveConfig(mode, valid["config_name"], valid["symbol"], valid, source)


def load_live_config(path: str | Path) -> LiveConfig:
    """Read and validate a live config JSON file."""
    return parse_live_config(read_config_file(path), str(path))


def save_live_config(cfg: LiveConfig, path: str | Path) -> None:
    """Write `cfg` as indented JSON, atomically (temp file in the same directory, then rename)."""
    p = Path(path)
    try:
        write_bytes_atomic(p, (json.dumps(cfg.data, indent=4) + "\n").encode())
    except OSError as e:
        raise ConfigError(f"{p}: cannot write the config ({e.strerror or e})") from None


def param_ranges(mode: str) -> dict[str, Field]:
    """Optimizable (numeric) parameters of `mode` by dotted name ("grid_spacing", "long.ddown_factor"),
    each with its validated range (`Field.lo`/`hi`/`lo_open`/`hi_open`/`integer`, `Field.contains`)."""
    return {name: f for name, (f, _) in _params(mode).items()}


@lru_cache(maxsize=None)
def _params(mode: str) -> dict[str, tuple[Field, tuple[str, ...]]]:
    """`param_ranges(mode)` with each parameter's path of keys (computed once per mode; read-only)."""
    if mode == "classic":
        fields = {k: f for k, f in _flatten(CLASSIC).items() if f.kind in ("number", "int") and k != "logging_level"}
    elif mode in GRID_MODES:
        fields = {f"{side}.{k}": f for side in ("long", "short") for k, f in SIDE_FIELDS[mode].items()
                  if f.kind in ("number", "int")}
    else:
        raise ConfigError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
    return {name: (f, tuple(name.split("."))) for name, f in fields.items()}


def with_params(config: LiveConfig, params: dict[str, float]) -> LiveConfig:
    """A copy of `config` with the given parameters (dotted names of `param_ranges`) set, re-validated.
    Integer parameters are rounded (ties to even).

    The rest of a validated config stays valid, so only the set keys (and max_markup >= min_markup) are
    checked; on any problem the whole config is validated (`parse_live_config`), which raises its error.
    Objects holding no set key are shared with `config` (both read-only)."""
    known = _params(config.mode)
    data = dict(config.data)
    ok = True
    for name, value in params.items():
        entry = known.get(name)
        if entry is None:
            raise ConfigError(f"{config.source}: {name!r} is not an optimizable parameter of a {config.mode} "
                              f"config; known: {', '.join(known)}")
        f, (*parents, leaf) = entry
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = round(float(value)) if f.integer else float(value)
        node, base = data, config.data
        for key in parents:
            base = base[key]
            if node[key] is base:  # still the object of `config`: copy it before setting a key in it
                node[key] = dict(base)
            node = node[key]
        try:
            node[leaf] = f.validate(value)
        except ValueError:
            node[leaf], ok = value, False
    if not ok or (config.mode == "classic" and data["max_markup"] < data["min_markup"]):
        return parse_live_config(data, config.source)  # raises the complete validation's error
    return LiveConfig(config.mode, config.config_name, config.symbol, data, config.source)


def _get(data: dict, path: str) -> Any:
    for key in path.split("."):
        data = data[key]
    return data


def _flatten(spec: dict[str, Field], prefix: str = "") -> dict[str, Field]:
    out = {}
    for key, f in spec.items():
        if f.kind == "object":
            out.update(_flatten(f.fields or {}, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = f
    return out


def _owner_hint(key_path: str, mode: str) -> str | None:
    """Where an unknown key belongs when it is a key of the classic config or of another mode."""
    *parents, key = key_path.split(".")
    owners = [m for m in GRID_MODES if key in SIDE_FIELDS[m]]
    if not parents:
        if mode == "classic" and key in ("long", "short"):
            return f'it belongs to the grid modes ({", ".join(GRID_MODES)}), which need a "mode" key'
        if mode != "classic" and key in CLASSIC:
            return f'it belongs to the classic config (no "mode" key), not to mode {mode}'
        if owners:
            return f'it is a per-side key of mode {" / ".join(owners)}: put it under "long" and "short"'
    elif mode != "classic" and parents[0] in ("long", "short"):
        if owners:
            return f"it belongs to mode {' / '.join(owners)}, not to {mode}"
        if key in CLASSIC:
            return f'it belongs to the classic config (no "mode" key), not to mode {mode}'
    return None
