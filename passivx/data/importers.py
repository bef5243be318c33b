"""Read trade and candle files into validated columns, and import them into the cache.

Formats (detected from the first line unless given):
- `binance-aggtrades`: agg_trade_id, price, quantity, first_trade_id, last_trade_id, transact_time,
  is_buyer_maker[, is_best_match]; with or without header (data.binance.vision aggTrades files).
- `binance-klines`: open_time, open, high, low, close, volume, close_time, ... (12 columns).
- `bybit-trades`: timestamp (seconds, float), symbol, side (Buy/Sell), size, price, ..., trdMatchID, ...
  (public.bybit.com trading files; header required).
- `trades-csv`: header with ts_ms, price, qty, side (buy/sell/empty) and optionally trade_id.
- `candles-csv`: header with open_time_ms, open, high, low, close, volume.
Any of them plain, `.gz` or single-member `.zip`. The fast path is pandas' C parser; only when it
fails does a slow pass find the first bad line so the error can name it.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import io
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from passivx.calc.jit import jit
from passivx.data import cache
from passivx.errors import DataError

TS_MIN, TS_MAX = 1_230_768_000_000, 4_102_444_800_000  # 2009-01-01 .. 2100-01-01 in ms
SIDE_WORDS = {"buy": 1, "sell": -1, "": 0}
MAKER_WORDS = {"true": -1, "false": 1}  # is_buyer_maker true -> the taker sold


@dataclass(frozen=True)
class Format:
    """A file layout: which source column feeds each of our fields and how it is converted.
    Conversions: int, float, secs (float seconds -> ms), side (buy/sell words), maker (true/false), str."""

    name: str
    kind: str
    fields: dict[str, tuple[str, str]]
    optional: tuple[str, ...] = ()
    positional: tuple[str, ...] = ()  # column names when the file may have no header
    ncols: tuple[int, ...] = ()


FORMATS = (
    Format("binance-aggtrades", "trades",
           {"id": ("agg_trade_id", "int"), "ts": ("transact_time", "int"), "price": ("price", "float"),
            "qty": ("quantity", "float"), "side": ("is_buyer_maker", "maker")},
           positional=("agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id",
                       "transact_time", "is_buyer_maker", "is_best_match"), ncols=(7, 8)),
    Format("binance-klines", "candles",
           {"ts": ("open_time", "int"), "open": ("open", "float"), "high": ("high", "float"),
            "low": ("low", "float"), "close": ("close", "float"), "volume": ("volume", "float")},
           positional=("open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume",
                       "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore"), ncols=(12,)),
    Format("bybit-trades", "trades",
           {"ts": ("timestamp", "secs"), "price": ("price", "float"), "qty": ("size", "float"),
            "side": ("side", "side"), "id": ("trdMatchID", "str")}, optional=("id",)),
    Format("trades-csv", "trades",
           {"ts": ("ts_ms", "int"), "price": ("price", "float"), "qty": ("qty", "float"),
            "side": ("side", "side"), "id": ("trade_id", "int")}, optional=("id",)),
    Format("candles-csv", "candles",
           {"ts": ("open_time_ms", "int"), "open": ("open", "float"), "high": ("high", "float"),
            "low": ("low", "float"), "close": ("close", "float"), "volume": ("volume", "float")}),
)
FORMAT_NAMES = tuple(f.name for f in FORMATS)
_DTYPES = {"int": np.int64, "float": np.float64, "secs": np.float64, "side": "category",
           "maker": "category", "str": object}


@dataclass
class Parsed:
    """One file's rows, validated, de-duplicated and sorted by time."""

    name: str
    fmt: str
    kind: str
    columns: dict[str, np.ndarray]
    ids: np.ndarray | None
    duplicates: int = 0
    reordered: int = 0
    head: bytes = b""  # the file's first bytes (its header and first rows)


@dataclass
class ImportReport:
    kind: str
    files: list[Parsed] = field(default_factory=list)
    rows: int = 0
    duplicates: int = 0
    days: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # cached days that failed their check
    merged: dict[str, int] = field(default_factory=dict)  # cached days the rows were merged into -> rows added
    warnings: list[str] = field(default_factory=list)  # prices far from the neighbouring cached days


