"""Benchmark: Jackrabbit candidates per minute with 1 and 2 local workers, and the time per candidate
spent outside the replay (scheduling, results, bookkeeping), on real trades.

    python benchmarks/bench_optimize.py              # about 30 seconds
    python benchmarks/bench_optimize.py --quick      # small smoke run
    python benchmarks/bench_optimize.py --candidates 480   # longer runs (default 160 candidates)

Data (../shared/data, real): the bitFlyer BTC/JPY executions, 1.23 M trades over the ten days
2018-01-20..30, imported into a temporary cache. Each candidate is a classic config backtested over all
ten days (the engine replay, as stats.json counts `seconds`). The search loop is timed from the first
candidate submitted to the last result journaled, after the workers have started and loaded the engine;
the best's final report is not part of it. Both runs use the same seed, so they evaluate the same
candidates (checked). With N workers, the main process and N - 1 worker processes evaluate candidates.
On a shared machine the wall-clock figures include time the processes waited for a core (shown: their
run-queue wait, /proc/PID/schedstat); the CPU-time figures do not, so they measure the optimizer's own
cost: the CPU time of the main process and of the worker processes during the search (Linux's
per-process scheduler clock, /proc/PID/schedstat), less the engine replays' (time.process_time around
each engine call).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "trades" / "bitflyer_BTC_JPY_trades_2018-01-21_2018-01-30.csv.gz"
JPY = dict(price_step=1.0, qty_step=0.001, min_qty=0.001, min_cost=0.0, maker_fee=0.0002, taker_fee=0.0005,
           mm_rate=0.004, max_leverage=100.0)
RANGES = {"grid_spacing": [0.002, 0.02], "grid_coefficient": [5, 100], "min_markup": [0.0005, 0.004],
          "max_markup": [0.004, 0.02], "entry_qty_pct": [0.002, 0.03], "ddown_factor": [0.1, 1.0],
          "leverage": [2, 10]}


class _Bar:
    def set_postfix_str(self, *a, **k):
        pass

    def update(self, n):
        pass


def timed_search(settings_path: Path, out: Path, workers: int, n: int) -> dict:
    """Run the search loop of `passivx optimize` with `workers` local processes; its figures."""
    from passivx.config.backtest import load_backtest_settings
    from passivx.optimize import journal
    from passivx.optimize.run import Options, _backend, _prepare, _search_loop, _vector
    from passivx.optimize.search import Judge, Search
    from passivx.optimize.space import build_space

    opts = Options(iterations=n, workers=workers, out=str(out), batch=8, plots=False, progress=False)
    folder, meta, ev = _prepare(load_backtest_settings(settings_path), opts)
    s = ev.settings
    search = Search(build_space(s.ranges, meta["mode"], s.source, ev.market.max_leverage), meta["start"], n,
                    meta["seed"], meta["batch"], Judge(s.objective, s.constraints), _vector(ev))
    backend = _backend(ev, opts, n)  # starts the workers and waits until each has loaded the data and engine
    t0, c0, (p0, q0) = time.perf_counter(), time.process_time(), _schedstat()
    _search_loop(search, meta, folder, backend, {}, _Bar())
    wall, main_cpu, (p1, q1) = time.perf_counter() - t0, time.process_time() - c0, _schedstat()
    backend.close()
    records = journal.read_results(folder)
    k = len(records)
    total = {key: sum(r["seconds"][key] for r in records) for key in records[0]["seconds"]}
    return {"workers": workers, "n": k, "wall": wall, "per_min": k / wall * 60,
            "mean_replay": total["replay"] / k, "outside": (wall * workers - total["replay"]) / k,
            "mean_replay_cpu": total["replay_cpu"] / k, "main_cpu": main_cpu / k, "procs_cpu": (p1 - p0) / k,
            "outside_cpu": (main_cpu + p1 - p0 - total["replay_cpu"]) / k, "waited": (q1 - q0) / k,
            "params": {r["k"]: r["params"] for r in records},
            "fills_per_day": sum(r["stats"]["fills_per_day"] for r in records) / k}


def _schedstat() -> tuple[float, float]:
    """(CPU seconds the worker processes (this process's children) have used so far, seconds this process
    and they have waited for a core while runnable, i.e. while other programs ran)."""
    import psutil

    children = [child.pid for child in psutil.Process().children()]
    cpu = wait = 0
    for pid in ["self", *children]:
        with open(f"/proc/{pid}/schedstat") as f:  # nanoseconds (psutil's cpu_times has 10 ms steps)
            ran, waited, _ = (int(x) for x in f.read().split())
        cpu += ran if pid != "self" else 0  # this process's CPU time: time.process_time (all its threads)
        wait += waited
    return cpu / 1e9, wait / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer candidates")
    parser.add_argument("--candidates", type=int, default=160, help="candidates per run (default 160)")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"real data not found at {DATA}")
    from passivx.data.importers import import_files

    tmp = Path(tempfile.mkdtemp(prefix="passivx-bench-opt-"))
    try:
        report = import_files([DATA], "bitflyer", "BTC_JPY", tmp / "cache")
        settings = {"exchange": "bitflyer", "symbol": "BTC_JPY", "start_date": report.days[0],
                    "end_date": report.days[-1], "starting_balance": 10_000_000, "latency_simulation_ms": 1000,
                    "market": JPY, "cache_dir": str(tmp / "cache"), "ranges": RANGES,
                    "constraints": {"min_liquidation_distance": 0.05, "max_drawdown": 0.5}}
        path = tmp / "bench.hjson"
        path.write_text(json.dumps(settings))
        n = 24 if args.quick else args.candidates
        print(f"bitFlyer BTC/JPY {report.days[0]}..{report.days[-1]}: {report.rows:,} trades; {n} candidates, "
              f"classic, batch 8; cores {os.cpu_count()}, load average before {os.getloadavg()[0]:.2f}")
        runs = [timed_search(path, tmp / f"w{w}", w, n) for w in (1, 2)]
        assert runs[0]["params"] == runs[1]["params"], "1 and 2 workers drew different candidates"
        for r in runs:
            print(f"{r['workers']} worker(s): {r['n']} candidates in {r['wall']:.2f} s = {r['per_min']:.0f} "
                  f"candidates/min; mean fills/day {r['fills_per_day']:.0f}\n"
                  f"  wall: replay {r['mean_replay'] * 1000:.1f} ms/candidate, outside it (workers x wall - replay) "
                  f"{r['outside'] * 1000:.2f} ms = {r['outside'] / r['mean_replay']:.1%} of the replay\n"
                  f"  CPU:  replay {r['mean_replay_cpu'] * 1000:.1f} ms/candidate, outside it (main + worker "
                  f"processes - replay) {r['outside_cpu'] * 1000:.2f} ms = "
                  f"{r['outside_cpu'] / r['mean_replay_cpu']:.1%} of the replay (all CPU a candidate: main process "
                  f"{r['main_cpu'] * 1000:.2f} ms, worker processes {r['procs_cpu'] * 1000:.2f} ms)\n"
                  f"  waited for a core (other programs running): {r['waited'] * 1000:.2f} ms/candidate")
        print(f"2 workers / 1 worker: {runs[1]['per_min'] / runs[0]['per_min']:.2f}x; "
              f"load average after {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
