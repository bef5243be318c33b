"""Backtest settings (hjson, as in seed 000's backtesting_settings.hjson): load and validate.

Keys (required unless a default is given):
- `exchange`, `symbol`: the cached data set (e.g. "binance" / "BTCUSDT", or "synthetic" / "BTCUSDT").
- `start_date`, `end_date`: first and last UTC day, "YYYY-MM-DD", inclusive.
- `starting_balance`: wallet balance at the start (quote currency, or coin for inverse markets).
- `latency_simulation_ms` (1000): time from the bot's decision until its orders rest on the exchange,
  0..60000.
- `data` ("trades"): replay tick `trades` or 1-minute `candles`.
- `market` ({}): overrides of the market spec (price_step, qty_step, min_qty, min_cost, c_mult, inverse,
  maker_fee, taker_fee, mm_rate, max_leverage); all of price_step and qty_step at least when the symbol
  cannot be looked up offline (imported data).
- `funding` (null): none; a number (the rate settled every 8 hours, at 00:00, 08:00 and 16:00 UTC); or
  the path of a CSV file with a header and columns `timestamp` (ms) and `rate` (a settlement each row).
  Relative paths are relative to the settings file.
- `cache_dir` (null): the data cache (default $PASSIVX_CACHE_DIR, else ./cache).
- Optimizer (issue "Jackrabbit optimizer"): `n_jackrabbit_iterations` (100); `ranges` ({}): dotted
  parameter name -> [min, max] or [min, max, step] (names of `passivx.config.live.param_ranges`);
  `constraints` ({}): any of the `CONSTRAINTS` keys; `objective` ("adg"): the stats key to maximise
  ("-key" minimises it); `validation_start_date`, `validation_end_date` (null): a range the best candidate
  is also backtested on, never used to choose it (`passivx.optimize`).
"""
from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from passivx.config.live import MODES, param_ranges
from passivx.config.validate import Field, check_object, integer, number, read_config_file, show, string
from passivx.errors import ConfigError

# constraint key -> (stats.json key, comparison the statistic must satisfy)
CONSTRAINTS: dict[str, tuple[str, str]] = {
    "min_liquidation_distance": ("closest_liquidation", ">="),
    "max_hours_stuck": ("hours_stuck_max", "<="),
    "max_drawdown": ("max_drawdown", "<="),
    "min_adg": ("adg", ">="),
}
MARKET_KEYS = ("price_step", "qty_step", "min_qty", "min_cost", "c_mult", "inverse", "maker_fee", "taker_fee",
               "mm_rate", "max_leverage")
MAX_LATENCY_MS = 60_000


def _date(value: Any) -> str:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise ValueError(f"must be a date YYYY-MM-DD, got {show(value)}")


def _market(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"must be an object {{price_step: ..., qty_step: ...}}, got {show(value)}")
    for key, v in value.items():
        if key not in MARKET_KEYS:
            raise ValueError(f"unknown key {key!r}; allowed: {', '.join(MARKET_KEYS)}")
        ok = isinstance(v, bool) if key == "inverse" else isinstance(v, (int, float)) and not isinstance(v, bool)
        if not ok:
            raise ValueError(f"{key} must be {'true or false' if key == 'inverse' else 'a number'}, got {show(v)}")
    return dict(value)


def _date_or_null(value: Any) -> str | None:
    return None if value is None else _date(value)


def _funding(value: Any) -> float | str | None:
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < 0.1:
        return float(value)
    raise ValueError(f"must be null, a rate per 8 hours (|rate| < 0.1) or a CSV file path, got {show(value)}")


def _optimizable() -> dict[str, Field]:
    names: dict[str, Field] = {}
    for mode in MODES:
        for name, f in param_ranges(mode).items():
            names.setdefault(name, f)
    return names


def _ranges(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"must be an object {{parameter: [min, max]}}, got {show(value)}")
    known = _optimizable()
    out = {}
    for name, r in value.items():
        f = known.get(name)
        if f is None:
            raise ValueError(f"{name!r} is not an optimizable parameter of any mode "
                             f"(e.g. grid_spacing, long.ddown_factor)")
        nums = isinstance(r, list) and len(r) in (2, 3) and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in r)
        if not nums:
            raise ValueError(f"{name}: must be [min, max] or [min, max, step], got {show(r)}")
        if r[0] > r[1] or (len(r) == 3 and r[2] <= 0):
            raise ValueError(f"{name}: needs min <= max and step > 0, got {show(r)}")
        if not (f.contains(r[0]) and f.contains(r[1])):
            raise ValueError(f"{name}: {show(r)} leaves the parameter's range ({f.allowed()})")
        out[name] = [float(x) for x in r]
    return out


