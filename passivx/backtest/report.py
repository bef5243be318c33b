"""The result folder of a backtest and its terminal summary.

`backtests/{exchange}/{symbol}/{config_name}/{UTC timestamp}/` (or `--out DIR`) holds `stats.json`,
`fills.csv` (every fill with the position, balance and equity after it), `equity.csv` (the sampled
curve), `daily.csv` (per UTC day: pnl, fees, fills, equity, drawdown), `config.json` (the live config),
`settings.json` (the settings with the market spec used), the PNG plots and `report.html` (one
self-contained page: the summary, the daily table and the plots). Everything is written into a hidden
temporary folder beside the destination and renamed into place at the end, with Ctrl-C held meanwhile,
so a run's folder is complete or absent. An `--out` folder that holds files is refused unless
`--overwrite`; a default folder name taken by another run gets a suffix.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import errno
import json
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

import click

from passivx.backtest.runner import BacktestResult
from passivx.errors import PassivxError
from passivx.results import utc as _utc, write_fills, write_samples


def default_destination(result: BacktestResult, root: str | Path = "backtests") -> Path:
    """`root/{exchange}/{symbol}/{config_name}/{UTC timestamp}`; `write_results` adds a suffix (-2, -3, ...)
    when another run took that name, even one started in the same second."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    return Path(root) / result.exchange / result.symbol / result.config.config_name / stamp


def check_destination(out: str | Path | None, overwrite: bool = False) -> None:
    """Refuse an `--out` folder that already holds files (before the run, so no work is lost), unless
    `overwrite`; refuse a path that is a file."""
    if out is None:
        return
    dest = Path(out)
    if dest.exists() and not dest.is_dir():
        raise PassivxError(f"--out {dest}: exists and is not a folder; choose another --out")
    if not overwrite and dest.is_dir() and any(dest.iterdir()):
        raise PassivxError(f"--out {dest}: the folder is not empty (results of another run?); choose another "
                           f"--out or add --overwrite to replace its contents")


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, allow_nan=False) + "\n", encoding="utf-8")


DAILY_COLUMNS = ("date", "pnl", "fees", "fills", "equity", "drawdown")