def read_bytes(path: Path) -> bytes:
    """The decompressed content of a plain, .gz or single-member .zip file, without a UTF-8 byte
    order mark (spreadsheets save one)."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read()
        elif path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                members = [m for m in z.namelist() if not m.endswith("/")]
                if len(members) != 1:
                    raise DataError(f"{path}: expected one file inside the zip, found {len(members)}")
                data = z.read(members[0])
        else:
            data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path}: cannot read ({e})") from None
    return data.removeprefix(codecs.BOM_UTF8)


def _lines(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) byte offsets of the non-blank lines (end excludes the newline and a CR)."""
    a = np.frombuffer(data, np.uint8)
    nl = np.flatnonzero(a == 10)
    starts = np.concatenate(([0], nl + 1))
    ends = np.concatenate((nl, [len(a)]))
    if len(a):
        ends = ends - (a[np.maximum(ends - 1, 0)] == 13) * (ends > starts)
    keep = ends > starts
    return starts[keep], ends[keep]


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def detect(data: bytes, path: Path, fmt: str = "auto") -> tuple[Format, list[str] | None, int]:
    """The file's Format, its header names (None when it has no header) and its column count."""
    text = data.lstrip()
    if not text:
        raise DataError(f"{path}: empty file, no rows to import")
    end = text.find(b"\n")
    first = next(csv.reader([text[:end if end >= 0 else len(text)].decode("utf-8", "replace").strip()]))
    header = None if _is_number(first[0]) else [c.strip() for c in first]
    candidates = FORMATS if fmt == "auto" else [f for f in FORMATS if f.name == fmt]
    if not candidates:
        raise DataError(f"format {fmt!r}: expected auto or one of {', '.join(FORMAT_NAMES)}")
    for f in candidates:
        required = {src for key, (src, _) in f.fields.items() if key not in f.optional}
        if header is not None and required <= set(header):
            return f, header, len(first)
        if header is None and f.positional and len(first) in f.ncols:
            return f, None, len(first)
    shown = ",".join(first)[:120]
    raise DataError(f"{path}: first line {shown!r} matches no known layout ({', '.join(FORMAT_NAMES)}); "
                    f"give --format if the file has one of them")


@jit
def _first_miscounted_line(buf: np.ndarray, ncols: int) -> tuple[int, int]:
    """(line number, columns) of the first non-blank line without `ncols` comma-separated
    columns, or (-1, 0): one pass over the bytes."""
    line, commas, blank = 1, 0, True
    for i in range(len(buf) + 1):
        c = buf[i] if i < len(buf) else 10
        if c == 10:
            if not blank and commas != ncols - 1:
                return line, commas + 1
            line, commas, blank = line + 1, 0, True
        elif c == 44:
            commas += 1
            blank = False
        elif c != 13 and c != 32:
            blank = False
    return -1, 0


def _bad_column_count(data: bytes, ncols: int) -> tuple[int, int] | None:
    """(line number, columns) of the first line with a wrong column count, for unquoted CSV
    (pandas ignores surplus fields when only some columns are read)."""
    if b'"' in data:
        return None  # quoted fields may hold commas: pandas' own check (all columns read) applies
    line, count = _first_miscounted_line(np.frombuffer(data, np.uint8), ncols)
    return None if line < 0 else (int(line), int(count))


def _line_number(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _convert(word_map: dict[str, int], values: pd.Categorical) -> tuple[np.ndarray, int]:
    """Map a categorical of words to int8 codes; return (codes, first bad row or -1)."""
    lookup = np.array([word_map.get(str(c).strip().lower(), 99) for c in values.categories] + [99], np.int8)
    out = lookup[values.codes]  # code -1 (missing) picks the trailing 99
    bad = np.flatnonzero(out == 99)
    return out, int(bad[0]) if len(bad) else -1


def _parse_value(conv: str, s: str) -> str | None:
    """Why one raw field is unusable for `conv`, or None (the slow path's per-field check)."""
    s = s.strip()
    try:
        if conv == "int":
            int(s)
        elif conv in ("float", "secs"):
            if not math.isfinite(float(s)):
                return f"{s!r} is not a finite number"
        elif conv == "side" and s.lower() not in SIDE_WORDS:
            return f"side {s!r} is not buy or sell"
        elif conv == "maker" and s.lower() not in MAKER_WORDS:
            return f"{s!r} is not true or false"
    except ValueError:
        return f"{s!r} is not a{'n integer' if conv == 'int' else ' number'}"
    return None


def _find_bad_line(data: bytes, f: Format, header: list[str] | None, ncols: int) -> tuple[int, str] | None:
    """Slow pass: the first line whose column count or a needed field is wrong."""
    names = header if header is not None else list(f.positional[:ncols])
    needed = [(src, conv, names.index(src)) for src, conv in f.fields.values() if src in names]
    reader = csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline=""))
    skip_header = header is not None
    for row in reader:
        if not any(c.strip() for c in row):
            continue
        if skip_header:
            skip_header = False
            continue
        if len(row) != ncols:
            return reader.line_num, f"{len(row)} columns, expected {ncols}"
        for src, conv, i in needed:
            problem = _parse_value(conv, row[i])
            if problem:
                return reader.line_num, f"{src}: {problem}"
    return None


