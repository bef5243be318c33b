"""The local market-data cache: one memory-mappable file per kind / exchange / symbol / UTC day.

Layout under the cache directory:
    trades/<exchange>/<symbol>/manifest.json, <YYYY-MM-DD>.<sha256[:12]>.pxd
    candles/<exchange>/<symbol>/...
    markets/<exchange>.json          (market specs, see passivx.markets)
    downloads/                       (archive files being fetched; resumable)

Integrity: every day file's size and sha256 are in the manifest, with the file's (size, mtime_ns)
"stamp" at the time it was last hashed. Opening a day compares the size and the stamp (one stat
call); only when the stamp differs (file rewritten, touched or copied) is the file re-hashed with
sha256 (about 1.7 GB/s here), and a match is recorded so the next open is cheap again. A size or
hash mismatch raises DataError. `verify="full"` re-hashes regardless (used by `data info --verify`).
Hashing every open would cap replay at about 70 M trades/s; the stamp keeps opening near free.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from passivx.data import dayfile, manifest
from passivx.data.atomic import temp_path
from passivx.errors import DataError
from passivx.exchanges import canonical_exchange, market_id

DAY_MS = 86_400_000
DOWNLOADABLE = ("binance", "bybit")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def default_cache_dir() -> Path:
    """$PASSIVX_CACHE_DIR if set, else ./cache under the working directory (DataError if it is a file)."""
    env = os.environ.get("PASSIVX_CACHE_DIR")
    return _folder(Path(env).expanduser(), "PASSIVX_CACHE_DIR") if env else _folder(Path.cwd() / "cache", "the cache")


def resolve_cache_dir(cache_dir: str | Path | None) -> Path:
    return _folder(Path(cache_dir).expanduser(), "--cache-dir") if cache_dir is not None else default_cache_dir()


def _folder(path: Path, what: str) -> Path:
    if path.exists() and not path.is_dir():
        raise DataError(f"{what} {path}: is a file, not a folder; point it at a folder (it is created if missing)")
    return path


def names(exchange: str, symbol: str) -> tuple[str, str]:
    """Canonical (exchange, symbol) as used for cache paths; DataError if unusable as a name."""
    ex, sym = canonical_exchange(exchange), market_id(symbol)
    for what, value in (("exchange", ex), ("symbol", sym)):
        if not _NAME.match(value):
            raise DataError(f"{what} {value!r}: use letters, digits, '_', '-' or '.' only")
    return ex, sym


def dataset_dir(cache_dir: str | Path | None, kind: str, exchange: str, symbol: str) -> Path:
    if kind not in dayfile.KINDS:
        raise DataError(f"data kind {kind!r}: expected one of {', '.join(dayfile.KINDS)}")
    ex, sym = names(exchange, symbol)
    return resolve_cache_dir(cache_dir) / kind / ex / sym


def as_date(value: str | dt.date, what: str = "date") -> dt.date:
    """A date from a `datetime.date` or a "YYYY-MM-DD" string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise DataError(f"{what} {value!r}: expected YYYY-MM-DD") from None


