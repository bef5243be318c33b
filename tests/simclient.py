"""Test helpers: real ccxt (async) and websockets clients pointed at the simulated exchange."""
from __future__ import annotations

import asyncio
import json
import re
import socket

import pytest

_URL = re.compile(r"^(https?|wss?)://[^/]+")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def rewrite(node, host: str):
    """Replace scheme+host of every URL in a ccxt `urls['api']` tree with 127.0.0.1:port; keep paths."""
    if isinstance(node, dict):
        return {k: rewrite(v, host) for k, v in node.items()}
    if isinstance(node, str):
        return _URL.sub(lambda m: ("ws" if m.group(1).startswith("ws") else "http") + "://" + host, node)
    return node


def sim_fixture(exchange: str, **kw):
    """A pytest fixture: `SimExchange(exchange, **kw)` served on 127.0.0.1 for the length of one test."""
    from passivx.sim import SimExchange, run_in_thread

    @pytest.fixture
    def sim():
        with run_in_thread(SimExchange(exchange, **kw)) as s:
            yield s
    return sim


def _options(sim) -> dict:
    """The ccxt options of a client of `sim` (bybit: the inverse swaps; binance: no currency endpoint)."""
    return {"fetchMarkets": {"types": ["inverse"]}, "defaultType": "swap", "defaultSubType": "inverse"} \
        if sim.exchange == "bybit" else {"fetchCurrencies": False}


def ccxt_client(sim, secret: str | None = None, rate_limit: bool = False, **options):
    """An async ccxt bybit / binanceusdm for `sim` (every API URL rewritten, as PASSIVX_*_REST_URL does)."""
    import ccxt.async_support as ccxt

    opts = _options(sim)
    opts.update(options)
    cls = ccxt.bybit if sim.exchange == "bybit" else ccxt.binanceusdm
    client = cls({"apiKey": sim.api_key, "secret": secret or sim.api_secret, "enableRateLimit": rate_limit,
                  "timeout": 3000, "options": opts})
    client.urls["api"] = rewrite(client.urls["api"], f"127.0.0.1:{sim.port}")
    if sim.exchange == "binance":  # loopback URLs lose binance's per-market error table (spec P7)
        client.get_exceptions_by_url = lambda url, kind: client.exceptions["linear"].get(kind, {})
    return client


async def with_client(sim, body, **kw):
    """`await body(ex)` with a `ccxt_client(sim, **kw)` whose markets are loaded; the client is closed after."""
    ex = ccxt_client(sim, **kw)
    try:
        await ex.load_markets()
        return await body(ex)
    finally:
        await ex.close()


async def pro_watchers(sim, symbol: str, trade_qty: float, order_qty: float) -> list:
    """A ccxt.pro client of `sim` watches trades, orders and its own fills of `symbol` while a trade of
    `trade_qty` prints at 60000, a post-only bid `pro` of `order_qty` rests at 59900 and a trade at 59800
    fills it: the first answer of each watcher."""
    import ccxt.pro as ccxtpro

    cls = ccxtpro.bybit if sim.exchange == "bybit" else ccxtpro.binanceusdm
    ex = cls({"apiKey": sim.api_key, "secret": sim.api_secret, "options": _options(sim)})
    ex.urls["api"] = rewrite(ex.urls["api"], f"127.0.0.1:{sim.port}")
    try:
        await ex.load_markets()
        trades, orders = asyncio.ensure_future(ex.watch_trades(symbol)), asyncio.ensure_future(ex.watch_orders(symbol))
        mine = asyncio.ensure_future(ex.watch_my_trades(symbol))
        await asyncio.sleep(0.5)  # subscriptions acknowledged (binance: user stream open)
        await asyncio.to_thread(sim.trade, 60000, trade_qty, "sell")
        await ex.create_order(symbol, "limit", "buy", order_qty, 59900, {"postOnly": True, "clientOrderId": "pro"})
        await asyncio.to_thread(sim.trade, 59800, trade_qty, "sell")
        return [await asyncio.wait_for(f, 5) for f in (trades, orders, mine)]
    finally:
        await ex.close()


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Any connection attempt to a host other than loopback fails at once (nothing leaves the machine)."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = asyncio.BaseEventLoop.create_connection

    def getaddrinfo(host, *args, **kwargs):
        if host not in LOOPBACK:
            raise OSError(f"test guard: refusing to resolve {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    async def create_connection(self, protocol_factory, host=None, *args, **kwargs):
        if host is not None and host not in LOOPBACK:
            raise OSError(f"test guard: refusing to connect to {host}")
        return await real_connect(self, protocol_factory, host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", create_connection)


async def recv_until(ws, pred, timeout: float = 3.0) -> dict:
    """Next JSON message from websocket `ws` for which `pred(msg)` holds (others skipped)."""
    async def loop():
        while True:
            msg = json.loads(await ws.recv())
            if pred(msg):
                return msg
    return await asyncio.wait_for(loop(), timeout)


def run(coro):
    """Run a coroutine to completion in a fresh event loop (tests stay synchronous)."""
    return asyncio.run(asyncio.wait_for(coro, 30))