def _line_of_row(data: bytes, header: list[str] | None, row: int) -> int:
    """Line number of data row `row` (0-based), skipping the header and blank lines."""
    starts, _ = _lines(data)
    return _line_number(data, int(starts[row + (header is not None)]))


def _semantic_problems(kind: str, cols: dict[str, np.ndarray]) -> tuple[int, str]:
    """First row (index) breaking a value rule, with the rule; (-1, "") if none."""
    ts = cols["ts"]
    checks = [(~((ts >= TS_MIN) & (ts < TS_MAX)), "timestamp outside 2009..2100 (ms expected)")]
    if kind == "trades":
        checks += [(~(np.isfinite(cols["price"]) & (cols["price"] > 0)), "price must be > 0"),
                   (~(np.isfinite(cols["qty"]) & (cols["qty"] > 0)), "quantity must be > 0")]
    else:
        o, h, lo, c, v = (cols[k] for k in ("open", "high", "low", "close", "volume"))
        checks += [(ts % 60_000 != 0, "candle open time is not on a whole minute"),
                   (~(np.isfinite(o + h + lo + c) & (lo > 0)), "prices must be finite and > 0"),
                   (~((h >= np.maximum(o, c)) & (lo <= np.minimum(o, c))), "high/low do not bound open/close"),
                   (~(np.isfinite(v) & (v >= 0)), "volume must be >= 0")]
    worst = (-1, "")
    for bad, why in checks:
        idx = np.flatnonzero(bad)
        if len(idx) and (worst[0] < 0 or idx[0] < worst[0]):
            worst = (int(idx[0]), why)
    return worst


def read_file(path: str | Path, fmt: str = "auto") -> Parsed:
    """Parse one file fully; DataError naming the file and line of the first malformed row."""
    path = Path(path)
    data = read_bytes(path)
    f, header, ncols = detect(data, path, fmt)
    present = [k for k, (src, _) in f.fields.items()
               if k not in f.optional or (header is not None and src in header)]
    names = header if header is not None else list(f.positional[:ncols])
    usecols = None if b'"' in data else [f.fields[k][0] for k in present]  # quoted: let pandas count fields
    dtypes = {f.fields[k][0]: _DTYPES[f.fields[k][1]] for k in present}

    def fail(line: int, why: str):
        where = f"{path} line {line}" if line > 0 else str(path)
        return DataError(f"{where}: {why}; fix or remove it and import again (nothing was imported)")

    miscount = _bad_column_count(data, ncols)
    if miscount:
        raise fail(miscount[0], f"{miscount[1]} columns, expected {ncols}")
    try:
        df = pd.read_csv(io.BytesIO(data), header=0 if header is not None else None, names=names, usecols=usecols,
                         dtype=dtypes, index_col=False, na_filter=False, engine="c")
    except (ValueError, OverflowError, pd.errors.ParserError, UnicodeDecodeError) as e:
        found = _find_bad_line(data, f, header, ncols)
        raise fail(*found) if found else fail(0, f"cannot parse ({e})") from None
    if len(df) == 0:
        raise DataError(f"{path}: header only, no rows to import")
    cols: dict[str, np.ndarray] = {}
    for key in present:
        src, conv = f.fields[key]
        series = df[src]
        if conv in ("side", "maker"):
            cols[key], bad = _convert(SIDE_WORDS if conv == "side" else MAKER_WORDS, series.array)
            if bad >= 0:
                raise fail(_line_of_row(data, header, bad), f"{src}: {series.iloc[bad]!r} is not a valid value")
        elif conv == "secs":
            cols[key] = np.floor(series.to_numpy(np.float64) * 1000.0 + 1e-3).astype(np.int64)
        elif conv == "str":
            cols[key] = series.to_numpy(object)
        else:
            cols[key] = series.to_numpy(_DTYPES[conv])
    if f.name.startswith("binance") and cols["ts"].max() > 10 * TS_MAX:  # newer spot files: microseconds
        cols["ts"] = cols["ts"] // 1000
    bad, why = _semantic_problems(f.kind, cols)
    if bad >= 0:
        raise fail(_line_of_row(data, header, bad), why)
    ids = cols.pop("id", None)
    cols, ids, dup, backsteps = dedupe_sort(cols, ids if f.kind == "trades" else cols["ts"])
    return Parsed(str(path), f.name, f.kind, cols, ids if f.kind == "trades" else None, dup, backsteps,
                  data[:4096])


