"""Candidate evaluation, run in worker processes (local pool or Dask workers).

A worker keeps one `Evaluator` per job: the cached days are opened and memory-mapped once, the market
vector and funding series built once, and the compiled engine stays loaded; each candidate then costs a
fresh `new_context` and the replay. The statistics equal `passivx backtest --config` on the same config
(`compute_stats`, the same replay chunks); `seconds` counts the replay only, as in stats.json, and
`replay_cpu_seconds` the CPU time of the same (unaffected by other processes on the machine).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from dataclasses import dataclass, field

import numpy as np

from passivx.backtest import layout as B
from passivx.backtest.context import new_context
from passivx.backtest.runner import _CHUNK_JIT, _CHUNK_PYTHON, _columns, _replay, funding_series, resolve_market
from passivx.backtest.stats import DAY_MS, compute_stats
from passivx.config.backtest import BacktestSettings, parse_backtest_settings
from passivx.config.leverage import check_leverage
from passivx.config.live import LiveConfig, parse_live_config, with_params
from passivx.data import cache

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
        self.base = parse_live_config(job.config, job.config_source)
        ex, sym = cache.names(settings.exchange, settings.symbol)
        self.days = cache.open_days(ex, sym, settings.start, settings.end, settings.kind,
                                    settings.resolve(settings.cache_dir))
        self.columns = [_columns(d, settings.kind) for d in self.days]
        self.market = resolve_market(settings, ex, sym)
        self.mkt = self.market.to_array()
        self.where = f"the market {ex} {sym}"
        self.funding = funding_series(settings)
        self.span = (settings.end - settings.start + dt.timedelta(days=1)).days * DAY_MS
        last = self.days[-1].last_ts
        self.end_t = last + (B.MINUTE_MS - 1 if settings.kind == "candles" else 0)
        self.chunk = _CHUNK_PYTHON if os.environ.get("NUMBA_DISABLE_JIT") == "1" else _CHUNK_JIT

    def config(self, params: dict[str, float]) -> LiveConfig:
        """The base config with `params` set, checked against the market's leverage."""
        config = with_params(self.base, params)
        check_leverage(config, self.market, self.where)
        return config

    def warm_up(self) -> dict:
        """Load (or compile) the engine with a two-row replay on a throwaway context; its statistics
        show which keys a result has."""
        s = self.settings
        ctx = new_context(self.base.to_array(), self.mkt, s.starting_balance, 0.0, DAY_MS)
        _replay(ctx, s.kind, self.columns[0], 0, 2)
        ctx.finish()
        return compute_stats(ctx.w, ctx.fill_rows(), s.starting_balance, 0.0)

    def __call__(self, cfg: np.ndarray) -> dict:
        """The stats.json statistics (engine part) of the config vector `cfg`."""
        s = self.settings
        ctx = new_context(cfg, self.mkt, s.starting_balance,
                          s.latency_simulation_ms, self.span, self.funding)
        seconds = cpu = 0.0
        for day, cols in zip(self.days, self.columns):
            for lo in range(0, day.rows, self.chunk):
                t0, c0 = time.perf_counter(), time.process_time()
                _replay(ctx, s.kind, cols, lo, min(day.rows, lo + self.chunk))
                seconds += time.perf_counter() - t0
                cpu += time.process_time() - c0
                if ctx.stopped:
                    break
            if ctx.stopped:
                break
        ctx.finish(self.end_t)
        return {**compute_stats(ctx.w, ctx.fill_rows(), s.starting_balance, seconds), "replay_cpu_seconds": cpu}


_EVALUATORS: dict[str, Evaluator] = {}


def evaluator(job: Job) -> Evaluator:
    """This process's evaluator of `job` (created on first use; a long-lived Dask worker keeps only the
    latest job's data mapped)."""
    ev = _EVALUATORS.get(job.key)
    if ev is None:
        _EVALUATORS.clear()
        ev = _EVALUATORS[job.key] = Evaluator(job)
    return ev


def evaluate(job: Job, k: int, cfg: np.ndarray) -> tuple[int, dict, dict]:
    """(k, statistics, {"wall", "cpu"} seconds of this call) of candidate k: the task a worker runs."""
    t0, c0 = time.perf_counter(), time.process_time()
    stats = evaluator(job)(cfg)
    return k, stats, {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}


def worker_main(conn, job: Job) -> None:
    """A local pool worker: open the job's data and load the engine, say so, then evaluate each
    (k, cfg) received on `conn` until None or the parent is gone. Ctrl-C is the parent's to handle."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        evaluator(job).warm_up()
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
