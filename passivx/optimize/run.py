"""One optimizer run from the command line's options to the output folder (`run_optimizer`)."""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click

from passivx.backtest.report import write_results
from passivx.backtest.runner import open_data, resolve_market, run_backtest
from passivx.config.backtest import BacktestSettings, parse_backtest_settings
from passivx.config.live import parse_live_config, save_live_config
from passivx.data.atomic import write_json_atomic
from passivx.errors import ConfigError, PassivxError
from passivx.optimize import journal, output
from passivx.optimize.evaluate import TIMING_KEYS, Evaluator, Job, evaluator
from passivx.optimize.search import Judge, Search, check_objective
from passivx.optimize.space import build_space
from passivx.optimize.start import starting_point

DEFAULT_BATCH = 8
DEFAULT_SEED = 0


@dataclass(frozen=True)
class Options:
    """The command line's choices; None = the default (or, with `resume`, the run's own)."""

    iterations: int | None = None
    workers: int | None = None
    seed: int | None = None
    start: str | None = None
    mode: str | None = None
    batch: int | None = None
    resume: str | None = None
    scheduler: str | None = None
    out: str | None = None
    plots: bool = True
    progress: bool = True


def _validation(settings: BacktestSettings) -> BacktestSettings | None:
    """The settings of the validation range, or None; ConfigError when it is half given or overlaps."""
    vs, ve = settings.validation_start_date, settings.validation_end_date
    if vs is None and ve is None:
        return None
    if vs is None or ve is None:
        raise ConfigError(f"{settings.source}: give both validation_start_date and validation_end_date, or neither")
    if ve < vs:
        raise ConfigError(f"{settings.source}: key 'validation_end_date': {ve} is before validation_start_date {vs}")
    if not (ve < settings.start_date or vs > settings.end_date):
        raise ConfigError(f"{settings.source}: the validation range {vs}..{ve} overlaps the training range "
                          f"{settings.start_date}..{settings.end_date}; it must not, or it guards nothing")
    return settings.with_dates(vs, ve)


def _resumed(settings: BacktestSettings, opts: Options, folder: Path) -> tuple[BacktestSettings, dict]:
    """The settings and metadata of the run in `folder`; ConfigError when an option contradicts them."""
    meta = journal.read_run(folder)
    if meta["settings"] != json.loads(json.dumps(settings.data)):
        diff = sorted(k for k in set(meta["settings"]) | set(settings.data)
                      if meta["settings"].get(k) != settings.data.get(k))
        click.echo(f"note: resuming with the settings the run started with ({folder / journal.RUN}); "
                   f"{settings.source} now differs in {', '.join(diff)}", err=True)
    given = {"iterations": opts.iterations, "seed": opts.seed, "batch": opts.batch, "mode": opts.mode}
    for key, value in given.items():
        if value is not None and value != meta[key]:
            raise ConfigError(f"--{key} {value}: the run in {folder} uses {meta[key]}; a resumed run continues "
                              f"as it started (leave --{key} out)")
    if opts.start is not None:
        raise ConfigError(f"--start: the run in {folder} has its starting config already; leave --start out")
    return parse_backtest_settings(meta["settings"], settings.source), meta