def _write_daily(path: Path, daily: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(DAILY_COLUMNS)
        for row in daily:
            out.writerow([row["date"]] + [repr(row[k]) for k in DAILY_COLUMNS[1:]])


def _fill(tmp: Path, result: BacktestResult, plots: bool) -> None:
    write_fills(tmp / "fills.csv", result.fills)
    write_samples(tmp / "equity.csv", result.samples)
    _write_daily(tmp / "daily.csv", result.daily)
    _write_json(tmp / "config.json", result.config.data)
    _write_json(tmp / "settings.json", {**result.settings.data, "market_spec": result.market.to_dict()})
    if plots:
        from passivx.backtest.plots import write_plots

        write_plots(tmp, result)
    from passivx.backtest.html import write_html

    write_html(tmp / "report.html", result, summary(result, color=False))
    _write_json(tmp / "stats.json", result.stats)


def _place(tmp: Path, dest: Path, default: bool, overwrite: bool) -> Path:
    """Rename the finished folder `tmp` to `dest` (default name: the next free suffix; `--out`: an empty or
    missing folder, or with `overwrite` a full one, whose old contents are removed after the swap)."""
    if default:
        base, n = dest, 1
        while True:
            try:
                if not dest.exists():
                    os.rename(tmp, dest)  # replaces at most an empty folder; a full one raises
                    return dest
            except OSError as e:
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
            n += 1
            dest = base.with_name(f"{base.name}-{n}")
    if dest.is_dir() and any(dest.iterdir()):
        if not overwrite:
            raise PassivxError(f"--out {dest}: the folder is not empty; add --overwrite to replace its contents")
        old = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".old"))
        os.replace(dest, old / "run")
        os.rename(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
        return dest
    if dest.exists() and not dest.is_dir():
        raise PassivxError(f"{dest}: exists and is not a folder; choose another --out")
    os.replace(tmp, dest)  # a missing or empty folder
    return dest


@contextlib.contextmanager
def _deferred_interrupt():
    """Hold Ctrl-C (SIGINT) while the results are written; re-raise it once they are complete, so a run is
    either written whole or not at all and no half-closed file complains ("Exception ignored")."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def write_results(result: BacktestResult, out: str | Path | None = None, plots: bool = True,
                  overwrite: bool = False) -> Path:
    """Write the result files into `out` (or the default folder); return the folder. An `out` folder that
    holds files is refused unless `overwrite` (then its contents are replaced as a whole)."""
    dest = Path(out) if out is not None else default_destination(result)
    check_destination(out, overwrite)
    with _deferred_interrupt():
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
        except OSError as e:
            raise PassivxError(f"{dest}: cannot create the result folder ({e.strerror or e})") from None
        try:
            _fill(tmp, result, plots)
            return _place(tmp, dest, out is None, overwrite)
        except OSError as e:
            raise PassivxError(f"{dest}: cannot write the results ({e.strerror or e})") from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _span(days: float) -> str:
    return f"{days:.2f} days" if days >= 1 else f"{days * 24:.2f} h" if days * 24 >= 1 else f"{days * 1440:.1f} min"


def coverage_warning(stats: dict) -> str | None:
    """A warning when the data covers less than `runner.COVERAGE_WARN` of the requested days."""
    from passivx.backtest.runner import COVERAGE_WARN

    if stats["coverage"] >= COVERAGE_WARN:
        return None
    return (f"the data covers {_span(stats['covered_days'])} of the {stats['requested_days']} requested day(s) "
            f"({stats['coverage']:.1%}); daily figures are over the covered time only "
            f"(`passivx data info {stats['exchange']} {stats['symbol']}` shows the gaps)")


def summary(result: BacktestResult, color: bool = True) -> str:
    """A compact table of the main statistics ("LIQUIDATED" in red with `color`, on a terminal)."""
    s = result.stats
    quote = "coin" if result.market.inverse else "quote"
    liquidated = click.style("LIQUIDATED", fg="red", bold=True) if color else "LIQUIDATED"
    if s["days"] >= 1:
        daily = f"adg {s['adg']:+.4%}"
        per_day = f"  {s['fills_per_day']:.1f}/day"
    else:
        daily, per_day = "adg n/a (less than a day of data)", ""
    pf = s["profit_factor"]
    rows = [
        ("config", f"{s['config_name']} ({s['mode']})"),
        ("data", (f"{s['exchange']} {s['symbol']} {s['data']} {s['start_date']}..{s['end_date']} "
                  f"({s['trades_processed']:,} rows)")),
        ("covered", (f"{_utc(s['first_timestamp'])[:16]} .. {_utc(s['last_timestamp'])[:16]} UTC, "
                     f"{_span(s['days'])} ({s['coverage']:.1%} of {s['requested_days']} day(s))")),
        ("balance", f"{s['starting_balance']:.8g} -> {s['final_balance']:.8g} {quote}"),
        ("equity", f"{s['final_equity']:.8g}  gain {s['gain']:+.4%}  {daily}"),
        ("buy and hold", (f"{s['buy_and_hold_gain']:+.4%}" + (" in coin (the balance is the coin)" if result.market.inverse
                                                              else "") + f"  (price {s['first_price']:.8g} -> {s['last_price']:.8g}, {s['price_change']:+.2%})")),
        ("max drawdown", f"{s['max_drawdown']:.4%}  longest {s['drawdown_hours_max']:.2f} h below the peak"),
        ("sharpe / sortino", f"{_ratio(s['sharpe_ratio'])} / {_ratio(s['sortino_ratio'])} (daily returns, annualised)"),
        ("closest liquidation", (f"{s['closest_liquidation']:.4%}" if s["closest_liquidation"] < 1.0
                                 else "none within 100 % of the price") + (f"  {liquidated}" if s["liquidated"] else "")),
        ("hours stuck max", f"{s['hours_stuck_max']:.2f}"),
        ("fills", (f"{s['n_fills']:,} (entries {s['n_entries']:,}, closes {s['n_closes']:,}, stop losses "
                   f"{s['n_stop_losses']:,}, unstuck {s['n_unstuck']:,}){per_day}")),
        ("long / short", (f"{s['n_fills_long']:,} / {s['n_fills_short']:,} fills, pnl {s['pnl_long']:+.8g} / "
                          f"{s['pnl_short']:+.8g}, fees {s['fees_long']:.8g} / {s['fees_short']:.8g}")),
        ("profit factor", "n/a (no losing close)" if pf is None else f"{pf:.3f}"),
        ("fees / volume", f"{s['fees_paid']:.8g} / {s['volume']:.8g}"),
        ("funding", f"{s['funding']:.8g} ({s['funding_source']})"),
        ("replay", f"{s['seconds']:.3f} s" + (f", {s['rows_per_second']:,.0f} rows/s" if s["rows_per_second"] else "")),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
