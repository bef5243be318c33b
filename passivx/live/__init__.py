"""The live engine: `passivx live EXCHANGE CONFIG` trades a config's ideal orders (`passivx.calc`) on Bybit
inverse or Binance USDT-M perpetuals through the adapters of `passivx.exchanges`.

- `keys`: API key files and the logging filter masking them;
- `state`: the calculator's state vector from trades, candles, positions and balance, and its ideal orders;
- `orders`: the diff of ideal against open orders (pure), client ids;
- `ratelimit`: the order-request token bucket and back-off;
- `streams`: websocket streams with reconnects;
- `engine`: start-up, the order loop, faults, clean stop;
- `status`: log file, console and status line.

`live` imports `calc`, `config`, `markets` and `exchanges`, never `backtest`.
"""
