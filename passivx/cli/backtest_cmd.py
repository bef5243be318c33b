"""`passivx backtest SETTINGS.hjson --config LIVE.json`: replay cached data through one live config."""
from __future__ import annotations

import os
import re
import sys

import click


@click.command()
@click.argument("settings_path", metavar="SETTINGS.hjson", type=click.Path(dir_okay=False))
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Live config (JSON) to backtest. Without it the Jackrabbit optimizer runs (`passivx optimize`).")
@click.option("--jit", is_flag=True, help="Compile the engine with numba (fast). Without it the same code "
                                          "runs as plain Python (slow; identical results).")
@click.option("--start", default=None, help="First UTC day, YYYY-MM-DD (overrides start_date).")
@click.option("--end", default=None, help="Last UTC day, YYYY-MM-DD (overrides end_date).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write the result files into this folder (default backtests/EXCHANGE/SYMBOL/CONFIG/TIME).")
@click.option("--overwrite", is_flag=True, help="Let --out replace the contents of a folder that holds files.")
@click.option("--force", is_flag=True, help="Backtest a config on the data of another symbol.")
@click.option("--plots/--no-plots", default=True, show_default=True, help="Write the PNG plots.")
@click.option("--exhaustive", is_flag=True,
              help="Reference mode: recompute the orders at every decision instead of only when they can "
                   "change (slower; the fills must be identical, a check of the shortcuts on your data).")
def backtest(settings_path: str, config_path: str | None, jit: bool, start: str | None, end: str | None,
             out_dir: str | None, overwrite: bool, force: bool, plots: bool, exhaustive: bool) -> None:
    """Backtest a live config over the cached trades (or candles) the SETTINGS.hjson names.

    Prints a summary and writes stats.json, fills.csv, equity.csv, daily.csv, config.json, settings.json,
    plots and report.html into the result folder. Data missing from the cache is fetched (binance,
    bybit); the synthetic set is generated."""
    if not jit and "numba" not in sys.modules:
        os.environ["NUMBA_DISABLE_JIT"] = "1"  # must be set before numba is first imported
    from passivx.config.backtest import load_backtest_settings
    from passivx.config.live import load_live_config
    from passivx.errors import ConfigError

    settings = load_backtest_settings(settings_path).with_dates(start, end)
    if config_path is None:
        if exhaustive:
            raise ConfigError("--exhaustive needs --config (the optimizer always runs the fast engine)")
        from passivx.optimize.run import Options, run_optimizer

        if not jit:
            click.echo("note: plain Python (no --jit): very slow for an optimizer run; add --jit", err=True)
        run_optimizer(settings, Options(out=out_dir, plots=plots))
        return
    config = load_live_config(config_path)
    if re.sub(r"[^A-Z0-9]", "", config.symbol.upper()) != re.sub(r"[^A-Z0-9]", "", settings.symbol.upper()):
        if not force and settings.exchange != "synthetic":
            raise ConfigError(f"{config_path}: config {config.config_name} is for {config.symbol}, the data is "
                              f"{settings.exchange} {settings.symbol} (another market: price, contract and "
                              f"inverse/linear may differ); add --force to backtest it anyway")
        click.echo(f"note: config {config.config_name} is for {config.symbol}, backtested on {settings.symbol}",
                   err=True)
    if not jit:
        click.echo("note: plain Python (no --jit): slow, for checking; add --jit for speed", err=True)
    from passivx.backtest.report import check_destination, coverage_warning, summary, write_results
    from passivx.backtest.runner import run_backtest

    check_destination(out_dir, overwrite)
    result = run_backtest(settings, config, progress=True, exhaustive=exhaustive)
    dest = write_results(result, out_dir, plots=plots, overwrite=overwrite)
    click.echo(summary(result))
    warning = coverage_warning(result.stats)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"results: {dest}")