def _prepare(settings: BacktestSettings, opts: Options) -> tuple[Path, dict, Evaluator]:
    """(output folder, run metadata, local evaluator) of a new or resumed run."""
    if opts.resume is not None:
        folder = Path(opts.resume)
        settings, meta = _resumed(settings, opts, folder)
    ex, sym, _ = open_data(settings)  # fetches / generates missing days once, here
    market = resolve_market(settings, ex, sym)
    if opts.resume is None:
        _, base, start = starting_point(settings, opts.start, opts.mode, market.inverse, market.max_leverage)
        meta = {"settings": settings.data, "settings_source": settings.source, "config": base.data,
                "config_source": base.source, "mode": base.mode, "start": start,
                "iterations": opts.iterations or settings.n_jackrabbit_iterations,
                "seed": DEFAULT_SEED if opts.seed is None else opts.seed, "batch": opts.batch or DEFAULT_BATCH}
        folder = Path(opts.out) if opts.out is not None else output.default_folder(ex, sym, base.mode)
        if (folder / journal.RUN).exists():
            raise PassivxError(f"{folder} holds an optimizer run already; continue it with --resume {folder}")
    validation = _validation(settings)
    if validation is not None:
        open_data(validation)
    base = parse_live_config(meta["config"], meta["config_source"])
    ev = evaluator(Job.make(settings, base))  # this process's, which the local pool evaluates with too
    ev.config(meta["start"])  # the starting candidate must be a valid config within the market's leverage
    stats = ev.warm_up()
    check_objective(settings.objective, {k: v for k, v in stats.items() if k not in TIMING_KEYS}, settings.source)
    if opts.resume is None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise PassivxError(f"{folder}: cannot create the output folder ({e.strerror or e})") from None
        journal.write_run(folder, meta)
    return folder, meta, ev


def _vector(ev: Evaluator):
    def vector(params: dict):
        try:
            return ev.config(params).to_array()
        except ConfigError:
            return None

    return vector


def _backend(ev: Evaluator, opts: Options, n: int):
    from passivx.optimize.backends import DaskBackend, LocalBackend

    job = Job.make(ev.settings, ev.base)
    if opts.scheduler is not None:
        return DaskBackend(job, opts.scheduler)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = opts.workers or cores
    return LocalBackend(job, max(1, min(workers, n)))


def _search_loop(search: Search, meta: dict, folder: Path, backend, done_before: dict[int, dict], bar) -> None:
    """Draw, submit and record candidates until `n` are done (or nothing new is reachable)."""
    n, k_next, pending = meta["iterations"], 0, {}
    book = journal.Journal(folder)
    t0, finished = time.perf_counter(), 0
    try:
        while True:
            while k_next < n and len(pending) < search.batch and search.ready(k_next):
                cand = search.draw(k_next)
                if cand is None:
                    break
                old = done_before.get(k_next)
                if old is not None:
                    if old["params"] != cand["params"]:
                        raise PassivxError(f"{folder / journal.RESULTS}: candidate {k_next} differs from the one "
                                           f"this run draws (written by another passivx version?); start a new run")
                    search.record(k_next, old["stats"])
                else:
                    pending[backend.submit(k_next, cand["cfg"])] = k_next
                k_next += 1
            if not pending:
                break
            for fut in sorted(backend.wait(pending), key=pending.get):
                k = pending.pop(fut)
                _, stats, text, seconds = fut.result()
                r = search.record(k, stats)
                cand = search.candidates[k]
                book.append({"k": k, "params": cand["params"], "parent": cand["parent"], "m": cand["m"],
                             "objective": r["objective"], "met_constraints": not r["broken"],
                             "broken": r["broken"]}, text, seconds)
                finished += 1
                best = search.best()
                shown = "none yet" if best is None else f"{_shown(search, best):.6g}"
                rate = finished / max(1e-9, time.perf_counter() - t0) * 60
                bar.set_postfix_str(f"{rate:.1f} cand/min, best {search.judge.key} {shown}", refresh=False)
                bar.update(1)
    finally:
        book.close()


def _shown(search: Search, k: int) -> float:
    """Candidate k's objective statistic as stats.json has it (sign undone)."""
    return search.results[k]["stats"][search.judge.key]