def dedupe_sort(cols: dict[str, np.ndarray], keys: np.ndarray | None):
    """Drop rows whose key repeats an earlier one, then stable-sort by time (newest-first input is
    read backwards, so rows sharing a millisecond keep their order of execution).
    Returns (columns, ids, duplicates dropped, rows that were out of order)."""
    dup = 0
    if keys is not None:
        mask = pd.Series(keys).duplicated().to_numpy()
        dup = int(mask.sum())
        if dup:
            keep = ~mask
            cols = {k: v[keep] for k, v in cols.items()}
            keys = keys[keep]
    ts = cols["ts"]
    steps = np.diff(ts)
    backsteps = int(np.count_nonzero(steps < 0))
    if backsteps:
        order = np.argsort(ts, kind="stable")
        if backsteps > np.count_nonzero(steps > 0):  # newest first: keep same-ms trades in true order
            order = len(ts) - 1 - np.argsort(ts[::-1], kind="stable")
        cols = {k: v[order] for k, v in cols.items()}
        keys = keys[order] if keys is not None else None
    return cols, keys, dup, backsteps


def combine(parsed: list[Parsed]) -> tuple[dict[str, np.ndarray], int]:
    """Merge files of one kind: concatenate, drop repeated ids (or candle minutes), sort by time."""
    kinds = {p.kind for p in parsed}
    if len(kinds) > 1:
        raise DataError("cannot import trades and candles in one command: import them separately")
    if len(parsed) == 1:
        return parsed[0].columns, 0
    cols = {k: np.concatenate([p.columns[k] for p in parsed]) for k in parsed[0].columns}
    keys = None
    if parsed[0].kind == "candles":
        keys = cols["ts"]
    elif all(p.ids is not None for p in parsed):
        keys = np.concatenate([p.ids.astype(object) if p.ids.dtype == object else p.ids for p in parsed])
    cols, _, dup, _ = dedupe_sort(cols, keys)
    return cols, dup


def import_files(paths: list[str | Path], exchange: str, symbol: str, cache_dir: str | Path | None = None,
                 fmt: str = "auto", force: bool = False) -> ImportReport:
    """Parse every file first (any error aborts before anything is written), then write the UTC
    days they cover in one commit. A day already cached is merged with the new rows (a partial day
    adds to it, rows it already has are not repeated: `cache.merge_rows`); one failing its check is replaced.
    A file whose name or content names another symbol or market is refused unless `force` (`check_names`);
    prices far from the neighbouring cached days are reported in `warnings` (`price_jumps`)."""
    if not paths:
        raise DataError("no files given to import")
    parsed = [read_file(p, fmt) for p in paths]
    cols, dup = combine(parsed)
    kind = parsed[0].kind
    if not force:
        from passivx.data import manifest

        ex, sym = cache.names(exchange, symbol)
        man = manifest.load(cache.dataset_dir(cache_dir, kind, ex, sym), ex, sym, kind)
        days = [day.isoformat() for day, _, _ in cache.split_days(cols["ts"])]
        sources = [man.days[d].get("source", "") for d in days if d in man.days]
        for p in parsed:
            check_names(p.name, p.head, exchange, symbol, sources)
    warnings = price_jumps(kind, cols, exchange, symbol, cache_dir)
    stored = cache.store_days(exchange, symbol, kind, cols, f"import {', '.join(Path(p).name for p in paths)}",
                              cache_dir, merge=True)
    return ImportReport(kind, parsed, len(cols["ts"]), dup + sum(p.duplicates for p in parsed), stored.written,
                        stored.replaced, stored.merged, warnings)


