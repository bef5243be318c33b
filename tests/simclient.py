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


def ccxt_client(sim, secret: str | None = None, rate_limit: bool = False, **options):
    """An async ccxt bybit / binanceusdm for `sim` (every API URL rewritten, as PASSIVX_*_REST_URL does)."""
    import ccxt.async_support as ccxt

    opts = {"fetchMarkets": {"types": ["inverse"]}, "defaultType": "swap", "defaultSubType": "inverse"} \
        if sim.exchange == "bybit" else {"fetchCurrencies": False}
    opts.update(options)
    cls = ccxt.bybit if sim.exchange == "bybit" else ccxt.binanceusdm
    client = cls({"apiKey": sim.api_key, "secret": secret or sim.api_secret, "enableRateLimit": rate_limit,
                  "timeout": 3000, "options": opts})
    client.urls["api"] = rewrite(client.urls["api"], f"127.0.0.1:{sim.port}")
    if sim.exchange == "binance":  # loopback URLs lose binance's per-market error table (spec P7)
        client.get_exceptions_by_url = lambda url, kind: client.exceptions["linear"].get(kind, {})
    return client


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
