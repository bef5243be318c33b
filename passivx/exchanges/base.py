"""The common adapter interface, the ccxt client factory with endpoint overrides, and error mapping.

An adapter turns one exchange's ccxt calls and websocket messages into plain values:
`Order` (an open order), `Fill`, `OrderUpdate`, `PositionUpdate`, `BalanceUpdate`, and trades as
`(ts_ms, price, qty, taker_side)` tuples (`taker_side` +1 buy, -1 sell). Sides are +1 (buy / long)
and -1 (sell / short). REST methods take a ccxt client made by `make_client`; the ones named
`a*`-less but `async` take an asynchronous (`ccxt.async_support`) client.

Endpoint overrides (`PASSIVX_{EXCHANGE}_REST_URL`, `..._WS_PUBLIC_URL`, `..._WS_PRIVATE_URL`) replace
the scheme and host of every ccxt REST URL and the websocket endpoints, so with them set nothing
else is contacted.
"""
from __future__ import annotations

import copy
import os
import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from passivx.errors import AuthError, DataError, ExchangeError

_URL = re.compile(r"^(https?|wss?)://[^/]+")

# error classes: what the caller should do about a failed request
RETRY = "retry"  # network trouble, timeout, 5xx: retry with back-off (look a create up before resending)
BACKOFF = "backoff"  # rate limited: pause all requests, then retry
SKIP = "skip"  # this order cannot be placed now (post-only would take, insufficient balance): next cycle decides
RESYNC = "resync"  # the order is not what we think (unknown order, already filled): refetch the state
FATAL = "fatal"  # keys, permissions, clock: a person must fix it


@dataclass(frozen=True)
class Order:
    """An open order: `side` +1 buy / -1 sell, `pos_side` +1 long / -1 short position it belongs to."""

    id: str
    client_id: str
    side: int
    pos_side: int
    price: float
    qty: float
    reduce_only: bool


@dataclass(frozen=True)
class OrderUpdate(Order):
    """A private-stream order change: the order, the quantity `filled` so far and its `status` (open, filled,
    canceled or rejected)."""

    filled: float
    status: str
    reason: str = ""


@dataclass(frozen=True)
class Fill:
    client_id: str
    side: int
    price: float
    qty: float
    ts_ms: float


@dataclass(frozen=True)
class PositionUpdate:
    """`pos_side` +1 long, -1 short, 0 one-way (then `size` is signed)."""

    pos_side: int
    size: float
    price: float


@dataclass(frozen=True)
class BalanceUpdate:
    balance: float


def rewrite_urls(node, base: str):
    """Replace scheme and host of every URL in a ccxt `urls['api']` tree with those of `base`
    (http://host:port); websocket URLs keep a ws scheme. Paths are kept."""
    if isinstance(node, dict):
        return {k: rewrite_urls(v, base) for k, v in node.items()}
    if isinstance(node, str):
        host = base.split("://", 1)[-1].split("/", 1)[0]
        return _URL.sub(lambda m: ("ws" if m.group(1).startswith("ws") else "http") + "://" + host, node)
    return node


def classify(exc: BaseException) -> str:
    """What to do about a ccxt (or asyncio) exception: RETRY, BACKOFF, SKIP, RESYNC or FATAL."""
    import asyncio

    import ccxt

    if isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
        return BACKOFF
    if isinstance(exc, (ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended)):
        return FATAL
    if isinstance(exc, ccxt.InvalidNonce):
        return FATAL
    if isinstance(exc, (ccxt.NetworkError, asyncio.TimeoutError, OSError)):
        return RETRY
    if isinstance(exc, ccxt.OrderNotFound):
        return RESYNC
    if isinstance(exc, (ccxt.InsufficientFunds, ccxt.InvalidOrder)):
        return SKIP
    return RETRY


