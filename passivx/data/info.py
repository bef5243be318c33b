"""What the cache holds: per data set coverage, per-day rows and status, and gaps in time."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from passivx.data import cache, dayfile, manifest


@dataclass
class Coverage:
    man: manifest.Manifest
    days: list[tuple[str, int, int, int, str | None]] = field(default_factory=list)  # date, rows, first, last, problem
    missing: list[str] = field(default_factory=list)  # days absent between the first and last cached day
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (last ts before, first ts after), ms


def find_gaps(ts: np.ndarray, threshold_ms: int) -> list[tuple[int, int]]:
    """Pairs of consecutive timestamps further apart than `threshold_ms`."""
    idx = np.flatnonzero(np.diff(ts) > threshold_ms)
    return [(int(ts[i]), int(ts[i + 1])) for i in idx]


def coverage(exchange: str, symbol: str, kind: str = "trades", cache_dir: str | Path | None = None,
             gap_minutes: float = 5.0, verify: str = "auto") -> Coverage:
    """Per-day rows and integrity, days missing inside the covered span, and gaps longer than
    `gap_minutes` (across day boundaries too, when both days are cached and intact)."""
    ex, sym = cache.names(exchange, symbol)
    directory = cache.dataset_dir(cache_dir, kind, ex, sym)
    man = manifest.load(directory, ex, sym, kind)
    cov = Coverage(man)
    if not man.days:
        return cov
    first, last = (dt.date.fromisoformat(d) for d in (min(man.days), max(man.days)))
    cov.missing = [d.isoformat() for d in cache.date_range(first, last) if d.isoformat() not in man.days]
    threshold = int(gap_minutes * 60_000)
    prev_ts = None
    for d, e in man.days.items():
        problem = cache.check_day(directory, man, d, verify)
        cov.days.append((d, e["rows"], e["first_ts"], e["last_ts"], problem))
        if problem:
            prev_ts = None
            continue
        ts = dayfile.map_day(directory / e["file"], kind)["ts"]
        if prev_ts is not None and ts[0] - prev_ts > threshold:
            cov.gaps.append((prev_ts, int(ts[0])))
        cov.gaps += find_gaps(ts, threshold)
        prev_ts = int(ts[-1])
        del ts
    return cov
