"""Candidate evaluation, run by the local pool's processes (the main one too) or on Dask workers.

Each process keeps one `Evaluator` per job: the cached days are opened and memory-mapped once (and cut
into the engine calls' column views, `day_chunks`), the market vector, funding series and the run's
description built once, and the compiled engine stays loaded; each candidate then costs a fresh
`new_context`, the replay and its statistics. The statistics are those of `passivx backtest --config` on
the same config (stats.json: the same replay, `replay_stats` (gathered by `tally.Tally`) and
`run_description`); `seconds` counts the replay only, as in stats.json, and `replay_cpu_seconds` the CPU
time of the same (unaffected by other processes on the machine).
"""
from __future__ import annotations

import gc
import hashlib
import json
import time
from dataclasses import dataclass, field

import numpy as np

from passivx.backtest import layout as B
from passivx.backtest.context import new_context
from passivx.backtest.runner import (day_chunks, funding_series, replay_days, resolve_market, run_description, span_ms,
                                     warm_up)
from passivx.config.backtest import BacktestSettings, parse_backtest_settings
from passivx.config.leverage import check_leverage
from passivx.config.live import LiveConfig, parse_live_config, with_params
from passivx.data import cache
from passivx.optimize import journal
from passivx.optimize.tally import Tally

# statistics that differ between runs of the same candidate (timing); kept out of comparisons
TIMING_KEYS = ("seconds", "rows_per_second", "replay_cpu_seconds")


@dataclass(frozen=True)
class Job:
    """What a worker needs to evaluate candidates: the settings and the base config (plain data)."""

    settings: dict
    settings_source: str
    config: dict
    config_source: str
    key: str = field(default="", compare=False)

    @classmethod
    def make(cls, settings: BacktestSettings, config: LiveConfig) -> "Job":
        blob = json.dumps([settings.data, settings.source, config.data], sort_keys=True)
        return cls(settings.data, settings.source, config.data, config.source,
                   hashlib.sha256(blob.encode()).hexdigest()[:16])


class Evaluator:
    """A job's data opened once; `__call__(cfg)` backtests a config vector (`config(params).to_array()`)."""

    def __init__(self, job: Job) -> None:
        settings = parse_backtest_settings(job.settings, job.settings_source)
        self.settings = settings
        self._last = None  # the previous candidate's context: its buffers serve the next one
        self.stats = Tally()  # `replay_stats`, faster
        self.base = parse_live_config(job.config, job.config_source)
        ex, sym = cache.names(settings.exchange, settings.symbol)
        self.days = cache.open_days(ex, sym, settings.start, settings.end, settings.kind,
                                    settings.resolve(settings.cache_dir))
        self.chunks = [day_chunks(day, settings.kind) for day in self.days]
        self.market = resolve_market(settings, ex, sym)
        self.mkt = self.market.to_array()
        self.where = f"the market {ex} {sym}"
        self.funding = funding_series(settings)
        self.span = span_ms(settings)
        # the same for every candidate: parameters never change the config's name or mode
        self.description = run_description(settings, self.base, ex, sym, self.days)

    def config(self, params: dict[str, float]) -> LiveConfig:
        """The base config with `params` set, checked against the market's leverage."""
        config = with_params(self.base, params)
        check_leverage(config, self.market, self.where)
        return config

    def warm_up(self) -> dict:
        """Load (or compile) the engine with a two-row replay on a throwaway context; its statistics
        show which keys the replay part of a result has."""
        s = self.settings
        ctx = warm_up(self.base.to_array(), self.mkt, s.starting_balance, self.days[0], s.kind)
        return self.stats(ctx.w, ctx.fill_rows(), ctx.samples(), s.starting_balance, self.market.inverse, 0.0)

    def __call__(self, cfg: np.ndarray) -> dict:
        """The stats.json statistics of the config vector `cfg`, and `replay_cpu_seconds`."""
        s = self.settings
        ctx = new_context(cfg, self.mkt, s.starting_balance, s.latency_simulation_ms, self.span, self.funding,
                          reuse=self._last)
        self._last = ctx
        seconds, cpu = replay_days(ctx, self.days, s.kind, chunks=self.chunks)
        samples = ctx.smp[:int(ctx.w[B.E_N_SAMPLES])]  # `ctx.samples()` without its copy: only read here
        stats = self.stats(ctx.w, ctx.fill_rows(), samples, s.starting_balance, self.market.inverse, seconds)
        return {**stats, **self.description, "replay_cpu_seconds": cpu}


_EVALUATORS: dict[str, Evaluator] = {}


def evaluator(job: Job) -> Evaluator:
    """This process's evaluator of `job` (created on first use; a long-lived Dask worker keeps only the
    latest job's data mapped)."""
    ev = _EVALUATORS.get(job.key)
    if ev is None:
        _EVALUATORS.clear()
        ev = _EVALUATORS[job.key] = Evaluator(job)
    return ev


def evaluate(job: Job, k: int, cfg: np.ndarray) -> tuple[int, dict, str, dict]:
    """(k, statistics, the same as the journal's JSON text, seconds) of candidate k: the task a worker runs.
    The statistics leave the timing (`TIMING_KEYS`) to `seconds`: the replay's wall and CPU time and this
    call's. The text is encoded where the candidate ran, so a worker process's share of the bookkeeping
    stays off the main process that every result passes through."""
    t0, c0 = time.perf_counter(), time.process_time()
    stats = evaluator(job)(cfg)
    seconds = {"replay": stats["seconds"], "replay_cpu": stats["replay_cpu_seconds"]}
    for key in TIMING_KEYS:
        del stats[key]
    text = journal.encode(stats)
    return k, stats, text, {**seconds, "worker": time.perf_counter() - t0, "worker_cpu": time.process_time() - c0}


def settle() -> None:
    """Once the data and the engine are loaded: collect the garbage, then exempt what is left (numba's
    compiled code and types, the opened days: ~110,000 objects) from later collections, which would
    otherwise walk all of it (20-35 ms a full collection, one about every 160 candidates). `gc.unfreeze()`
    undoes it."""
    gc.collect()
    gc.freeze()


def worker_main(conn, job: Job) -> None:
    """A local pool worker: open the job's data and load the engine, say so, then evaluate each
    (k, cfg) received on `conn` until None or the parent is gone. Ctrl-C is the parent's to handle."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        evaluator(job).warm_up()
        settle()
        conn.send((True, None))
        while (task := conn.recv()) is not None:
            try:
                answer = (True, evaluate(job, *task))
            except Exception as e:  # sent back whole: the parent raises it
                answer = (False, e)
            conn.send(answer)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass  # the parent ended (killed, or stopped on an error)
    except Exception as e:
        conn.send((False, e))