def _finish(search: Search, settings: BacktestSettings, ev: Evaluator, folder: Path, plots: bool) -> Path | None:
    """Write the best's config and reports (or the closest candidates) into `folder`; print the summary.
    Returns the path of best_settings.json, or None when no candidate met the constraints."""
    n_ok = sum(1 for r in search.results.values() if not r["broken"])
    click.echo(f"Jackrabbit: {len(search.results)} candidates evaluated, {n_ok} met the constraints"
               + (" (every reachable candidate tried)" if search.exhausted else ""))
    best = search.best()
    summary: dict = {"evaluated": len(search.results), "met_constraints": n_ok, "objective": settings.objective,
                     "constraints": settings.constraints}
    if best is None:
        near = output.closest(search)
        summary["closest"] = [{"k": k, "params": search.candidates[k]["params"],
                               "broken": search.results[k]["broken"]} for k in near]
        write_json_atomic(folder / "summary.json", summary)
        click.echo("No candidate met the constraints, so no best_settings.json was written. Loosen the "
                   "constraints or widen the ranges. The closest candidates:")
        for k in near:
            click.echo(f"  k={k}: broke {output.describe_broken(search.results[k]['broken'])}")
        click.echo(f"results: {folder}")
        return None
    config = ev.config(search.candidates[best]["params"])
    save_live_config(config, folder / "best_settings.json")
    training = run_backtest(settings, config, progress=False)
    write_results(training, folder / "best", plots=plots)
    validation_settings = _validation(settings)
    validation = None
    if validation_settings is not None:
        validation = run_backtest(validation_settings, config, progress=False)
        write_results(validation, folder / "validation", plots=plots)
    summary.update(best={"k": best, "objective": _shown(search, best), "params": search.candidates[best]["params"]},
                   training=training.stats, validation=validation.stats if validation else None)
    write_json_atomic(folder / "summary.json", summary)
    click.echo(f"best: candidate {best}, {search.judge.key} {_shown(search, best):.6g}")
    for name, value in search.candidates[best]["params"].items():
        click.echo(f"  {name} = {value:g}")
    if validation is not None:
        click.echo(f"validation range {validation_settings.start_date}..{validation_settings.end_date} "
                   f"(not used to choose):")
    click.echo(output.comparison(training.stats, validation.stats if validation else None))
    click.echo(f"best_settings.json: {folder / 'best_settings.json'}")
    click.echo(f"results: {folder}")
    return folder / "best_settings.json"


def run_optimizer(settings: BacktestSettings, opts: Options) -> Path | None:
    """Run (or resume) Jackrabbit over `settings`; returns the best_settings.json written, or None when no
    candidate met the constraints. Ctrl-C stops it cleanly (exit 130) with the resume command printed."""
    folder, meta, ev = _prepare(settings, opts)
    settings = ev.settings
    space = build_space(settings.ranges, meta["mode"], settings.source, ev.market.max_leverage)
    judge = Judge(settings.objective, settings.constraints)
    search = Search(space, meta["start"], meta["iterations"], meta["seed"], meta["batch"], judge, _vector(ev))
    done_before = {r["k"]: r for r in journal.read_results(folder)}
    n = meta["iterations"]
    title = f"{ev.settings.exchange} {ev.settings.symbol} {meta['mode']}"
    click.echo(f"Jackrabbit: {title}, {n} candidates (seed {meta['seed']}, batch {meta['batch']}), "
               f"{len(done_before)} done before; folder {folder}", err=True)
    from tqdm import tqdm

    backend = None
    try:
        with tqdm(total=n, initial=min(n, len(done_before)), unit=" cand", desc="jackrabbit", leave=False,
                  disable=not opts.progress or None, file=sys.stderr) as bar:
            if len(done_before) < n:
                backend = _backend(ev, opts, n)
            _search_loop(search, meta, folder, backend, done_before, bar)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        if backend is not None:
            backend.close()
            backend = None
        if search.results:
            output.plot_objective(folder, search, title)
        plain = " --no-jit" if os.environ.get("NUMBA_DISABLE_JIT") == "1" else ""
        resume = f"passivx optimize {settings.source} --resume {folder}{plain}"
        click.echo(f"\ninterrupted: {len(search.results)} of {n} candidates are saved in {folder}; continue with\n"
                   f"  {resume}", err=True)
        raise SystemExit(130) from None
    finally:
        if backend is not None:
            backend.close()
    output.plot_objective(folder, search, title)
    return _finish(search, settings, ev, folder, opts.plots)
