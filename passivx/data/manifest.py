"""The manifest of one cached data set (kind / exchange / symbol): one JSON file listing each UTC
day's file, row count, first/last timestamp, size, sha256 and source.

The manifest is the commit point: day files are written under new names first, then the manifest
is replaced atomically (under a lock), then files it no longer names are deleted. A crash at any
moment leaves the previous manifest and every file it names intact.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from passivx.data.atomic import write_json_atomic
from passivx.errors import DataError

FORMAT = 1
MANIFEST = "manifest.json"
_STALE_TMP_S = 24 * 3600
_INT_KEYS = ("rows", "first_ts", "last_ts", "size")


@dataclass
class Manifest:
    """The days of one data set, keyed by ISO date ("2024-01-31")."""

    directory: Path
    exchange: str
    symbol: str
    kind: str
    synthetic: bool = False
    days: dict[str, dict] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.directory / MANIFEST

    def to_json(self) -> dict:
        return {"format": FORMAT, "exchange": self.exchange, "symbol": self.symbol, "kind": self.kind,
                "synthetic": self.synthetic, "days": self.days}


def load(directory: Path, exchange: str, symbol: str, kind: str) -> Manifest:
    """Read the manifest in `directory` (an empty one if there is none yet)."""
    path = directory / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return Manifest(directory, exchange, symbol, kind)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: unreadable manifest ({e}); delete {directory} and fetch the data again") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("days"), dict):
        raise DataError(f"{path}: not a passivx manifest (format {FORMAT}); delete {directory} and fetch the data again")
    for day, entry in data["days"].items():
        problem = _entry_problem(day, entry)
        if problem:
            raise DataError(f"{path}: day {day!r}: {problem}; remove that day from the manifest (or delete "
                            f"{directory}) and fetch or import the day again")
    return Manifest(directory, data.get("exchange", exchange), data.get("symbol", symbol), data.get("kind", kind),
                    bool(data.get("synthetic", False)), data["days"])


def _entry_problem(day: str, entry: object) -> str | None:
    """Why a manifest day entry is unusable, or None: the key must be a date and the entry an object
    naming a plain file name, with integer rows / first_ts / last_ts / size and a sha256."""
    try:
        if dt.date.fromisoformat(day).isoformat() != day:
            raise ValueError
    except ValueError:
        return "not a date YYYY-MM-DD"
    if not isinstance(entry, dict):
        return f"the entry is {type(entry).__name__}, not an object"
    name = entry.get("file")
    if not isinstance(name, str) or not name or name != Path(name).name or name in (".", ".."):
        return "the entry has no 'file' (a file name in the data set's folder)" if name is None else \
            f"'file' {name!r} is not a file name in the data set's folder"
    for key in _INT_KEYS:
        if not isinstance(entry.get(key), int) or isinstance(entry[key], bool) or entry[key] < 0:
            return f"the entry has no {key!r} (an integer >= 0)"
    sha = entry.get("sha256")
    if not isinstance(sha, str) or len(sha) != 64:
        return "the entry has no 'sha256' (64 hex digits)"
    return None


@contextlib.contextmanager
def locked(directory: Path):
    """Hold an exclusive lock on the data set for a read-modify-write of its manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a") as f:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no cross-process lock
            yield
            return
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def stamp(path: Path) -> list[int]:
    """(size, mtime_ns) of a file: changes whenever the file is rewritten or touched."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def commit(directory: Path, exchange: str, symbol: str, kind: str, new_days: dict[str, tuple[Path, dict]],
           synthetic: bool = False, expect: dict[str, str | None] | None = None) -> list[str]:
    """Move each day's finished temp file into place and record it; return the days replaced.

    `new_days` maps an ISO date to (temp file, entry with rows/first_ts/last_ts/size/sha256/source).
    `expect` maps days to the sha256 they must still have in the manifest (None: absent), for new days
    derived from the cached ones; DataError (nothing committed) if another process changed them meanwhile."""
    with locked(directory):
        man = load(directory, exchange, symbol, kind)
        for day, sha in (expect or {}).items():
            if man.days.get(day, {}).get("sha256") != sha:
                raise DataError(f"{exchange} {symbol} {kind} {day}: changed in the cache {directory} by another "
                                f"process meanwhile; nothing was written, run the command again")
        replaced = sorted(d for d in new_days if d in man.days)
        for day, (tmp, entry) in new_days.items():
            final = directory / f"{day}.{entry['sha256'][:12]}.pxd"
            os.replace(tmp, final)
            man.days[day] = dict(entry, file=final.name, stamp=stamp(final), verified=time.time())
        man.synthetic = synthetic
        man.days = dict(sorted(man.days.items()))
        write_json_atomic(man.path, man.to_json())
        _sweep(directory, {e["file"] for e in man.days.values()})
    return replaced


def record_verified(directory: Path, exchange: str, symbol: str, kind: str, day: str, sha256: str) -> None:
    """Remember that `day`'s file was re-hashed and matched, so later opens can trust its stamp.

    Best effort: a read-only cache simply re-hashes next time."""
    try:
        with locked(directory):
            man = load(directory, exchange, symbol, kind)
            entry = man.days.get(day)
            if entry is None or entry["sha256"] != sha256:
                return
            entry["stamp"] = stamp(directory / entry["file"])
            entry["verified"] = time.time()
            write_json_atomic(man.path, man.to_json())
    except OSError:
        pass


def _sweep(directory: Path, keep: set[str]) -> None:
    """Delete day files the manifest no longer names, and temp files abandoned by a crash."""
    now = time.time()
    for p in directory.iterdir():
        stale_tmp = p.suffix == ".tmp" and now - p.stat().st_mtime > _STALE_TMP_S
        if (p.suffix == ".pxd" and p.name not in keep) or stale_tmp:
            p.unlink(missing_ok=True)
