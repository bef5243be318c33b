"""The result folder of a backtest and its terminal summary.

`backtests/{exchange}/{symbol}/{config_name}/{UTC timestamp}/` (or `--out DIR`) holds `stats.json`,
`fills.csv` (every fill with the position, balance and equity after it), `equity.csv` (the sampled
curve), `config.json` (the live config), `settings.json` (the settings with the market spec used) and
the PNG plots. Everything is written into a hidden temporary folder beside the destination, which is
renamed into place at the end (or, for an existing `--out` folder, moved in file by file with
`stats.json` last), so an interrupted run leaves nothing that looks complete.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from passivx.backtest import layout as B
from passivx.backtest.runner import BacktestResult
from passivx.errors import PassivxError


def _utc(ms: float) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def default_destination(result: BacktestResult, root: str | Path = "backtests") -> Path:
    """`root/{exchange}/{symbol}/{config_name}/{UTC timestamp}`, made unique if it exists."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    base = Path(root) / result.exchange / result.symbol / result.config.config_name / stamp
    dest, n = base, 1
    while dest.exists():
        n += 1
        dest = base.with_name(f"{stamp}-{n}")
    return dest


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def _write_fills(path: Path, fills: np.ndarray) -> None:
    sides = {1.0: "buy", -1.0: "sell"}
    pos_sides = {1.0: "long", -1.0: "short"}
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(("time_utc",) + B.FILL_COLUMNS)
        for row in fills:
            values = [repr(float(v)) for v in row]
            values[B.F_T] = str(int(row[B.F_T]))
            values[B.F_KIND] = B.FILL_KIND_NAMES[int(row[B.F_KIND])]
            values[B.F_SIDE] = sides[row[B.F_SIDE]]
            values[B.F_POS_SIDE] = pos_sides[row[B.F_POS_SIDE]]
            values[B.F_TAKER] = str(int(row[B.F_TAKER]))
            out.writerow([_utc(row[B.F_T])] + values)


def _write_samples(path: Path, samples: np.ndarray) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(("time_utc",) + B.SAMPLE_COLUMNS)
        for row in samples:
            out.writerow([_utc(row[B.SM_T]), str(int(row[B.SM_T]))] + [repr(float(v)) for v in row[1:]])


def _fill(tmp: Path, result: BacktestResult, plots: bool) -> None:
    _write_fills(tmp / "fills.csv", result.fills)
    _write_samples(tmp / "equity.csv", result.samples)
    _write_json(tmp / "config.json", result.config.data)
    _write_json(tmp / "settings.json", {**result.settings.data, "market_spec": result.market.to_dict()})
    if plots:
        from passivx.backtest.plots import write_plots

        write_plots(tmp, result)
    _write_json(tmp / "stats.json", result.stats)


def write_results(result: BacktestResult, out: str | Path | None = None, plots: bool = True) -> Path:
    """Write the result files into `out` (or the default folder); return the folder."""
    dest = Path(out) if out is not None else default_destination(result)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
    except OSError as e:
        raise PassivxError(f"{dest}: cannot create the result folder ({e.strerror or e})") from None
    try:
        _fill(tmp, result, plots)
        if not dest.exists():
            os.rename(tmp, dest)
            return dest
        if not dest.is_dir():
            raise PassivxError(f"{dest}: exists and is not a folder; choose another --out")
        names = sorted(p.name for p in tmp.iterdir())
        names.remove("stats.json")
        for name in names + ["stats.json"]:
            os.replace(tmp / name, dest / name)
        tmp.rmdir()
        return dest
    except OSError as e:
        raise PassivxError(f"{dest}: cannot write the results ({e.strerror or e})") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def summary(result: BacktestResult) -> str:
    """A compact table of the main statistics."""
    s = result.stats
    quote = "coin" if result.market.inverse else "quote"
    rows = [
        ("config", f"{s['config_name']} ({s['mode']})"),
        ("data", (f"{s['exchange']} {s['symbol']} {s['data']} {s['start_date']}..{s['end_date']} "
                  f"({s['days']:.2f} days, {s['trades_processed']:,} rows)")),
        ("balance", f"{s['starting_balance']:.8g} -> {s['final_balance']:.8g} {quote}"),
        ("equity", f"{s['final_equity']:.8g}  gain {s['gain']:+.4%}  adg {s['adg']:+.4%}"),
        ("max drawdown", f"{s['max_drawdown']:.4%}"),
        ("closest liquidation", (f"{s['closest_liquidation']:.4%}" if s["closest_liquidation"] < 1.0
                                 else "none within 100 % of the price") + ("  LIQUIDATED" if s["liquidated"] else "")),
        ("hours stuck max", f"{s['hours_stuck_max']:.2f}"),
        ("fills", (f"{s['n_fills']:,} (entries {s['n_entries']:,}, closes {s['n_closes']:,}, stop losses "
                   f"{s['n_stop_losses']:,}, unstuck {s['n_unstuck']:,})  {s['fills_per_day']:.1f}/day")),
        ("fees / volume", f"{s['fees_paid']:.8g} / {s['volume']:.8g}"),
        ("funding", f"{s['funding']:.8g} ({s['funding_source']})"),
        ("replay", f"{s['seconds']:.3f} s" + (f", {s['rows_per_second']:,.0f} rows/s" if s["rows_per_second"] else "")),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
