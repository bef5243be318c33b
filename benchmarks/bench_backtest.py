"""Benchmark: backtest replay speed per strategy (jitted) on real data, peak memory, and the start-up
time of a second `passivx backtest` process.

    python benchmarks/bench_backtest.py            # about 3 minutes
    python benchmarks/bench_backtest.py --quick    # small smoke run
    python benchmarks/bench_backtest.py --big      # adds a 100 M-trade run through the cache (~2.5 GB disk)

Data (../shared/data, real):
- bitFlyer BTC/JPY executions, 1.23 M trades over 10 days (1.4 trades/s: sparse, so the bot's once-per-
  second recomputations weigh most), played 10 times (every other copy backwards, so the price path
  stays continuous): 12.3 M trades, 100 days;
- the Binance USDT-M BTCUSDT window of 2024-08-08 (21 k trades in 5.7 minutes, 62 trades/s), played back
  and forth to about 10 M trades;
- Binance USDT-M BTCUSDT 1-minute candles, 73 k, played back and forth to a year (525,600).
Each mode runs one config that trades actively (hundreds of fills a day on trades; printed). The replay time is
measured the way `stats.json` counts `seconds`: the engine only, after its compiled code is loaded.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from passivx.backtest import layout as B
from passivx.backtest.context import new_context
from passivx.config.live import parse_live_config
from passivx.markets import MarketSpec

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DAY_MS = 86_400_000
JPY = MarketSpec(price_step=1.0, qty_step=0.001, min_qty=0.001, min_cost=0.0, maker_fee=0.0002,
                 taker_fee=0.0005, mm_rate=0.004, max_leverage=100.0)
USDT = MarketSpec(price_step=0.1, qty_step=0.001, min_qty=0.001, min_cost=5.0, maker_fee=0.0002,
                  taker_fee=0.0005, mm_rate=0.004, max_leverage=125.0)


def _side(**mode_keys) -> dict:
    common = {"enabled": True, "ema_span_0": 5, "ema_span_1": 30, "wallet_exposure_limit": 1.0,
              "min_markup": 0.003, "markup_range": 0.004, "n_close_orders": 4, "backwards_tp": False}
    return {**common, **mode_keys}


_UNSTUCK = {"auto_unstuck_threshold": 0.2, "auto_unstuck_ema_dist": 0.001, "auto_unstuck_delay_minutes": 60,
            "auto_unstuck_qty_pct": 0.02}
MODES = {
    "classic": {
        "balance_pct": 1.0, "config_name": "bench_classic", "cross_mode": True, "entry_qty_pct": 0.01,
        "ddown_factor": 0.5, "indicator_settings": {"tick_ema": {"span": 500, "spread": 0.001},
                                                    "funding_fee_collect_mode": False, "do_long": True,
                                                    "do_shrt": True},
        "grid_coefficient": 20.0, "grid_spacing": 0.004, "stop_loss_liq_diff": 0.02,
        "stop_loss_pos_price_diff": 0.05, "stop_loss_pos_reduction": 0.05, "leverage": 5, "logging_level": 0,
        "min_markup": 0.0015, "max_markup": 0.006, "min_close_qty_multiplier": 0.5, "market_stop_loss": False,
        "n_close_orders": 5, "n_entry_orders": 4, "symbol": "BTC"},
    "recursive_grid": _side(initial_qty_pct=0.02, initial_eprice_ema_dist=0.0, ddown_factor=0.6,
                            rentry_pprice_dist=0.005, rentry_pprice_dist_wallet_exposure_weighting=2.0, **_UNSTUCK),
    "neat_grid": _side(initial_qty_pct=0.02, initial_eprice_ema_dist=0.0, grid_span=0.08, eprice_exp_base=1.3,
                       eqty_exp_base=1.5, max_n_entry_orders=8, **_UNSTUCK),
    "clock": _side(delay_between_fills_minutes_entry=15, delay_between_fills_minutes_close=15,
                   delay_weight_entry=10, delay_weight_close=10, ema_dist_entry=0.002, ema_dist_close=0.002,
                   qty_pct_entry=0.03, qty_pct_close=0.05, we_multiplier_entry=0.5, we_multiplier_close=0.5),
}


_DISTANCES = ("spread", "grid_spacing", "min_markup", "max_markup", "markup_range", "rentry_pprice_dist",
              "grid_span", "ema_dist_entry", "ema_dist_close", "auto_unstuck_ema_dist")


def _scaled(node, scale: float):
    if isinstance(node, dict):
        return {k: v * scale if k in _DISTANCES else _scaled(v, scale) for k, v in node.items()}
    return node


def config(name: str, scale: float = 1.0) -> np.ndarray:
    """The mode's benchmark config as a cfg vector, its price distances multiplied by `scale` (and by 1.5
    for the grid modes, which then fill about as often as the classic config on bitFlyer)."""
    data = MODES[name] if name == "classic" else {"mode": name, "config_name": f"bench_{name}",
                                                  "symbol": "BTC", "long": MODES[name], "short": MODES[name]}
    return parse_live_config(_scaled(data, scale * (1.0 if name == "classic" else 1.5))).to_array()


def readonly(*arrays: np.ndarray) -> tuple:
    """Typed like the cache's memory maps (read-only), as the backtest command replays them."""
    for a in arrays:
        a.setflags(write=False)
    return arrays