def describe(exc: BaseException) -> str:
    """A short one-line description of an exception (never containing request headers)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"


class Adapter(ABC):
    """One exchange. Subclasses set the class attributes and implement the abstract methods."""

    name: str  # passivx exchange name
    ccxt_id: str
    settle: str  # the coin balances are in for the markets passivx trades there
    options: dict  # ccxt options (market data)
    live_options: dict  # ccxt options for trading
    ws_public: str  # production websocket endpoints
    ws_private: str
    ws_public_test: str
    ws_private_test: str
    ping_interval: float  # seconds between keep-alive pings on our websockets
    order_rate: float  # order requests per second we allow ourselves (documented limits, with margin)
    order_burst: int

    # ---- clients --------------------------------------------------------------------------------
    def env(self, what: str) -> str | None:
        """The override of `what` (REST_URL, WS_PUBLIC_URL, WS_PRIVATE_URL), if set."""
        return os.environ.get(f"PASSIVX_{self.name.upper()}_{what}") or None

    def make_client(self, testnet: bool = False, keys: tuple[str, str] | None = None, rate_limit: bool = True,
                    live: bool = False, timeout_ms: int = 10_000):
        """A ccxt client, pointed at the REST override when set, else at the test environment when
        `testnet`. `live`: an asynchronous (`ccxt.async_support`) client with the trading options."""
        if live:
            import ccxt.async_support as ccxt_mod
        else:
            import ccxt as ccxt_mod
        options = copy.deepcopy(self.live_options if live else self.options)
        params = {"enableRateLimit": rate_limit, "options": options, "timeout": timeout_ms}
        if keys:
            params["apiKey"], params["secret"] = keys
        client = getattr(ccxt_mod, self.ccxt_id)(params)
        client.has["fetchCurrencies"] = False
        base = self.env("REST_URL")
        if testnet and not base:
            self.use_testnet(client)
        if base:
            client.urls["api"] = rewrite_urls(client.urls["api"], base)
            self.loopback_fixups(client)
        return client

    def use_testnet(self, client) -> None:
        client.set_sandbox_mode(True)

    def loopback_fixups(self, client) -> None:
        """Adjustments a client needs when its URLs were rewritten (none by default)."""

    def ws_url(self, private: bool, testnet: bool) -> str:
        """The websocket endpoint (override, test or production)."""
        override = self.env("WS_PRIVATE_URL" if private else "WS_PUBLIC_URL")
        if override:
            return override.rstrip("/")
        if testnet:
            return self.ws_private_test if private else self.ws_public_test
        return self.ws_private if private else self.ws_public

    # ---- market spec ----------------------------------------------------------------------------
    @staticmethod
    def spec_fields(m: dict, default: dict) -> dict:
        """MarketSpec fields (a dict) from one ccxt market (steps in TICK_SIZE precision mode)."""
        limits = m.get("limits") or {}
        spec = dict(default)
        spec.update(price_step=float(m["precision"]["price"]), qty_step=float(m["precision"]["amount"]),
                    min_qty=float((limits.get("amount") or {}).get("min") or 0.0),
                    min_cost=float((limits.get("cost") or {}).get("min") or 0.0),
                    c_mult=float(m.get("contractSize") or 1.0), inverse=bool(m.get("inverse")))
        for key, name in (("maker", "maker_fee"), ("taker", "taker_fee")):
            if m.get(key) is not None:
                spec[name] = float(m[key])
        lev = (limits.get("leverage") or {}).get("max")
        if lev:
            spec["max_leverage"] = float(lev)
        return spec

    @staticmethod
    def perpetuals(markets: dict) -> dict[str, dict]:
        """The active perpetual markets of a `load_markets` answer, by exchange id."""
        return {m["id"]: m for m in markets.values() if m.get("swap") and m.get("active", True) is not False}

    # ---- REST (async client) --------------------------------------------------------------------
    async def load_market(self, client, market: str) -> dict:
        """The ccxt market of exchange id `market` (loads the markets)."""
        import ccxt

        await client.load_markets()
        try:
            return client.market(market)
        except ccxt.BadSymbol:
            raise ExchangeError(f"{self.name} has no market {market!r}") from None

    async def server_time(self, client) -> float:
        return float(await client.fetch_time())

    @abstractmethod
    async def fetch_balance(self, client) -> float:
        """Wallet balance in the settle coin (realised PnL included, unrealised not)."""

    async def fetch_positions(self, client, symbol: str) -> tuple[float, float, float, float]:
        """(long size >= 0, long price, short size <= 0, short price), in the calculator's units."""
        long_size = long_price = short_size = short_price = 0.0
        for p in await client.fetch_positions([symbol]):
            size = float(p.get("contracts") or 0.0)
            if size == 0.0:
                continue
            price = float(p.get("entryPrice") or 0.0)
            if p.get("side") == "short":
                short_size, short_price = -size, price
            else:
                long_size, long_price = size, price
        return long_size, long_price, short_size, short_price

    async def fetch_open_orders(self, client, symbol: str) -> list[Order]:
        """Every open order of `symbol` (the bot's and others'; callers filter by client id)."""
        return [self.parse_order(o) for o in await client.fetch_open_orders(symbol)]

    def parse_order(self, o: dict) -> Order:
        side = 1 if o["side"] == "buy" else -1
        reduce_only = bool(o.get("reduceOnly"))
        return Order(str(o["id"]), str(o.get("clientOrderId") or ""), side, self._pos_side(o, side, reduce_only),
                     float(o["price"] or 0.0), float(o.get("remaining") or o.get("amount") or 0.0), reduce_only)

    @abstractmethod
    def _pos_side(self, o: dict, side: int, reduce_only: bool) -> int:
        """The position side a ccxt order belongs to."""

    @abstractmethod
    def order_params(self, client_id: str, pos_side: int, reduce_only: bool, post_only: bool, hedge: bool) -> dict:
        """ccxt create_order params for one order."""

    async def create_order(self, client, symbol: str, side: int, pos_side: int, price: float, qty: float,
                           reduce_only: bool, market: bool, client_id: str, hedge: bool) -> str:
        """Place a post-only limit (or a market order when `market`); returns the order id."""
        params = self.order_params(client_id, pos_side, reduce_only, not market, hedge)
        o = await client.create_order(symbol, "market" if market else "limit", "buy" if side > 0 else "sell", qty,
                                      None if market else price, params)
        return str(o.get("id"))

    async def cancel_order(self, client, symbol: str, order_id: str) -> None:
        await client.cancel_order(order_id, symbol)

    @abstractmethod
    async def setup_account(self, client, symbol: str, hedge: bool, leverage: float, log) -> None:
        """Position mode (one-way or hedge), cross margin and leverage for `symbol`; `log(msg)` reports."""

    async def recent_trades(self, client, symbol: str, limit: int = 1000) -> list[tuple]:
        """The latest public trades, oldest first."""
        rows = await client.fetch_trades(symbol, None, limit)
        return [(float(t["timestamp"]), float(t["price"]), float(t["amount"]), 1 if t["side"] == "buy" else -1)
                for t in rows]

    async def candles(self, client, symbol: str, since_ms: int, until_ms: int, page: int = 1000) -> list[list]:
        """1-minute candles [ts, open, high, low, close, volume] with open times in [since, until)."""
        rows: dict[int, list] = {}
        for since, end in windows(since_ms, until_ms, page):
            got = await client.fetch_ohlcv(symbol, "1m", since, page, {"until": end})
            rows.update((int(c[0]), c) for c in got if since <= c[0] <= end)
        return [rows[k] for k in sorted(rows)]

    # ---- websockets -----------------------------------------------------------------------------
    @abstractmethod
    def public_url(self, market: str, testnet: bool) -> str:
        """The public trade stream URL of `market`."""

    @abstractmethod
    def public_subscribe(self, market: str) -> list[dict]:
        """Messages to send after connecting to the public URL."""

    @abstractmethod
    def parse_public(self, msg: dict) -> list[tuple]:
        """Trades in a public message, oldest first: (ts_ms, price, qty, taker_side)."""

    @abstractmethod
    async def private_url(self, client, testnet: bool) -> str:
        """The private stream URL (Binance: creates a listen key)."""

    @abstractmethod
    def private_subscribe(self, keys: tuple[str, str]) -> list[dict]:
        """Messages to send after connecting to the private URL (auth, subscriptions)."""

    @abstractmethod
    def parse_private(self, msg: dict, market: str) -> list:
        """OrderUpdate / Fill / PositionUpdate / BalanceUpdate events of `market` in a private message.
        Raises AuthError if the message refuses our authentication."""

    def ping_message(self) -> dict | None:
        """A JSON keep-alive message, or None when protocol pings suffice."""
        return None

    async def keep_alive(self, client) -> None:
        """Periodic private-stream upkeep (Binance: extend the listen key)."""

    # ---- history (sync client, for `passivx download`) ------------------------------------------
    @abstractmethod
    def trades_between(self, client, market: str, start_ms: int, end_ms: int, label: str = "") -> list[dict]:
        """Every public trade (ccxt trade dicts) with start_ms <= timestamp < end_ms; `label` (the day)
        goes into error messages."""

    def candles_between(self, client, market: str, start_ms: int, end_ms: int, label: str = "",
                        page: int = 1000) -> list[list]:
        """1-minute candles [ts, o, h, l, c, volume] with open times in [start_ms, end_ms), paged by open
        time in windows of `page` minutes, so either result order returns all of a window."""
        sym = symbol_of(client, market)
        what = f"{client.id} fetch_ohlcv {market} {label}".rstrip()
        rows: dict[int, list] = {}
        for since, until in windows(start_ms, end_ms, page):
            got = call(client.fetch_ohlcv, what, sym, "1m", since, page, {"until": until})
            rows.update((int(c[0]), c) for c in got if since <= c[0] <= until)
        return [rows[k] for k in sorted(rows)]