def date_range(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def day_start_ms(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days * DAY_MS


@dataclass
class Day:
    """One cached UTC day. Columns are read-only numpy arrays backed by a memory map, mapped on
    first access: trades `ts` (int64 ms), `price`, `qty` (float64), `side` (int8: +1 taker buy,
    -1 taker sell, 0 unknown); candles `ts` (minute open, int64 ms), `open`, `high`, `low`,
    `close`, `volume` (float64). Call `release()` when done so the mapping can be dropped."""

    date: dt.date
    kind: str
    path: Path
    rows: int
    first_ts: int
    last_ts: int
    _cols: dict | None = field(default=None, repr=False)

    def columns(self) -> dict[str, np.ndarray]:
        if self._cols is None:
            self._cols = dayfile.map_day(self.path, self.kind)
        return self._cols

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_") or name not in dict(dayfile.SCHEMAS[self.kind]):
            raise AttributeError(name)
        return self.columns()[name]

    def release(self) -> None:
        """Forget the arrays; the file is unmapped once no other reference to them remains."""
        self._cols = None


def _fix_hint(exchange: str, symbol: str, kind: str, days: list[str]) -> str:
    first, last = days[0], days[-1]
    if exchange == "synthetic":
        return "the synthetic set covers 2024-01-01..2024-01-07 (passivx.data.synthetic.ensure_default_data writes it)"
    opt = " --kind candles" if kind == "candles" else ""
    if exchange in DOWNLOADABLE:
        return f"fetch them with `passivx download {exchange} {symbol} --start {first} --end {last}{opt}`"
    return f"import them with `passivx data import FILE... --exchange {exchange} --symbol {symbol}`"


def require_known_symbol(exchange: str, symbol: str, cache_dir: str | Path | None = None) -> None:
    """Before a download: DataError for an exchange passivx cannot fetch (naming those it can) or a symbol
    not among its known perpetuals (the market specs cached beside the data, else the shipped snapshot),
    so a typo fails at once, offline, and leaves nothing behind."""
    from passivx.markets import cached_specs, snapshot_specs

    ex, sym = names(exchange, symbol)
    if ex not in DOWNLOADABLE:
        raise DataError(f"exchange {exchange!r}: downloads support {', '.join(DOWNLOADABLE)}; import other data "
                        f"with `passivx data import`")
    known = {**snapshot_specs(ex), **cached_specs(ex, cache_dir)}
    if sym not in known:
        near = sorted(k for k in known if k[:3] == sym[:3])[:6]
        raise DataError(f"unknown symbol {sym} on {ex}: not among its {len(known)} known perpetuals"
                        + (f" (similar: {', '.join(near)})" if near else "")
                        + "; check the spelling, or add --force if it was listed after passivx's market snapshot")


def check_day(directory: Path, man: manifest.Manifest, day: str, verify: str = "auto") -> str | None:
    """None if `day`'s file is present and intact, else a short reason. `verify`: "auto" (hash
    only when the stamp changed), "full" (always hash) or "size" (never hash)."""
    entry = man.days[day]
    path = directory / entry["file"]
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"file {path} is missing"
    if st.st_size != entry["size"]:
        return f"file {path} has {st.st_size} bytes, the manifest says {entry['size']}"
    if verify == "size" or (verify == "auto" and entry.get("stamp") == [st.st_size, st.st_mtime_ns]):
        return None
    if dayfile.file_sha256(path) != entry["sha256"]:
        return f"file {path} fails its sha256 checksum"
    manifest.record_verified(directory, man.exchange, man.symbol, man.kind, day, entry["sha256"])
    return None


def open_days(exchange: str, symbol: str, start_date: str | dt.date, end_date: str | dt.date,
              kind: str = "trades", cache_dir: str | Path | None = None, verify: str = "auto") -> list[Day]:
    """The cached days start_date..end_date (inclusive, UTC) in order, each checked (see the module
    doc) and mapped lazily. DataError names missing or corrupt days and the command that fetches them."""
    start, end = as_date(start_date, "start date"), as_date(end_date, "end date")
    if end < start:
        raise DataError(f"end date {end} is before start date {start}")
    ex, sym = names(exchange, symbol)
    directory = dataset_dir(cache_dir, kind, ex, sym)
    man = manifest.load(directory, ex, sym, kind)
    wanted = [d.isoformat() for d in date_range(start, end)]
    missing = [d for d in wanted if d not in man.days]
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise DataError(f"{ex} {sym} {kind}: {len(missing)} day(s) of {start}..{end} not in the cache "
                        f"{resolve_cache_dir(cache_dir)} ({shown}); {_fix_hint(ex, sym, kind, missing)}")
    days = []
    for d in wanted:
        problem = check_day(directory, man, d, verify)
        if problem:
            raise DataError(f"{ex} {sym} {kind} {d}: {problem}; {_fix_hint(ex, sym, kind, [d])} "
                            f"(it replaces the bad day)")
        e = man.days[d]
        days.append(Day(dt.date.fromisoformat(d), kind, directory / e["file"], e["rows"], e["first_ts"], e["last_ts"]))
    return days


def split_days(ts: np.ndarray) -> list[tuple[dt.date, int, int]]:
    """(UTC date, lo, hi) index ranges of sorted ms timestamps."""
    if len(ts) == 0:
        return []
    day_idx = ts // DAY_MS
    cuts = np.flatnonzero(np.diff(day_idx)) + 1
    los = np.concatenate(([0], cuts))
    his = np.concatenate((cuts, [len(ts)]))
    epoch = dt.date(1970, 1, 1)
    return [(epoch + dt.timedelta(days=int(day_idx[lo])), int(lo), int(hi)) for lo, hi in zip(los, his)]


class Stored(NamedTuple):
    written: list[str]  # every day written
    replaced: list[str]  # days that were cached and are replaced by the new rows
    merged: dict[str, int]  # days that were cached and now hold their rows and the new ones -> rows added


def store_days(exchange: str, symbol: str, kind: str, columns: dict[str, np.ndarray], source: str,
               cache_dir: str | Path | None = None, synthetic: bool = False, merge: bool = False) -> Stored:
    """Write sorted, validated columns as one file per UTC day and commit them in one manifest
    update (all or nothing). Days already cached are replaced, or with `merge` merged with the new
    rows (`merge_rows`; a cached day that fails its check is replaced)."""
    ex, sym = names(exchange, symbol)
    directory = dataset_dir(cache_dir, kind, ex, sym)
    directory.mkdir(parents=True, exist_ok=True)
    man = manifest.load(directory, ex, sym, kind) if merge else None
    new: dict[str, tuple[Path, dict]] = {}
    merged: dict[str, int] = {}
    expect: dict[str, str | None] = {}
    try:
        for day, lo, hi in split_days(columns["ts"]):
            iso = day.isoformat()
            part, src = {k: v[lo:hi] for k, v in columns.items()}, source
            if man is not None:
                entry = man.days.get(iso)
                expect[iso] = entry["sha256"] if entry else None
                if entry and check_day(directory, man, iso) is None:
                    part = merge_rows(kind, dayfile.map_day(directory / entry["file"], kind), part)
                    merged[iso] = len(part["ts"]) - entry["rows"]
                    src = f"{entry.get('source', '?')} + {source}"
            tmp = temp_path(directory / f"{iso}.pxd")
            new[iso] = (tmp, {})
            size, sha = dayfile.write_day(tmp, kind, part)
            new[iso] = (tmp, {"rows": len(part["ts"]), "first_ts": int(part["ts"][0]),
                              "last_ts": int(part["ts"][-1]), "size": size, "sha256": sha, "source": src})
        replaced = manifest.commit(directory, ex, sym, kind, new, synthetic, expect) if new else []
    except BaseException:
        for tmp, _ in new.values():
            tmp.unlink(missing_ok=True)
        raise
    return Stored(list(new), [d for d in replaced if d not in merged], merged)


def merge_rows(kind: str, cached: dict[str, np.ndarray], new: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The rows of a cached day together with new rows of that day, sorted by time.

    Candles: a new candle replaces the cached one of its minute. Trades (the cache keeps no ids): a
    millisecond only one source has, or both with the same rows, is taken as it is; where both have
    different rows, two windows of one stream are joined where they overlap (`_join`), so importing
    overlapping parts of a day in any order gives the day's rows in their order."""
    if kind == "candles":
        old = ~np.isin(cached["ts"], new["ts"])
        cols = {k: np.concatenate((v[old], new[k])) for k, v in cached.items()}
        order = np.argsort(cols["ts"], kind="stable")
        return {k: v[order] for k, v in cols.items()}
    both = {k: np.concatenate((cached[k], new[k])) for k in cached}
    n_old, n = len(cached["ts"]), len(both["ts"])
    keep = np.ones(n, bool)
    seq = np.concatenate((np.arange(n_old), np.arange(n - n_old)))  # order within a millisecond
    (ux, sx, cx), (uy, sy, cy) = (_millis(c["ts"]) for c in (cached, new))
    iy = np.minimum(np.searchsorted(uy, ux), max(len(uy) - 1, 0))
    ix = np.flatnonzero(uy[iy] == ux) if len(uy) else np.zeros(0, int)  # milliseconds both sources have
    iy = iy[ix]
    sx, cx, sy, cy = sx[ix], cx[ix], sy[iy] + n_old, cy[iy]
    same = cx == cy
    lens = cx[same]
    within = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
    a, b = np.repeat(sx[same], lens) + within, np.repeat(sy[same], lens) + within
    equal = np.logical_and.reduce([both[k][a] == both[k][b] for k in _TRADE_FIELDS])
    identical = np.zeros(len(same), bool)
    if len(lens):
        identical[same] = np.logical_and.reduceat(equal, np.cumsum(lens) - lens)
    keep[b[np.repeat(identical[same], lens)]] = False
    cached_first = len(ix) == 0 or cached["ts"][0] <= new["ts"][0]
    for g in np.flatnonzero(~identical):
        x, y = range(sx[g], sx[g] + cx[g]), range(sy[g], sy[g] + cy[g])
        keep[x.start:x.stop] = keep[y.start:y.stop] = False
        rx, ry = ([*zip(*(both[k][r.start:r.stop].tolist() for k in _TRADE_FIELDS))] for r in (x, y))
        joined = _join(rx, ry, list(x), list(y), cached_first)
        keep[joined] = True
        seq[joined] = np.arange(len(joined))
    order = np.lexsort((seq, both["ts"]))
    order = order[keep[order]]
    return {k: v[order] for k, v in both.items()}


_TRADE_FIELDS = ("price", "qty", "side")


def _millis(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct values, first index, count) of sorted timestamps."""
    starts = np.flatnonzero(np.r_[True, ts[1:] != ts[:-1]]) if len(ts) else np.zeros(0, int)
    return ts[starts], starts, np.diff(np.r_[starts, len(ts)])


def _join(x: list, y: list, ix: list[int], iy: list[int], x_first: bool) -> list[int]:
    """The indices of one millisecond's trades merged from two sources (`x`, `y`: rows, `ix`, `iy`:
    their indices): the longer one if it holds the other, else both joined on their longest overlap
    (end of one = start of the other), else the earlier source first when they share no trade, else
    the longer one plus the other's trades it lacks (counting identical trades)."""
    (big, ib), (small, is_) = sorted(((x, ix), (y, iy)), key=lambda t: -len(t[0]))
    if any(big[i:i + len(small)] == small for i in range(len(big) - len(small) + 1)):
        return ib
    best, joined = 0, None
    for (p, ip), (q, iq) in (((x, ix), (y, iy)), ((y, iy), (x, ix))):
        k = next(k for k in range(min(len(p), len(q)), -1, -1) if p[len(p) - k:] == q[:k])
        if k > best:
            best, joined = k, ip + iq[k:]
    if joined is not None:
        return joined
    if not Counter(small) & Counter(big):
        return ix + iy if x_first else iy + ix
    extra = Counter(small) - Counter(big)
    out = list(ib)
    for row, i in zip(small, is_):
        if extra[row] > 0:
            extra[row] -= 1
            out.append(i)
    return out


def datasets(cache_dir: str | Path | None = None) -> list[manifest.Manifest]:
    """Every data set in the cache (kind, exchange, symbol order)."""
    root = resolve_cache_dir(cache_dir)
    out = []
    for kind in dayfile.KINDS:
        for path in sorted((root / kind).glob(f"*/*/{manifest.MANIFEST}")):
            out.append(manifest.load(path.parent, path.parent.parent.name, path.parent.name, kind))
    return out
