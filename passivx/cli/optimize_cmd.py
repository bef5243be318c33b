"""`passivx optimize SETTINGS.hjson`: the Jackrabbit optimizer (also `passivx backtest SETTINGS.hjson`
without `--config`)."""
from __future__ import annotations

import os
import sys

import click

from passivx.config.live import MODES


@click.command()
@click.argument("settings_path", metavar="SETTINGS.hjson", type=click.Path(dir_okay=False))
@click.option("--iterations", type=click.IntRange(1), default=None,
              help="Candidates to evaluate (default: the settings' n_jackrabbit_iterations).")
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Local evaluating processes, the main one included (default: all cores).")
@click.option("--seed", type=click.IntRange(0), default=None, help="Random seed (default 0); same seed, same result.")
@click.option("--start", "start_config", type=click.Path(dir_okay=False), default=None,
              help="Starting candidate, a live config (default: the shipped config of the mode, ranged "
                   "parameters at the middle of their ranges).")
@click.option("--mode", type=click.Choice(MODES), default=None,
              help="Strategy mode (default: the --start config's, else the mode the ranges' keys belong to).")
@click.option("--batch", type=click.IntRange(1), default=None,
              help="Candidates drawn before the earliest of them must be back (default 8); the result depends "
                   "on it, not on the workers: raise it to at least the worker count on a big cluster.")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False), default=None,
              help="Continue the interrupted run in this folder.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Run the candidates on this Dask scheduler's workers instead of local processes.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write the run's files into this folder (default optimize/EXCHANGE/SYMBOL/MODE/TIME).")
@click.option("--jit/--no-jit", default=True, show_default=True,
              help="Compiled engine; --no-jit runs plain Python (very slow, identical results).")
@click.option("--plots/--no-plots", default=True, show_default=True, help="Write the PNG plots of the best.")
def optimize(settings_path: str, iterations: int | None, workers: int | None, seed: int | None,
             start_config: str | None, mode: str | None, batch: int | None, resume_dir: str | None,
             scheduler: str | None, out_dir: str | None, jit: bool, plots: bool) -> None:
    """Search live configs within the SETTINGS.hjson ranges for the best objective meeting its constraints.

    Each candidate is a backtest on the settings' date range; the results are appended to results.jsonl
    as they finish, so Ctrl-C (or a crash) loses nothing: continue with --resume FOLDER. Writes
    best_settings.json (a live config), the best's backtest report and an objective plot."""
    if not jit and "numba" not in sys.modules:
        os.environ["NUMBA_DISABLE_JIT"] = "1"  # before numba is first imported; workers inherit it
    from passivx.config.backtest import load_backtest_settings
    from passivx.optimize.run import Options, run_optimizer

    opts = Options(iterations=iterations, workers=workers, seed=seed, start=start_config, mode=mode, batch=batch,
                   resume=resume_dir, scheduler=scheduler, out=out_dir, plots=plots)
    run_optimizer(load_backtest_settings(settings_path), opts)
