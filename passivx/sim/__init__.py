"""A simulated exchange on 127.0.0.1 for trying and testing `passivx live` without a real exchange.

It speaks the subset of the real protocols that passivx and ccxt use, with the real paths, signatures,
response and push shapes and error codes:

- **bybit**: Bybit v5, inverse perpetuals (category=inverse, e.g. BTCUSD; quantities in USD contracts,
  balance and PnL in coin), a unified (UTA 2.0) account, one-way mode only. REST under `/v5/...`,
  websockets `/v5/public/inverse` (topics `publicTrade.BTCUSD`, `orderbook.1.BTCUSD`) and `/v5/private`
  (op `auth`, then topics `order`, `execution`, `position`, `wallet`); op `ping` is answered.
- **binance**: Binance USDT-M futures (fapi, e.g. BTCUSDT), one-way or hedge mode (`dualSidePosition`).
  REST under `/fapi/...`; websockets `/ws/btcusdt@aggTrade` (also `@trade`, `@bookTicker`, `/ws` with
  SUBSCRIBE, `/stream?streams=...`, ccxt pro's `/public/ws/N` and `/market/ws/N`) and the user-data stream
  `/ws/<listenKey>` (`ORDER_TRADE_UPDATE`, `ACCOUNT_UPDATE`; listen key from POST /fapi/v1/listenKey,
  kept alive by PUT). The server sends protocol ping frames every 3 minutes, as Binance does.

By hand:

    python3 -m passivx.sim bybit --port 18080 [--trades FILE.csv] [--rate 20] [--key K --secret S]

prints the `export PASSIVX_...` lines that point `passivx live` at it (keys default to simkey/simsecret,
put them in `api_keys/{exchange}/{config}.json`), replays FILE (a normalised trades CSV of
`../shared/data/trades`, ts_ms/price/qty/side columns) at --rate trades per second, then serves until
Ctrl-C.

From Python (tests):

    from passivx.sim import SimExchange, read_trades, run_in_thread
    sim = SimExchange("bybit", symbol="BTCUSD", api_key="k", api_secret="s", balance=0.05, price=60000.0)
    with run_in_thread(sim) as s:       # aiohttp on 127.0.0.1:<free port>, in a background thread
        env = s.env()                   # PASSIVX_{BYBIT|BINANCE}_{REST_URL,WS_PUBLIC_URL,WS_PRIVATE_URL}
        s.trade(59990.0, 100, "sell")   # publish one public trade; it fills the resting orders it crosses
        s.play(read_trades(path), rate=None)   # (ts_ms, price, qty, taker_side) tuples in order
        s.open_orders(); s.orders(); s.positions(); s.balance(); s.fills()   # dicts; sizes signed
        s.set_position(-100, 61000.0)   # start from an existing position ('BOTH', or 'LONG'/'SHORT' in hedge)
        s.wait_until(lambda s: len(s.open_orders()) == 4, timeout=10)   # poll the sim's state
        s.requests                      # [(method, path, carries credentials)] of every REST request
        s.faults.rate_limit(2)          # see below

Every control method is thread-safe and returns once the server has applied it (pushes are queued).
`SimExchange.start(port)` / `stop()` serve from an already running event loop instead.

**Market and account.** The market spec (steps, minimums, contract size, fees) comes from passivx's
shipped snapshot (`passivx/markets_snapshot.json`) or `market=MarketSpec(...)`; leverage starts at 10
and cross margin. Leverage set to its current value answers Bybit 110043; margin type unchanged answers
Bybit 110026 / Binance -4046, as the exchanges do.

**Matching** (the backtester's rule): a resting limit buy fills when a public trade prints strictly
below its price, a sell strictly above, the whole order at its price with the maker fee. Market orders
fill at once at the last price with the taker fee (so do limits that cross without post-only). The top
of book follows the last trade (after a taker buy at p: ask p, bid p - tick; after a taker sell: bid p,
ask p + tick); a post-only order at or through the other side is rejected as the exchange does:
Binance answers -5022 and records nothing; Bybit answers retCode 0 and then pushes the order as
`Cancelled` with `rejectReason` `EC_PostOnlyWillTakeLiquidity`. Reduce-only orders (Binance hedge-mode
closes too) never grow a position: refused without a position to reduce (Bybit 110017, Binance -2022),
clipped to it when filled. New orders need margin: the position and open entries of that side at the set
leverage must fit the equity (else Bybit 110007, Binance -2019). Positions use the calculator's own
formulas (harmonic mean entry and coin PnL for inverse). No funding, no liquidation.

**Auth.** Signatures and timestamps are checked for real: Bybit 10003 (unknown key), 10004 (bad sign),
10002 (timestamp outside recvWindow); Binance -2014/-2015 (key), -1022 (bad signature), -1021
(timestamp), -1102 (missing signature). Bybit websocket auth failures answer `success: false`. Like the
real one, Bybit's 10004 message echoes the signed string, API key included: redact before logging.

**Rate limits.** With `SimExchange(..., enforce_rate_limits=True)` the documented limits are enforced
and reported in the exchanges' headers: Bybit 10 requests/s per order endpoint (UTA default; note that
ccxt's own throttle lets 20/s through), Binance request weight 2400/min (1 per request here) and orders
300 per 10 s and 1200/min. Excess answers as `rate_limit` below.

**Batches.** Bybit `/v5/order/create-batch` and `/cancel-batch` (up to 20, each item's code in
`retExtInfo.list`) and Binance `/fapi/v1/batchOrders` POST (up to 5) and DELETE (up to 10; each item an
order or `{code, msg}` in place) are served; a batch counts as one request for the REST faults.

**Paging.** As on the real Bybit, `/v5/order/realtime` returns at most `limit` (default 20, max 50)
orders per page with `nextPageCursor`; ask with limit=50 (and follow the cursor).

**Faults** (`s.faults`, thread-safe):
- `drop_sockets(private=None)`: close every websocket now (close code 1001); `private=True` only the
  private ones, `False` only the public ones;
- `rate_limit(n)`: next n REST requests answer Bybit retCode 10006 "Too many visits!" (HTTP 200 with
  X-Bapi-Limit headers) / Binance HTTP 429 -1003 with Retry-After;
- `server_error(n)`: next n REST requests answer HTTP 503 with an HTML body (ccxt: ExchangeNotAvailable);
- `delay(ms, n)`: next n REST requests are answered after ms;
- `timeout_after_apply(n, ms=15000)`: next n order creates are applied but answered after ms;
- `post_only_reject(n)`: next n post-only creates are rejected as above even if they would not cross;
- `insufficient_balance(n)`: next n creates answer Bybit 110007 / Binance -2019;
- extensions: `clock_skew(ms)` (the server's clock moves; signed requests then fail their timestamp
  check), `mute_sockets(seconds)` (the sockets stay open but go silent: pushes dropped, pings of either
  kind unanswered, so clients' keep-alive and staleness checks must notice),
  `expire_listen_keys()` (Binance: push `listenKeyExpired` and close the user-data sockets).

Only 127.0.0.1 is ever bound. Not modelled: order book depth (one level derived from the last trade),
amend, funding, liquidation, Bybit hedge mode (inverse perpetuals have none), per-endpoint request
weights, listen keys expiring by themselves while connected (use `expire_listen_keys`).
"""
from passivx.sim.server import SimExchange, read_trades, run_in_thread

__all__ = ["SimExchange", "read_trades", "run_in_thread"]
