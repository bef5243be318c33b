"""One backtest: settings + live config + cached data -> `BacktestResult` (stats, fills, sampled curve)."""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from passivx.backtest import layout as B
from passivx.backtest.context import Context, new_context
from passivx.backtest.stats import DAY_MS, daily_table, replay_stats
from passivx.config.backtest import BacktestSettings
from passivx.config.leverage import check_leverage
from passivx.config.live import LiveConfig
from passivx.data import cache
from passivx.errors import DataError, MarketError
from passivx.markets import MarketSpec, market_spec

FUNDING_INTERVAL_MS = 8 * 3_600_000
_CHUNK_JIT = 4_000_000  # rows per engine call (progress granularity)
_CHUNK_PYTHON = 20_000


@dataclass
class BacktestResult:
    stats: dict
    fills: np.ndarray  # rows of `passivx.backtest.layout.FILL_COLUMNS`
    samples: np.ndarray  # rows of `SAMPLE_COLUMNS`
    settings: BacktestSettings
    config: LiveConfig
    market: MarketSpec
    exchange: str
    symbol: str
    daily: list[dict] = field(default_factory=list)  # rows of `stats.daily_table`


def open_data(settings: BacktestSettings) -> tuple[str, str, list[cache.Day]]:
    """(exchange, symbol, days) of the settings' data; the synthetic set is generated if needed and
    the days of downloadable exchanges are fetched when missing or corrupt."""
    cache_dir = settings.resolve(settings.cache_dir)
    ex, sym = cache.names(settings.exchange, settings.symbol)
    if ex == "synthetic":
        from passivx.data.synthetic import ensure_default_data

        ensure_default_data(cache_dir)
    try:
        days = cache.open_days(ex, sym, settings.start, settings.end, settings.kind, cache_dir)
    except DataError:
        if ex not in cache.DOWNLOADABLE:
            raise
        from passivx.data.download import download

        cache.require_known_symbol(ex, sym, cache_dir)
        download(ex, sym, settings.start, settings.end, settings.kind, cache_dir)
        days = cache.open_days(ex, sym, settings.start, settings.end, settings.kind, cache_dir)
    return ex, sym, days


def resolve_market(settings: BacktestSettings, exchange: str, symbol: str) -> MarketSpec:
    """The market spec looked up offline, with the settings' `market` overrides applied."""
    overrides = settings.market
    source = f"{settings.source}: key 'market'"
    try:
        base = market_spec(exchange, symbol, settings.resolve(settings.cache_dir)).to_dict()
    except MarketError as e:
        if "price_step" not in overrides or "qty_step" not in overrides:
            raise MarketError(f"{e}; or give the spec in {settings.source} under \"market\" "
                              f"(price_step, qty_step, min_qty, min_cost, c_mult, inverse, ...)") from None
        base = {}
    return MarketSpec.from_dict({**base, **overrides}, source)


def funding_series(settings: BacktestSettings) -> tuple[np.ndarray, np.ndarray] | None:
    """(settlement times ms, rates) of the settings' `funding`, or None for no funding."""
    funding = settings.funding
    if funding is None:
        return None
    start = cache.day_start_ms(settings.start)
    end = cache.day_start_ms(settings.end) + DAY_MS
    if isinstance(funding, float):
        ts = np.arange(start + FUNDING_INTERVAL_MS, end + 1, FUNDING_INTERVAL_MS, dtype=np.float64)
        return ts, np.full(len(ts), funding)
    path = settings.resolve(funding)
    try:
        table = np.genfromtxt(path, delimiter=",", names=True, dtype=np.float64)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: cannot read the funding file ({e})") from None
    names = table.dtype.names or ()
    if "timestamp" not in names or "rate" not in names:
        raise DataError(f"{path}: expected a header with columns timestamp (ms) and rate")
    ts, rate = np.atleast_1d(table["timestamp"]), np.atleast_1d(table["rate"])
    if not (np.isfinite(ts).all() and np.isfinite(rate).all() and (np.diff(ts) > 0).all()):
        raise DataError(f"{path}: timestamps must increase and every value must be a number")
    return ts, rate


def span_ms(settings: BacktestSettings) -> int:
    """The length of the settings' date range (whole UTC days), in ms."""
    return (settings.end - settings.start + dt.timedelta(days=1)).days * DAY_MS


def _columns(day: cache.Day, kind: str) -> tuple:
    c = day.columns()
    if kind == "trades":
        return c["ts"], c["price"], c["side"]
    return c["ts"], c["open"], c["high"], c["low"], c["close"]


def _replay(ctx: Context, kind: str, part: tuple) -> None:
    if kind == "trades":
        ctx.trades(*part)
    else:
        ctx.candles(*part)


def day_chunks(day: cache.Day, kind: str) -> list[tuple]:
    """The column views (no copy) of each engine call `replay_days` makes for `day`: chunks of rows."""
    chunk = _CHUNK_PYTHON if os.environ.get("NUMBA_DISABLE_JIT") == "1" else _CHUNK_JIT
    cols = _columns(day, kind)
    return [tuple(col[lo:min(day.rows, lo + chunk)] for col in cols) for lo in range(0, day.rows, chunk)]


def _data_end(days: Sequence[cache.Day], kind: str) -> float:
    """When the data ends: the last print, or the end of the last candle's minute."""
    return float(days[-1].last_ts + (B.MINUTE_MS - 1 if kind == "candles" else 0))


