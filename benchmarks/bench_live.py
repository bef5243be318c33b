"""Benchmark of the live engine's hot path: a trade arriving on the websocket to the order diff being ready,
and the trade rate the engine absorbs while keeping its orders current.

    python benchmarks/bench_live.py [--trades 20000] [--burst 200000]

A websocket server on 127.0.0.1 sends exchange-shaped trade messages (Bybit `publicTrade`, Binance
`aggTrade`); the engine's own reader (`passivx.live.streams`) hands them to `Engine.on_public`, and the
engine computes the ideal orders and the diff (`Engine.compute`, jitted calculator) for each trade.
Latency: from the server's send to the diff being ready, per trade (median, p99). Absorbed rate: a burst
sent as fast as the server can, with the diff recomputed (a) after every message the reader hands over and
(b) at the live pace of once a second; trades per second from the first send to the last diff. The server
runs in the same process (one core for both ends), so the rates are lower bounds.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {"bybit classic": ("bybit", "configs/live/bybit/BTCUSD_default.json", "BTCUSD"),
         "binance recursive_grid": ("binance", "configs/live/binance/BTCUSDT_recursive_grid.json", "BTCUSDT")}


def engine(exchange: str, config: str, market: str):
    """An Engine wired as after start-up: market spec, balance, a position, an open-order book."""
    from passivx.config import load_live_config
    from passivx.exchanges import adapter
    from passivx.live.engine import Engine
    from passivx.markets import market_spec

    e = Engine(adapter(exchange), load_live_config(ROOT / config), ("k", "s"))
    e.spec = market_spec(exchange, market)
    e.mkt = e.spec.to_array()
    s = e.state
    s.balance = 0.05 if e.spec.inverse else 10_000.0
    s.trade(0.0, 60_000.0, 1.0, 1)
    if e.spec.inverse:
        s.set_position(0, 500.0, 60_300.0)
    else:
        s.set_position(1, 0.01, 60_300.0)
        s.set_position(-1, 0.005, 59_700.0)
    e.compute()  # compile (or load the cached machine code)
    return e


def message(exchange: str, market: str, i: int) -> str:
    price = 60_000.0 + (i % 200) * 0.5 - 50.0
    side = i % 2
    if exchange == "bybit":
        return json.dumps({"topic": f"publicTrade.{market}", "type": "snapshot", "ts": i, "data": [
            {"T": i, "s": market, "S": "Buy" if side else "Sell", "v": "10", "p": f"{price:.1f}", "i": str(i),
             "BT": False}]})
    return json.dumps({"e": "aggTrade", "E": i, "s": market, "a": i, "p": f"{price:.1f}", "q": "0.010", "f": i,
                       "l": i, "T": i, "m": bool(side)})


async def run(e, exchange: str, market: str, n: int, every: float, spaced: bool) -> tuple[list[float], float]:
    """Send n trades; the client computes a diff when `every` seconds passed since the last one (0: each
    time the reader hands over a message). `spaced`: one trade at a time, each sent after the previous diff
    (latency); else a burst (rate). Returns (per-trade latencies in s, trades per second)."""
    import websockets

    from passivx.live.streams import _read

    sent: dict[int, float] = {}
    lat: list[float] = []
    done = asyncio.Event()
    ready = asyncio.Event()
    state = {"last": -1e9, "count": 0, "t0": 0.0, "t_end": 0.0}

    def on_message(msg: dict, t_recv: float) -> None:
        e.on_public(msg, t_recv)
        state["count"] += 1
        now = time.perf_counter()
        if now - state["last"] >= every or state["count"] == n:
            e.compute()
            state["last"] = time.perf_counter()
            if spaced:
                lat.append(state["last"] - sent[state["count"] - 1])
                ready.set()
        if state["count"] == n:
            state["t_end"] = time.perf_counter()
            done.set()

    connected = asyncio.Event()

    async def serve(ws):
        await connected.wait()
        texts = [message(exchange, market, i) for i in range(n)]
        state["t0"] = time.perf_counter()
        for i, text in enumerate(texts):
            if spaced:
                ready.clear()
            sent[i] = time.perf_counter()
            await ws.send(text)
            if spaced:
                await ready.wait()
            elif i % 256 == 255:
                await asyncio.sleep(0)  # let the client read (both ends share this process)
        await done.wait()

    async with websockets.serve(serve, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with websockets.connect(f"ws://127.0.0.1:{port}", max_size=2 ** 23) as ws:
            reader = asyncio.create_task(_read(ws, on_message))
            connected.set()
            await done.wait()
            reader.cancel()
    return lat, n / (state["t_end"] - state["t0"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trades", type=int, default=20_000, help="trades for the latency run")
    ap.add_argument("--burst", type=int, default=200_000, help="trades in the burst (rate) runs")
    args = ap.parse_args()
    print(f"{'case':<24} {'latency median':>15} {'p99':>9} {'rate, diff per read':>20} {'rate, diff 1/s':>15}")
    for name, (exchange, config, market) in CASES.items():
        e = engine(exchange, config, market)
        lat, _ = asyncio.run(run(e, exchange, market, args.trades, 0.0, True))
        _, rate_each = asyncio.run(run(e, exchange, market, args.burst, 0.0, False))
        _, rate_paced = asyncio.run(run(e, exchange, market, args.burst, 1.0, False))
        q = statistics.quantiles(lat, n=100)
        print(f"{name:<24} {statistics.median(lat) * 1e6:>12.0f} us {q[98] * 1e6:>6.0f} us "
              f"{rate_each:>14,.0f} tr/s {rate_paced:>11,.0f} tr/s")


if __name__ == "__main__":
    main()