# ---- what a file says it holds (its name or a symbol column) against --exchange / --symbol -----------
_NORMALISED = re.compile(r"^(?P<market>[a-z][a-z0-9]*(?:-[a-z0-9]+)?)_(?P<symbol>.+?)_(?:trades|\d+[smhdw])_\d{4}-\d{2}")
_BINANCE_ARCHIVE = re.compile(r"^(?P<symbol>[A-Z0-9]+)-(?:aggTrades|trades|\d+[smhdwM])-\d{4}-\d{2}")
_BYBIT_ARCHIVE = re.compile(r"^(?P<symbol>[A-Z0-9]+?)\d{4}-\d{2}-\d{2}\.csv")
FUTURES_EXCHANGES = {"binance": ("binance-usdm", "binance-futures"), "bybit": ("bybit",)}  # passivx's own names


def _plain(symbol: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", symbol.upper())


def named_market(path: str | Path, data: bytes | None = None) -> tuple[str | None, str | None]:
    """(market, symbol) that a file's name (Binance and Bybit archive names, the normalised CSVs'
    `{market}_{SYMBOL}_{trades|1m}_...`) or its `symbol` column names; None where it names nothing."""
    name = Path(path).name
    market = symbol = None
    if m := _NORMALISED.match(name):
        market, symbol = m["market"], m["symbol"]
    elif m := _BINANCE_ARCHIVE.match(name):
        market, symbol = "binance", m["symbol"]
    elif m := _BYBIT_ARCHIVE.match(name):
        market, symbol = "bybit", m["symbol"]
    if data is not None:
        head = data.lstrip()[:4096].decode("utf-8", "replace").splitlines()
        rows = list(csv.reader(head[:2]))
        if len(rows) == 2 and "symbol" in rows[0] and len(rows[1]) == len(rows[0]):
            symbol = rows[1][rows[0].index("symbol")].strip() or symbol
    return market, symbol


def check_names(path: str | Path, data: bytes, exchange: str, symbol: str, cached_sources: list[str]) -> None:
    """DataError when the file names another symbol than `symbol`, a market that is not `exchange` (for
    passivx's own exchange names binance and bybit, both perpetual futures), or is spot data while the
    exchange or the cached days it joins hold futures. Other exchange names are the user's labels."""
    market, named = named_market(path, data)
    fix = "; check --exchange/--symbol, or add --force if the file is what you say"
    if named is not None and _plain(named) != _plain(symbol):
        raise DataError(f"{path}: the file is for symbol {named}, not --symbol {symbol}{fix}")
    if market is None:
        return
    ex = exchange.lower()
    spot = "spot" in market.split("-")
    if ex in FUTURES_EXCHANGES and (spot or not market.startswith(FUTURES_EXCHANGES[ex]) and market != ex):
        raise DataError(f"{path}: the file is {market} data, not {ex} perpetual futures (--exchange {exchange}){fix}")
    if spot and any(("spot" not in s) for s in cached_sources):
        raise DataError(f"{path}: spot data over cached futures days of {exchange} {symbol}{fix}")


def price_jumps(kind: str, cols: dict[str, np.ndarray], exchange: str, symbol: str,
                cache_dir: str | Path | None, limit: float = 0.3) -> list[str]:
    """Warnings where the new rows' prices differ by more than `limit` from the neighbouring cached days
    (the last price of the day before, the first of the day after, the median of a day merged into):
    a file of another market or a unit error imports cleanly but would make nonsense of a backtest."""
    from passivx.data import dayfile, manifest

    field = "price" if kind == "trades" else "close"
    directory = cache.dataset_dir(cache_dir, kind, exchange, symbol)
    man = manifest.load(directory, *cache.names(exchange, symbol), kind)
    days = cache.split_days(cols["ts"])
    first_day, last_day = days[0][0], days[-1][0]
    checks = [(first_day - dt.timedelta(days=1), -1, cols[field][0], "last price of"),
              (last_day + dt.timedelta(days=1), 0, cols[field][-1], "first price of")]
    checks += [(day, None, float(np.median(cols[field][lo:hi])), "median price of") for day, lo, hi in days]
    out = []
    for day, at, new, what in checks:
        iso = day.isoformat()
        if iso not in man.days or cache.check_day(directory, man, iso, "size"):
            continue
        old = dayfile.map_day(directory / man.days[iso]["file"], kind)[field]
        ref = float(np.median(old)) if at is None else float(old[at])
        if ref > 0 and abs(new / ref - 1.0) > limit:
            out.append(f"imported prices ({new:.8g}) are {new / ref - 1.0:+.0%} from the {what} the cached day "
                       f"{iso} ({ref:.8g}): another market or unit?")
    return out
