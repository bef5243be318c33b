"""`passivx download`: fill the cache with whole UTC days from the public archives, and from REST
(ccxt) for days not archived. Each day is committed on its own, so an interrupted run resumes
where it stopped; days already cached and intact are skipped, corrupt ones fetched again."""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from passivx.data import archives, cache, importers, manifest, rest
from passivx.errors import DataError


@dataclass
class DownloadReport:
    fetched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    unavailable: list[tuple[str, str]] = field(default_factory=list)
    rows: int = 0
    sources: dict[str, str] = field(default_factory=dict)


def _in_day(cols: dict[str, np.ndarray], day: dt.date) -> dict[str, np.ndarray]:
    lo = cache.day_start_ms(day)
    keep = (cols["ts"] >= lo) & (cols["ts"] < lo + cache.DAY_MS)
    return cols if keep.all() else {k: v[keep] for k, v in cols.items()}


def _from_archive(ex: str, sym: str, kind: str, day: dt.date, cache_dir: Path, retries: int, wait: float):
    """(columns, source) from the day's archive, or None if it is not archived."""
    url = archives.archive_url(ex, sym, kind, day)
    if url is None:
        return None
    dest = cache.resolve_cache_dir(cache_dir) / "downloads" / url.rsplit("/", 1)[-1]
    if not archives.fetch(url, dest, retries, wait):
        return None
    try:
        if ex == "binance":
            archives.verify_checksum(url, dest)
        parsed = importers.read_file(dest, archives.FORMATS[(ex, kind)])
    except DataError as e:
        dest.unlink(missing_ok=True)
        raise DataError(f"archive {url}: {e}") from None
    dest.unlink(missing_ok=True)
    return _in_day(parsed.columns, day), f"archive {url.rsplit('/', 1)[-1]}"


def download(exchange: str, symbol: str, start: str | dt.date, end: str | dt.date, kind: str = "trades",
             cache_dir: str | Path | None = None, progress: bool = True, use_rest: bool = True,
             retries: int = 4, retry_wait: float = 1.0, rate_limit: bool = True) -> DownloadReport:
    """Fetch the UTC days start..end (inclusive) not yet in the cache. Only complete days (before
    today, UTC) can be fetched."""
    from tqdm import tqdm

    ex, sym = cache.names(exchange, symbol)
    if ex not in cache.DOWNLOADABLE:
        raise DataError(f"exchange {ex!r}: downloads support {', '.join(cache.DOWNLOADABLE)}; "
                        f"import other data with `passivx data import`")
    first, last = cache.as_date(start, "--start"), cache.as_date(end, "--end")
    today = dt.datetime.now(dt.UTC).date()
    if last < first:
        raise DataError(f"--end {last} is before --start {first}")
    if last >= today:
        raise DataError(f"--end {last}: only complete UTC days can be fetched; the last one is {today - dt.timedelta(days=1)}")
    directory = cache.dataset_dir(cache_dir, kind, ex, sym)
    man = manifest.load(directory, ex, sym, kind)
    report = DownloadReport()
    todo = []
    for day in cache.date_range(first, last):
        d = day.isoformat()
        if d in man.days and cache.check_day(directory, man, d) is None:
            report.skipped.append(d)
            continue
        if d in man.days:
            report.repaired.append(d)
        todo.append(day)
    client = None
    t0 = time.perf_counter()
    with tqdm(total=len(todo), unit="day", desc=f"{ex} {sym} {kind}", disable=not progress) as bar:
        for day in todo:
            d = day.isoformat()
            got = _from_archive(ex, sym, kind, day, cache_dir, retries, retry_wait)
            if got is None and use_rest:
                client = client or rest.ccxt_client(ex, rate_limit)
                if kind == "trades":
                    cols, ids = rest.fetch_trades_day(client, sym, day)
                    cols = importers.dedupe_sort(cols, ids)[0]
                else:
                    cols = rest.fetch_candles_day(client, sym, day)
                got = cols, f"rest {client.id}"
            if got is None:
                report.unavailable.append((d, "not archived (REST disabled)"))
            elif len(got[0]["ts"]) == 0:
                report.unavailable.append((d, "the exchange has no data for this day"))
            else:
                cols, source = got
                cache.store_days(ex, sym, kind, cols, source, cache_dir)
                report.fetched.append(d)
                report.sources[d] = source
                report.rows += len(cols["ts"])
            bar.update(1)
            bar.set_postfix(rows=f"{report.rows:,}", speed=f"{report.rows / (time.perf_counter() - t0):,.0f} rows/s")
    return report