def warm_up(cfg: np.ndarray, mkt: np.ndarray, starting_balance: float, day: cache.Day, kind: str) -> Context:
    """Load (or compile) the engine before any clock starts: a two-row replay of `day` on a throwaway
    context, finished as `replay_days` finishes one (the same argument types); returns that context."""
    ctx = new_context(cfg, mkt, starting_balance, 0.0, DAY_MS)
    _replay(ctx, kind, tuple(col[:2] for col in _columns(day, kind)))
    ctx.finish(_data_end([day], kind))
    return ctx


def replay_days(ctx: Context, days: Sequence[cache.Day], kind: str, release: bool = False,
                on_chunk: Callable[[int], object] | None = None,
                chunks: Sequence[list[tuple]] | None = None) -> tuple[float, float]:
    """Replay the opened `days` (of `kind`) through `ctx` in chunks, until their end or a liquidation, then
    finish it at the data's end. `release` drops each day's mapping once replayed; `on_chunk(rows)` follows
    each chunk (progress); `chunks`: each day's `day_chunks`, kept by a caller that replays the same days
    many times (the optimizer). Returns the wall and CPU seconds of the engine calls (stats' `seconds`)."""
    seconds = cpu = 0.0
    for i, day in enumerate(days):
        for part in day_chunks(day, kind) if chunks is None else chunks[i]:
            t0, c0 = time.perf_counter(), time.process_time()
            _replay(ctx, kind, part)
            seconds += time.perf_counter() - t0
            cpu += time.process_time() - c0
            if on_chunk is not None:
                on_chunk(len(part[0]))
            if ctx.stopped:
                break
        if release:
            day.release()
        if ctx.stopped:
            break
    ctx.finish(_data_end(days, kind))
    return seconds, cpu


def _first_run_notice(show: bool):
    """The CLI's first-run notice and spinner around the engine's compile (`show`), else nothing."""
    if not show:
        return contextlib.nullcontext()
    from passivx.firstrun import BACKTEST, compiling

    return compiling(BACKTEST)


def run_backtest(settings: BacktestSettings, config: LiveConfig, progress: bool = True,
                 exhaustive: bool = False) -> BacktestResult:
    """Replay the settings' data through `config`. `exhaustive` recomputes the orders at every decision
    (a slow reference for tests). `stats["seconds"]` counts the replay only (no loading or compiling)."""
    from tqdm import tqdm

    ex, sym, days = open_data(settings)
    spec = resolve_market(settings, ex, sym)
    check_leverage(config, spec, f"the market {ex} {sym}")
    cfg, mkt = config.to_array(), spec.to_array()
    ctx = new_context(cfg, mkt, settings.starting_balance, settings.latency_simulation_ms, span_ms(settings),
                      funding_series(settings), exhaustive)
    kind = settings.kind
    with _first_run_notice(progress):
        warm_up(cfg, mkt, settings.starting_balance, days[0], kind)
    with tqdm(total=sum(d.rows for d in days), unit=" " + kind, unit_scale=True, disable=not progress or None,
              desc=f"backtest {config.config_name}", leave=False) as bar:
        seconds, _ = replay_days(ctx, days, kind, release=True, on_chunk=bar.update)
    fills, samples = ctx.fill_rows(), ctx.samples()
    stats = replay_stats(ctx.w, fills, samples, settings.starting_balance, spec.inverse, seconds)
    stats.update(run_description(settings, config, ex, sym, days, exhaustive))
    daily = daily_table(fills, samples, settings.starting_balance)
    return BacktestResult(stats, fills, samples, settings, config, spec, ex, sym, daily)


def run_description(settings: BacktestSettings, config: LiveConfig, exchange: str, symbol: str,
                    days: Sequence[cache.Day], exhaustive: bool = False) -> dict:
    """The keys of stats.json that describe the run rather than the replay: data coverage, market, config
    name and mode, dates, balance, latency, pace, funding."""
    kind = settings.kind
    return {**data_coverage(days, settings, kind), "exchange": exchange, "symbol": symbol,
            "config_name": config.config_name, "mode": config.mode, "data": kind,
            "start_date": settings.start_date, "end_date": settings.end_date,
            "starting_balance": float(settings.starting_balance),
            "latency_simulation_ms": float(settings.latency_simulation_ms), "pace_ms": B.PACE_MS,
            "exhaustive": exhaustive, "funding_source": _funding_label(settings)}


COVERAGE_WARN = 0.95


def data_coverage(days: Sequence[cache.Day], settings: BacktestSettings, kind: str) -> dict:
    """How much of the requested days the data covers: each day counts from its first to its last print (a
    candle covers its minute), so partial first, last or middle days show; `requested_days` is the calendar
    span asked for."""
    unit = B.MINUTE_MS if kind == "candles" else 1
    covered = sum(min(DAY_MS, d.last_ts - d.first_ts + unit) for d in days) / DAY_MS
    requested = (settings.end - settings.start).days + 1
    return {"requested_days": requested, "covered_days": covered, "coverage": covered / requested}


def _funding_label(settings: BacktestSettings) -> str:
    f = settings.funding
    if f is None:
        return "none (no funding series given: funding is zero)"
    if isinstance(f, float):
        return f"constant {f} per 8 hours"
    return f"file {Path(f).name}"
