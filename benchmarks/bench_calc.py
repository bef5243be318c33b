"""Benchmark: calls per second of `passivx.calc.entry.ideal_orders` per strategy (jitted), and the
start-up time of `passivx --help`.

    python benchmarks/bench_calc.py [--seconds 1.0]

Each strategy runs on its shipped example config, the Binance BTCUSDT market file and a state with an open
position (so entries, take-profits and, where configured, unstuck orders are all computed)."""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from passivx.calc import layout as L
from passivx.calc.entry import ideal_orders
from passivx.config import load_live_config
from passivx.markets import MarketSpec

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "classic": "configs/live/binance/ETHUSDT_default.json",
    "recursive_grid": "configs/live/binance/BTCUSDT_recursive_grid.json",
    "neat_grid": "configs/live/binance/BTCUSDT_neat_grid.json",
    "clock": "configs/live/binance/BTCUSDT_clock.json",
}


def state(classic: bool) -> np.ndarray:
    """Price 30000, balance 10000 USDT, a long of 0.1 @ 30600 (and for the modes a short of 0.05 @ 29700)."""
    s = np.zeros(L.ST_SIZE)
    s[L.S_BALANCE] = 10_000.0
    s[L.S_LAST_PRICE] = s[L.S_TICK_EMA] = 30_000.0
    s[L.S_BEST_BID], s[L.S_BEST_ASK] = 29_999.9, 30_000.0
    s[L.S_LONG_SIZE], s[L.S_LONG_PRICE] = 0.1, 30_600.0
    if not classic:
        s[L.S_SHORT_SIZE], s[L.S_SHORT_PRICE] = -0.05, 29_700.0
    s[L.S_LONG_EMA0:L.S_LONG_EMA0 + 3] = s[L.S_SHORT_EMA0:L.S_SHORT_EMA0 + 3] = (29_900.0, 30_050.0, 30_200.0)
    s[L.S_NOW_MS] = 1.7e12
    s[L.S_LONG_LAST_ENTRY_MS:L.S_SHORT_LAST_UNSTUCK_MS + 1] = -np.inf
    return s


def calls_per_second(cfg, mkt, st, whole_grid: bool, seconds: float) -> tuple[float, int]:
    """(calls/s, orders per call) over about `seconds` of repeated calls."""
    out = np.zeros((L.MAX_ORDERS, L.O_SIZE))
    memo = np.zeros(0)  # no memo: every call computes everything (a memo would answer repeats at once)
    n_orders = ideal_orders(cfg, mkt, st, whole_grid, out, memo)  # compile or load from cache
    calls, batch = 0, 100
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            ideal_orders(cfg, mkt, st, whole_grid, out, memo)
        calls += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls / elapsed, n_orders


def startup(label: str, args: list[str], runs: int = 5) -> None:
    """Print the median wall time of a fresh process running `args` (or why it failed)."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, check=False)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            print(f"{label}: failed (exit {proc.returncode}: {last})")
            return
    print(f"{label}: {statistics.median(times) * 1000:.0f} ms (median of {runs})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="timing per measurement (default 1)")
    seconds = parser.parse_args().seconds
    mkt = MarketSpec.from_file(ROOT / "configs/markets/binance_BTCUSDT.json").to_array()
    print(f"{'strategy':<16}{'grid':<7}{'orders':>7}{'calls/s':>12}{'us/call':>10}")
    for name, path in CONFIGS.items():
        cfg = load_live_config(ROOT / path).to_array()
        st = state(name == "classic")
        for whole_grid in (False, True):
            rate, n = calls_per_second(cfg, mkt, st, whole_grid, seconds)
            print(f"{name:<16}{'whole' if whole_grid else 'live':<7}{n:>7}{rate:>12,.0f}{1e6 / rate:>10.1f}")
    startup("python -c pass", [sys.executable, "-c", "pass"])
    startup("passivx --help", [sys.executable, "-m", "passivx", "--help"])
    startup("passivx calc (one state, JIT cache warm)",
            [sys.executable, "-m", "passivx", "calc", CONFIGS["recursive_grid"], "--price", "30000",
             "--balance", "10000", "--market", "configs/markets/binance_BTCUSDT.json"])

if __name__ == "__main__":
    main()
