"""`python3 -m passivx.sim bybit|binance --port P [--trades FILE] [--rate R] [--key K --secret S]`."""
from __future__ import annotations

import argparse
import sys
import threading

from passivx.sim.server import SimExchange, read_trades, run_in_thread


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m passivx.sim", description="Serve a simulated exchange on 127.0.0.1.")
    ap.add_argument("exchange", choices=["bybit", "binance"])
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    ap.add_argument("--symbol", default=None, help="market id (default BTCUSD for bybit, BTCUSDT for binance)")
    ap.add_argument("--price", type=float, default=60000.0, help="initial last price")
    ap.add_argument("--balance", type=float, default=None, help="wallet balance (coin for bybit, USDT for binance)")
    ap.add_argument("--trades", default=None, help="trades CSV (ts_ms,price,qty,side columns) to replay")
    ap.add_argument("--rate", type=float, default=10.0, help="replayed trades per second (default 10)")
    ap.add_argument("--key", default="simkey")
    ap.add_argument("--secret", default="simsecret")
    args = ap.parse_args(argv)
    try:
        trades = list(read_trades(args.trades)) if args.trades else []
        sim = SimExchange(args.exchange, symbol=args.symbol, api_key=args.key, api_secret=args.secret,
                          balance=args.balance, price=trades[0][1] if trades else args.price)
        ctx = run_in_thread(sim, args.port)
        ctx.__enter__()
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        for name, value in sim.env().items():
            print(f"export {name}={value}")
        print(f"# serving {args.exchange} {sim.symbol} on 127.0.0.1:{sim.port}; Ctrl-C stops", flush=True)
        if trades:
            threading.Thread(target=sim.play, args=(trades, args.rate), daemon=True).start()
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        ctx.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