def back_and_forth(ts: np.ndarray, cols: list[np.ndarray], copies: int, reverse_swap=None):
    """`copies` plays of the rows, every other one backwards (gaps between rows reversed too), so prices
    join up. `reverse_swap` (i, j) swaps two columns in the backward plays (candle open and close)."""
    gaps = np.diff(ts)
    join = int(np.median(gaps)) or 1
    parts_gap, parts = [], [[] for _ in cols]
    for k in range(copies):
        back = k % 2 == 1
        parts_gap.append(np.r_[join if k else 0, gaps[::-1] if back else gaps])
        order = [cols[j] for j in range(len(cols))]
        if back and reverse_swap:
            i, j = reverse_swap
            order[i], order[j] = order[j], order[i]
        for j, c in enumerate(order):
            parts[j].append(c[::-1] if back else c)
    out_ts = ts[0] + np.cumsum(np.concatenate(parts_gap))
    return out_ts.astype(np.int64), [np.ascontiguousarray(np.concatenate(p)) for p in parts]


def bitflyer(copies: int):
    import pandas as pd

    df = pd.read_csv(DATA / "trades" / "bitflyer_BTC_JPY_trades_2018-01-21_2018-01-30.csv.gz",
                     usecols=["ts_ms", "price", "side"])
    side = df.side.map({"buy": 1, "sell": -1}).fillna(0).to_numpy().astype(np.int8)
    ts, (price, side) = back_and_forth(df.ts_ms.to_numpy(), [df.price.to_numpy(), side], copies)
    return readonly(ts, price, side)