def _constraints(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"must be an object, got {show(value)}")
    for key, v in value.items():
        if key not in CONSTRAINTS:
            raise ValueError(f"unknown constraint {key!r}; allowed: {', '.join(CONSTRAINTS)}")
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise ValueError(f"{key} must be a number, got {show(v)}")
    return {k: float(v) for k, v in value.items()}


def _path_or_null(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    raise ValueError(f"must be null or a directory path, got {show(value)}")


def _custom(check, describe: str, **default: Any) -> Field:
    return Field("custom", check=check, describe=describe, **default)


SPEC: dict[str, Field] = {
    "exchange": string(),
    "symbol": string(),
    "start_date": _custom(_date, "a date YYYY-MM-DD"),
    "end_date": _custom(_date, "a date YYYY-MM-DD"),
    "starting_balance": number(0, None, lo_open=True),
    "latency_simulation_ms": number(0, MAX_LATENCY_MS, default=1000),
    "data": string("trades", "candles", default="trades"),
    "market": _custom(_market, "an object of market spec overrides", default={}),
    "funding": _custom(_funding, "null, a rate per 8 hours or a CSV file path", default=None),
    "cache_dir": _custom(_path_or_null, "null or a directory path", default=None),
    "n_jackrabbit_iterations": integer(1, 10_000_000, default=100),
    "ranges": _custom(_ranges, "an object {parameter: [min, max]}", default={}),
    "constraints": _custom(_constraints, "an object of constraints", default={}),
    "objective": string(default="adg"),
    "validation_start_date": _custom(_date_or_null, "null or a date YYYY-MM-DD", default=None),
    "validation_end_date": _custom(_date_or_null, "null or a date YYYY-MM-DD", default=None),
}


@dataclass(frozen=True)
class BacktestSettings:
    """Validated backtest settings; `data` holds every key (defaults filled in), `source` names the file.
    Keys read as attributes (`settings.starting_balance`), except `data` itself: `settings.kind`."""

    data: dict
    source: str = field(default="<settings>", compare=False)

    def __getattr__(self, name: str) -> Any:
        data = self.__dict__.get("data")  # absent while unpickling
        if data is not None and name in SPEC:
            return data[name]
        raise AttributeError(name)

    @property
    def kind(self) -> str:
        """The data replayed: "trades" or "candles" (the `data` key)."""
        return self.data["data"]

    @property
    def start(self) -> dt.date:
        return dt.date.fromisoformat(self.data["start_date"])

    @property
    def end(self) -> dt.date:
        return dt.date.fromisoformat(self.data["end_date"])

    def resolve(self, path: str | None) -> Path | None:
        """A path from the settings, relative to the settings file's directory."""
        if path is None:
            return None
        p = Path(path).expanduser()
        return p if p.is_absolute() or self.source.startswith("<") else Path(self.source).parent / p

    def with_dates(self, start: str | None = None, end: str | None = None) -> "BacktestSettings":
        """A copy with `start_date` / `end_date` replaced (e.g. from --start / --end), re-validated."""
        data = dict(self.data)
        for key, value in (("start_date", start), ("end_date", end)):
            if value is not None:
                data[key] = value
        try:
            first, last = (dt.date.fromisoformat(str(data[k])) for k in ("start_date", "end_date"))
        except ValueError:
            first = last = None  # parse_backtest_settings names the bad date
        if (start is not None or end is not None) and first and last and last < first:
            said = [f"--start {first}" if start is not None else f"start_date {first} of {self.source}",
                    f"--end {last}" if end is not None else f"end_date {last} of {self.source}"]
            raise ConfigError(f"{said[1]} is before {said[0]}; give --start on or before --end")
        return parse_backtest_settings(data, self.source)


def parse_backtest_settings(data: Any, source: str = "<settings>") -> BacktestSettings:
    """Validate parsed settings; `source` names them in error messages (usually the file path)."""
    valid = copy.deepcopy(check_object(data, SPEC, source))
    if valid["end_date"] < valid["start_date"]:
        raise ConfigError(f"{source}: key 'end_date': {valid['end_date']} is before start_date "
                          f"{valid['start_date']}")
    return BacktestSettings(valid, source)


def load_backtest_settings(path: str | Path) -> BacktestSettings:
    """Read and validate a backtest settings hjson file."""
    import hjson

    return parse_backtest_settings(read_config_file(path, hjson.loads, "hjson"), str(path))
