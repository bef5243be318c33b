"""The exchanges' public daily archives: where each day's file is, and a resumable HTTP fetch.

- Binance USDT-M: <base>/data/futures/um/daily/aggTrades/<SYM>/<SYM>-aggTrades-<YYYY-MM-DD>.zip
  and .../klines/<SYM>/1m/<SYM>-1m-<YYYY-MM-DD>.zip, each with a `.CHECKSUM` (sha256) beside it.
- Bybit: <base>/trading/<SYM>/<SYM><YYYY-MM-DD>.csv.gz (no candle archive).
Bases are overridable with PASSIVX_BINANCE_ARCHIVE_URL / PASSIVX_BYBIT_ARCHIVE_URL.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from passivx.errors import DataError, ExchangeError

ARCHIVE_ENV = {"binance": ("PASSIVX_BINANCE_ARCHIVE_URL", "https://data.binance.vision"),
               "bybit": ("PASSIVX_BYBIT_ARCHIVE_URL", "https://public.bybit.com")}
FORMATS = {("binance", "trades"): "binance-aggtrades", ("binance", "candles"): "binance-klines",
           ("bybit", "trades"): "bybit-trades"}
_CHUNK = 1 << 20
_TIMEOUT_S = 60


def base_url(exchange: str) -> str:
    env, default = ARCHIVE_ENV[exchange]
    return os.environ.get(env, default).rstrip("/")


def archive_url(exchange: str, symbol: str, kind: str, day: dt.date) -> str | None:
    """URL of the day's archive file, or None where the exchange publishes none."""
    if (exchange, kind) not in FORMATS:
        return None
    base, d = base_url(exchange), day.isoformat()
    if exchange == "binance":
        if kind == "trades":
            return f"{base}/data/futures/um/daily/aggTrades/{symbol}/{symbol}-aggTrades-{d}.zip"
        return f"{base}/data/futures/um/daily/klines/{symbol}/1m/{symbol}-1m-{d}.zip"
    return f"{base}/trading/{symbol}/{symbol}{d}.csv.gz"


def _get(url: str, offset: int = 0):
    req = urllib.request.Request(url, headers={"User-Agent": "passivx", **({"Range": f"bytes={offset}-"} if offset else {})})
    return urllib.request.urlopen(req, timeout=_TIMEOUT_S)


def _download_once(url: str, part: Path) -> None:
    """Fetch `url` into `part`, continuing a partial file with a Range request when possible."""
    offset = part.stat().st_size if part.exists() else 0
    try:
        resp = _get(url, offset)
    except urllib.error.HTTPError as e:
        if e.code == 416:  # the partial file does not fit the server's file: start over next time
            part.unlink(missing_ok=True)
        raise
    with resp:
        if offset and resp.status != 206:
            offset = 0
        length = resp.headers.get("Content-Length")
        with open(part, "ab" if offset else "wb") as f:
            got = 0
            while chunk := resp.read(_CHUNK):
                f.write(chunk)
                got += len(chunk)
        if length is not None and got != int(length):
            raise http.client.IncompleteRead(b"", int(length) - got)


def fetch(url: str, dest: Path, retries: int = 4, wait: float = 1.0) -> bool:
    """Download `url` to `dest` (via `dest`.part, resumable). False if the server has no such file
    (HTTP 404); ExchangeError after `retries` failed attempts (server errors, cut connections)."""
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(retries):
        try:
            _download_once(url, part)
            os.replace(part, dest)
            return True
        except urllib.error.HTTPError as e:
            if e.code == 404:
                part.unlink(missing_ok=True)
                return False
            if e.code < 500 and e.code not in (408, 416, 429):
                raise ExchangeError(f"{url}: HTTP {e.code} {e.reason}") from None
            problem = f"HTTP {e.code}"
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
            problem = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
        if attempt < retries - 1:
            time.sleep(wait * 2 ** attempt)
    raise ExchangeError(f"{url}: failed {retries} times (last: {problem}); re-run the same command to resume")


def verify_checksum(url: str, path: Path) -> None:
    """Compare a Binance archive with its published `.CHECKSUM` (skipped when there is none)."""
    try:
        with _get(url + ".CHECKSUM") as resp:
            expected = resp.read().decode("ascii", "replace").split()[0].lower()
    except (urllib.error.URLError, OSError, IndexError, http.client.HTTPException):
        return
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    if h.hexdigest() != expected:
        path.unlink(missing_ok=True)
        raise DataError(f"{url}: downloaded file does not match its published sha256; re-run to fetch it again")