def binance(target_rows: int):
    import pandas as pd

    df = pd.read_csv(DATA / "trades" / "binance-usdm_BTCUSDT_trades_2024-08-08.csv", usecols=["ts_ms", "price", "side"])
    side = np.where(df.side.to_numpy() == "buy", 1, -1).astype(np.int8)
    copies = max(1, target_rows // len(df))
    ts, (price, side) = back_and_forth(df.ts_ms.to_numpy(), [df.price.to_numpy(), side], copies)
    return readonly(ts, price, side)


def candles(minutes: int):
    import pandas as pd

    df = pd.read_csv(DATA / "candles_1m" / "binance-usdm_BTCUSDT_1m_2025-05-04_2025-06-24.csv")
    cols = [df[c].to_numpy() for c in ("open", "high", "low", "close")]
    copies = max(1, -(-minutes // len(df)))
    ts, cols = back_and_forth(df.open_time_ms.to_numpy(), cols, copies, reverse_swap=(0, 3))
    return readonly(ts[:minutes], *(c[:minutes] for c in cols))


def replay(name: str, scale: float, market: MarketSpec, balance: float, rows: tuple, kind: str, repeats: int):
    """Best-of-`repeats` replay seconds and the finished workspace."""
    ts = rows[0]
    best, w = float("inf"), None
    for _ in range(repeats + 1):  # the first run loads the compiled engine
        ctx = new_context(config(name, scale), market.to_array(), balance, 1000.0, float(ts[-1] - ts[0] + 60_000))
        t0 = time.perf_counter()
        ctx.trades(*rows) if kind == "trades" else ctx.candles(*rows)
        seconds = time.perf_counter() - t0
        best, w = min(best, seconds), ctx.w
    return best, w


def report(title: str, name: str, rows: int, seconds: float, w: np.ndarray, unit: str, days: float) -> None:
    print(f"{title:28s} {name:15s} {rows:>12,} {unit:7s} {seconds:7.3f} s  {rows / seconds / 1e6:7.2f} M/s  "
          f"fills/day {w[B.E_N_FILLS] / days:7.1f}  ideal_orders calls {int(w[B.E_N_CALLS]):>7,}"
          + ("  LIQUIDATED" if w[B.E_LIQUIDATED] else ""))


def second_process_start() -> float:
    """Wall seconds of a second `passivx backtest` process (one synthetic day, jitted, no plots)."""
    tmp = Path(tempfile.mkdtemp(prefix="passivx-bench-"))
    env = {**os.environ, "PASSIVX_CACHE_DIR": str(tmp / "cache")}
    env.pop("NUMBA_DISABLE_JIT", None)
    cmd = [sys.executable, "-m", "passivx", "backtest", str(ROOT / "configs/backtest/default.hjson"), "--config",
           str(ROOT / "configs/live/binance/ETHUSDT_default.json"), "--jit", "--end", "2024-01-01", "--no-plots"]
    try:
        for k in range(2):
            t0 = time.perf_counter()
            subprocess.run(cmd + ["--out", str(tmp / f"out{k}")], env=env, cwd=tmp, check=True, capture_output=True)
            wall = time.perf_counter() - t0
        replay_s = json.loads((tmp / "out1" / "stats.json").read_text())["seconds"]
        print(f"second `passivx backtest` process: {wall:.2f} s from launch to results written "
              f"(replay {replay_s:.3f} s of it)")
        return wall
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def big_run(copies: int) -> None:
    """100 M trades written to a cache and replayed by `run_backtest` in a fresh process: peak RSS (Linux)."""
    from passivx.data import cache

    tmp = Path(tempfile.mkdtemp(prefix="passivx-bench-big-"))
    try:
        ts, price, side = bitflyer(copies)
        t0 = time.perf_counter()
        cache.store_days("benchbig", "BTCJPY", "trades", {"ts": ts, "price": price, "qty": np.ones(len(ts)),
                                                          "side": side}, "bench", tmp)
        first, last = [cache.split_days(ts[[0, -1]])[k][0].isoformat() for k in (0, -1)]
        print(f"big set: {len(ts):,} trades written in {time.perf_counter() - t0:.1f} s ({first}..{last})")
        del ts, price, side
        settings = {"exchange": "benchbig", "symbol": "BTCJPY", "start_date": first, "end_date": last,
                    "starting_balance": 10_000_000, "cache_dir": str(tmp), "market": JPY.to_dict()}
        code = f"""
import json
from passivx.config.backtest import parse_backtest_settings
from passivx.config.live import parse_live_config
from passivx.backtest.runner import run_backtest
s = parse_backtest_settings(json.loads({json.dumps(settings)!r}), "big.hjson")
c = parse_live_config(json.loads({json.dumps(MODES["classic"])!r}))
def rss(key):  # VmHWM (peak) and VmRSS restart at exec, unlike ru_maxrss
    return int(next(x for x in open("/proc/self/status") if x.startswith(key)).split()[1]) / 1024
before = rss("VmRSS")
r = run_backtest(s, c, progress=False)
print(json.dumps({{"rows": r.stats["trades_processed"], "seconds": r.stats["seconds"], "fills": r.stats["n_fills"],
                  "rss_before_mib": before, "rss_peak_mib": rss("VmHWM")}}))
"""
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
        res = json.loads(out.strip().splitlines()[-1])
        print(f"big run (classic, runner + cache): {res['rows']:,} trades in {res['seconds']:.2f} s "
              f"({res['rows'] / res['seconds'] / 1e6:.1f} M trades/s), {res['fills']:,} fills; "
              f"peak RSS {res['rss_peak_mib']:.0f} MiB (after imports {res['rss_before_mib']:.0f} MiB)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, one repeat")
    parser.add_argument("--big", action="store_true", help="add the 100 M-trade run through the cache")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"real data not found at {DATA}")
    repeats = 1 if args.quick else 3
    print(f"{'data':28s} {'mode':15s} {'rows':>12s}")
    # the Binance window spans 0.4 %: its configs place orders 2.5 times nearer the price
    sets = [("bitFlyer BTC/JPY x" + ("1" if args.quick else "10"), bitflyer(1 if args.quick else 10), 1.0, JPY,
             10_000_000.0),
            ("Binance USDT-M BTCUSDT", binance(1_000_000 if args.quick else 10_000_000), 0.4, USDT, 100_000.0)]
    for title, rows, scale, market, balance in sets:
        days = (rows[0][-1] - rows[0][0]) / DAY_MS
        for name in MODES:
            seconds, w = replay(name, scale, market, balance, rows, "trades", repeats)
            report(title, name, len(rows[0]), seconds, w, "trades", days)
    rows = candles(50_000 if args.quick else 525_600)
    days = len(rows[0]) / 1440
    for name in MODES:
        seconds, w = replay(name, 1.0, USDT, 100_000.0, rows, "candles", repeats)
        report("Binance USDT-M 1m candles", name, len(rows[0]), seconds, w, "candles", days)
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    second_process_start()
    if args.big:
        big_run(82)


if __name__ == "__main__":
    main()