def windows(start_ms: int, end_ms: int, page: int):
    """(since, until) open-time windows of `page` minutes covering [start_ms, end_ms), `until` inclusive."""
    since = start_ms
    while since < end_ms:
        until = min(since + page * 60_000, end_ms) - 1
        yield since, until
        since = until + 1

def call(fn, what: str, *args, retries: int = 4, wait: float = 1.0, **kwargs):
    """Call a sync ccxt method, retrying network errors with doubling waits; ExchangeError on failure."""
    import ccxt

    for attempt in range(retries):
        try:
            return fn(*args, **kwargs)
        except ccxt.NetworkError as e:
            if attempt == retries - 1:
                raise ExchangeError(f"{what}: network error after {retries} attempts ({e}); re-run to resume") from None
            time.sleep(wait * 2 ** attempt)
        except ccxt.BaseError as e:
            raise ExchangeError(f"{what}: {type(e).__name__}: {str(e)[:200]}") from None


def symbol_of(client, market: str) -> str:
    """The ccxt symbol of exchange id `market` (sync client; loads the markets)."""
    import ccxt

    call(client.load_markets, f"{client.id} load_markets")
    try:
        return client.market(market)["symbol"]
    except ccxt.BadSymbol:
        raise DataError(f"{client.id} has no market {market!r}") from None


def now_ms() -> float:
    return time.time() * 1000.0


def auth_failed(what: str) -> AuthError:
    return AuthError(f"{what}: the exchange refused the API key (wrong key or secret, missing permission or "
                     f"IP not whitelisted); check api_keys/ and the key's settings on the exchange")
