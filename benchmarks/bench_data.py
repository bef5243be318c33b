"""Data benchmarks: CSV import speed, open + replay-scan speed over a cached month, and memory while
replaying 100 M cached trades day by day.

    python benchmarks/bench_data.py            # full run (writes ~3.5 GB under a temp dir, removed after)
    python benchmarks/bench_data.py --quick    # smaller sizes, for a smoke test

Everything runs in a temporary cache directory. Figures are best-of-N wall times on this machine.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from passivx.calc.jit import jit
from passivx.data import cache, importers, synthetic

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
START = dt.date(2024, 1, 1)


@jit
def scan(ts, price, qty, side):
    """What a replay loop minimally does per trade: read all four columns, update a few numbers."""
    ema, vol, buys, last = price[0], 0.0, 0, ts[0]
    for i in range(len(ts)):
        ema = ema * 0.999 + price[i] * 0.001
        vol += qty[i]
        buys += side[i] > 0
        last = ts[i]
    return ema, vol, buys, last


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size in MiB, from /proc (Linux)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def bench_import(tmp: Path, days: int, repeat: int) -> None:
    trades = synthetic.generate_trades(days=days, seed=1)
    n = len(trades["ts"])
    ids = np.arange(n) + 10**9
    df = pd.DataFrame({"a": ids, "p": trades["price"], "q": trades["qty"], "f": ids, "l": ids, "t": trades["ts"],
                       "m": np.where(trades["side"] < 0, "true", "false")})
    plain = tmp / "BTCUSDT-aggTrades.csv"
    df.to_csv(plain, index=False, header=False)
    zipped = tmp / "BTCUSDT-aggTrades.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(plain, plain.name)
    files = [("Binance aggTrades csv (synthetic rows)", plain, n), ("same, zipped", zipped, n)]
    bitflyer = SHARED / "trades" / "bitflyer_BTC_JPY_trades_2018-01-21_2018-01-30.csv.gz"
    if bitflyer.exists():
        files.append(("bitFlyer normalised csv.gz (real)", bitflyer, 1_229_723))
    importers.read_file(plain)  # compile the jitted line check once
    print(f"import ({n:,} rows; parse + validate + sort + write days + commit):")
    for label, path, rows in files:
        t_parse = best(lambda path=path: importers.read_file(path), repeat)
        t_all = best(lambda path=path: importers.import_files([path], "bench", "X", tmp / "cache"), repeat)
        print(f"  {label:40s} parse {rows / t_parse / 1e6:5.2f} M rows/s   import {rows / t_all / 1e6:5.2f} M rows/s "
              f"({path.stat().st_size / 1e6:,.0f} MB)")


def write_tiled(cache_dir: Path, n_days: int, per_day: int | None) -> int:
    """n_days of synthetic trades (a week generated per seed, or one day tiled to per_day rows)."""
    total = 0
    if per_day is None:
        for week in range(0, n_days, 7):
            k = min(7, n_days - week)
            t = synthetic.generate_trades(START + dt.timedelta(days=week), k, seed=week)
            cache.store_days("bench", "BTCUSDT", "trades", t, "bench", cache_dir)
            total += len(t["ts"])
        return total
    base = synthetic.generate_trades(days=2, seed=3)
    reps = -(-per_day // len(base["ts"]) * 2)
    day = {k: np.tile(v, reps)[:per_day] for k, v in base.items()}
    day["ts"] = cache.day_start_ms(START) + np.sort(np.random.default_rng(0).integers(0, cache.DAY_MS, per_day))
    for i in range(n_days):
        cols = dict(day, ts=day["ts"] + i * cache.DAY_MS)
        cache.store_days("bench", "BTCUSDT", "trades", cols, "bench", cache_dir)
        total += per_day
    return total


def replay(cache_dir: Path, n_days: int, release: bool = True) -> tuple[int, float, float]:
    """Open the days, scan each; returns (trades, open seconds, total seconds)."""
    t = time.perf_counter()
    days = cache.open_days("bench", "BTCUSDT", START, START + dt.timedelta(days=n_days - 1), cache_dir=cache_dir)
    t_open = time.perf_counter() - t
    n = 0
    for d in days:
        scan(d.ts, d.price, d.qty, d.side)
        n += d.rows
        if release:
            d.release()
    return n, t_open, time.perf_counter() - t


def bench_month(tmp: Path, n_days: int, repeat: int) -> None:
    cache_dir = tmp / "month"
    t = time.perf_counter()
    total = write_tiled(cache_dir, n_days, None)
    print(f"\nmonth: {n_days} days, {total:,} synthetic trades written in {time.perf_counter() - t:.1f} s "
          f"({sum(f.stat().st_size for f in cache_dir.rglob('*.pxd')) / 1e9:.2f} GB)")
    scan(np.zeros(2, np.int64), np.ones(2), np.ones(2), np.ones(2, np.int8))
    replay(cache_dir, n_days)  # warm the page cache (and stamp checks)
    runs = [replay(cache_dir, n_days) for _ in range(repeat)]
    n, t_open, t_all = min(runs, key=lambda r: r[2])
    print(f"  open_days (stat + manifest, {n_days} days): {t_open * 1e3:.1f} ms")
    print(f"  open + map + scan every trade: {n / t_all / 1e6:.0f} M trades/s ({t_all:.3f} s)")
    d = cache.open_days("bench", "BTCUSDT", START, START, cache_dir=cache_dir)[0]
    arrays = (d.ts, d.price, d.qty, d.side)
    t_scan = best(lambda: scan(*arrays), repeat)
    print(f"  scan alone, one mapped day already touched: {d.rows / t_scan / 1e6:.0f} M trades/s")
    t_full = best(lambda: cache.open_days("bench", "BTCUSDT", START, START + dt.timedelta(days=n_days - 1),
                                          cache_dir=cache_dir, verify="full"), 1)
    print(f"  for comparison, open with a full sha256 of every file: {n / t_full / 1e6:.0f} M trades/s")


def bench_memory(tmp: Path, n_days: int, per_day: int) -> None:
    cache_dir = tmp / "big"
    t = time.perf_counter()
    total = write_tiled(cache_dir, n_days, per_day)
    size = sum(f.stat().st_size for f in cache_dir.rglob("*.pxd"))
    print(f"\nmemory: {total:,} trades in {n_days} day files ({size / 1e9:.2f} GB) written in "
          f"{time.perf_counter() - t:.1f} s")
    # a fresh process so the peak RSS is the replay's own
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_data as b;"
            "from pathlib import Path; b.scan(b.np.zeros(2, b.np.int64), b.np.ones(2), b.np.ones(2), b.np.ones(2, b.np.int8));"
            f"r0 = b.rss_mb()[0]; n, to, tt = b.replay(Path({str(cache_dir)!r}), {n_days}); r, peak = b.rss_mb();"
            "print(n, tt, r0, peak)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    n, tt, r0, peak = int(out[0]), float(out[1]), float(out[2]), float(out[3])
    print(f"  replayed {n:,} trades in {tt:.1f} s ({n / tt / 1e6:.0f} M trades/s, includes reading from disk "
          f"if not in the page cache)")
    print(f"  RSS before {r0:.0f} MiB, peak during replay {peak:.0f} MiB (one day is {size / n_days / 2**20:.0f} MiB; "
          f"all days {size / 2**20:,.0f} MiB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="passivx-bench-"))
    try:
        if args.quick:
            bench_import(tmp, 1, 1)
            bench_month(tmp, 3, 2)
            bench_memory(tmp, 4, 250_000)
        else:
            bench_import(tmp, 5, 3)
            bench_month(tmp, 30, 3)
            bench_memory(tmp, 100, 1_000_000)
        print(f"\npeak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
              f"cpu count {os.cpu_count()}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
