"""`--testnet`: ccxt's sandbox mode for REST and the exchanges' testnet websocket endpoints (Bybit testnet,
Binance USDT-M futures testnet); the endpoint overrides still win. Only the URL selection is tested: no
test can reach a testnet."""
from __future__ import annotations

import pytest

from passivx.exchanges import adapter


def _hosts(client) -> set[str]:
    urls: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, str) and "://" in node:
            urls.append(node)

    walk(client.urls["api"])
    return {u.split("/")[2].replace("{hostname}", getattr(client, "hostname", None) or "") for u in urls}


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch):
    for ex in ("BYBIT", "BINANCE"):
        for what in ("REST_URL", "WS_PUBLIC_URL", "WS_PRIVATE_URL"):
            monkeypatch.delenv(f"PASSIVX_{ex}_{what}", raising=False)


@pytest.mark.parametrize("live", [False, True])
def test_bybit_testnet_urls(live):
    ad = adapter("bybit")
    assert _hosts(ad.make_client(testnet=True, live=live)) == {"api-testnet.bybit.com"}
    assert _hosts(ad.make_client(testnet=False, live=live)) == {"api.bybit.com"}
    assert ad.public_url("BTCUSD", True) == "wss://stream-testnet.bybit.com/v5/public/inverse"
    assert ad.ws_url(True, True) == "wss://stream-testnet.bybit.com/v5/private"
    assert ad.public_url("BTCUSD", False) == "wss://stream.bybit.com/v5/public/inverse"


@pytest.mark.parametrize("live", [False, True])
def test_binance_usdm_testnet_urls(live):
    ad = adapter("binance")
    client = ad.make_client(testnet=True, live=live)
    fapi = {k: v for k, v in client.urls["api"].items() if k.startswith("fapi")}
    assert fapi and all(v.startswith("https://testnet.binancefuture.com/fapi/") for v in fapi.values())
    assert "fapi.binance.com" not in _hosts(client)
    assert ad.public_url("BTCUSDT", True) == "wss://stream.binancefuture.com/ws/btcusdt@aggTrade"
    assert ad.ws_url(True, True) == "wss://stream.binancefuture.com/ws"
    prod = ad.make_client(testnet=False, live=live)
    assert all(v.startswith("https://fapi.binance.com/") for k, v in prod.urls["api"].items() if k.startswith("fapi"))
    assert ad.public_url("BTCUSDT", False) == "wss://fstream.binance.com/ws/btcusdt@aggTrade"


def test_overrides_win_over_testnet(monkeypatch):
    monkeypatch.setenv("PASSIVX_BINANCE_REST_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PASSIVX_BINANCE_WS_PUBLIC_URL", "ws://127.0.0.1:9/ws")
    ad = adapter("binance")
    assert _hosts(ad.make_client(testnet=True, live=True)) == {"127.0.0.1:9"}
    assert ad.public_url("BTCUSDT", True) == "ws://127.0.0.1:9/ws/btcusdt@aggTrade"
