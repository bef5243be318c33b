"""What the cache holds: per data set coverage, per-day rows, time covered and status, and gaps in time."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from passivx.data import cache, dayfile, manifest
from passivx.errors import DataError

MINUTE_MS = 60_000


@dataclass
class DayInfo:
    date: str
    rows: int
    first_ts: int
    last_ts: int
    problem: str | None  # why the day's file cannot be used, else None
    covered: float = 0.0  # share of the UTC day with data: first to last print, less the gaps found
    starts_late: bool = False  # the first print comes later than the gap threshold after 00:00
    ends_early: bool = False  # the last print (candle: its minute's end) is more than the threshold before 24:00

    @property
    def partial(self) -> bool:
        return self.starts_late or self.ends_early


@dataclass
class Coverage:
    man: manifest.Manifest
    days: list[DayInfo] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # days absent between the first and last cached day
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (last ts before, first ts after), ms

    @property
    def bad(self) -> list[str]:
        return [d.date for d in self.days if d.problem]

    @property
    def complete(self) -> bool:
        """No missing, corrupt or partial day and no gap: what `data info --strict` requires."""
        return not (self.missing or self.bad or self.gaps or any(d.partial for d in self.days))


def find_gaps(ts: np.ndarray, threshold_ms: int) -> list[tuple[int, int]]:
    """Pairs of consecutive timestamps further apart than `threshold_ms`."""
    idx = np.flatnonzero(np.diff(ts) > threshold_ms)
    return [(int(ts[i]), int(ts[i + 1])) for i in idx]


def check_gap_minutes(value: float) -> float:
    """The gap threshold in minutes: a finite number > 0 (DataError otherwise)."""
    if not (np.isfinite(value) and value > 0):
        raise DataError(f"--gap-minutes {value}: must be a number of minutes > 0")
    return value


def coverage(exchange: str, symbol: str, kind: str = "trades", cache_dir: str | Path | None = None,
             gap_minutes: float = 5.0, verify: str = "auto") -> Coverage:
    """Per-day rows, integrity and time covered, days missing inside the covered span, and gaps longer than
    `gap_minutes`: inside a day, across day boundaries (when both days are cached and intact), and from
    00:00 to the first print or from the last print to 24:00 where the neighbouring day has no data.
    A candle covers its minute; a trade covers its instant."""
    threshold = int(check_gap_minutes(gap_minutes) * MINUTE_MS)
    ex, sym = cache.names(exchange, symbol)
    directory = cache.dataset_dir(cache_dir, kind, ex, sym)
    man = manifest.load(directory, ex, sym, kind)
    cov = Coverage(man)
    if not man.days:
        return cov
    unit = MINUTE_MS if kind == "candles" else 0
    first, last = (dt.date.fromisoformat(d) for d in (min(man.days), max(man.days)))
    cov.missing = [d.isoformat() for d in cache.date_range(first, last) if d.isoformat() not in man.days]
    prev_ts = None
    for d in sorted(man.days):
        e = man.days[d]
        info = DayInfo(d, e["rows"], e["first_ts"], e["last_ts"], cache.check_day(directory, man, d, verify))
        cov.days.append(info)
        if info.problem:
            prev_ts = None
            continue
        start = cache.day_start_ms(dt.date.fromisoformat(d))
        ts = dayfile.map_day(directory / e["file"], kind)["ts"]
        inner = find_gaps(ts, threshold + unit)
        missing_ms = sum(b - a - unit for a, b in inner) + (ts[0] - start) + (start + cache.DAY_MS - ts[-1] - unit)
        info.covered = max(0.0, 1.0 - float(missing_ms) / cache.DAY_MS)
        info.starts_late = bool(ts[0] - start > threshold)
        info.ends_early = bool(start + cache.DAY_MS - (ts[-1] + unit) > threshold)
        if prev_ts is not None:
            if ts[0] - prev_ts > threshold + unit:
                cov.gaps.append((prev_ts, int(ts[0])))
        elif info.starts_late:
            cov.gaps.append((start, int(ts[0])))
        cov.gaps += inner
        following = (dt.date.fromisoformat(d) + dt.timedelta(days=1)).isoformat()
        if info.ends_early and not (following in man.days and cache.check_day(directory, man, following, "size") is None):
            cov.gaps.append((int(ts[-1]) + unit, start + cache.DAY_MS))
        prev_ts = int(ts[-1])
        del ts
    return cov
