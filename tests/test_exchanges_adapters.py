"""Exchange adapters without a network: endpoint overrides, order parameters, message parsing, error
classification (the shapes are those of the exchanges' documentation and exchange-protocols.md)."""
from __future__ import annotations

import re

import ccxt
import pytest

from passivx.errors import AuthError, ExchangeError
from passivx.exchanges import adapter, canonical_exchange, market_id
from passivx.exchanges import base as X


def urls(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from urls(v)
    elif isinstance(node, str):
        yield node


@pytest.mark.parametrize("name", ["bybit", "binance"])
def test_rest_override_moves_every_api_url_and_keeps_paths(name, monkeypatch):
    ad = adapter(name)
    plain = ad.make_client()
    monkeypatch.setenv(f"PASSIVX_{name.upper()}_REST_URL", "http://127.0.0.1:4567")
    for live in (False, True):
        moved = ad.make_client(keys=("k", "s"), live=live)
        got = list(urls(moved.urls["api"]))
        assert got and all(re.match(r"^(http|ws)://127\.0\.0\.1:4567(/|$)", u) for u in got), got
        want_paths = [re.sub(r"^\w+://[^/]+", "", u) for u in urls(plain.urls["api"])]
        assert [re.sub(r"^\w+://[^/]+", "", u) for u in got] == want_paths
        if live:
            import asyncio
            asyncio.run(moved.close())


def test_ws_overrides_and_defaults(monkeypatch):
    by, bn = adapter("bybit"), adapter("binance")
    assert by.public_url("BTCUSD", False) == "wss://stream.bybit.com/v5/public/inverse"
    assert by.public_url("BTCUSD", True).startswith("wss://stream-testnet.bybit.com/")
    assert bn.public_url("BTCUSDT", False) == "wss://fstream.binance.com/ws/btcusdt@aggTrade"
    monkeypatch.setenv("PASSIVX_BYBIT_WS_PUBLIC_URL", "ws://127.0.0.1:1/v5/public/inverse")
    monkeypatch.setenv("PASSIVX_BINANCE_WS_PUBLIC_URL", "ws://127.0.0.1:2/ws/")
    monkeypatch.setenv("PASSIVX_BINANCE_WS_PRIVATE_URL", "ws://127.0.0.1:2/ws")
    assert by.public_url("BTCUSD", True) == "ws://127.0.0.1:1/v5/public/inverse"
    assert bn.public_url("BTCUSDT", True) == "ws://127.0.0.1:2/ws/btcusdt@aggTrade"
    assert bn.ws_url(True, False) == "ws://127.0.0.1:2/ws"


def test_names():
    assert canonical_exchange(" BinanceUSDM ") == "binance" and market_id("BTC/USD:BTC") == "BTCUSD"
    with pytest.raises(ExchangeError, match="supported are binance, bybit"):
        adapter("kraken")


def test_order_params():
    by, bn = adapter("bybit"), adapter("binance")
    assert by.order_params("passivx-a", 1, True, True, False) == {"clientOrderId": "passivx-a", "positionIdx": 0,
                                                                  "postOnly": True, "reduceOnly": True}
    # binance hedge mode: positionSide, never reduceOnly; one-way: reduceOnly; post-only is GTX
    assert bn.order_params("c", 1, True, True, True) == {"clientOrderId": "c", "timeInForce": "GTX",
                                                         "positionSide": "LONG"}
    assert bn.order_params("c", -1, False, False, True) == {"clientOrderId": "c", "positionSide": "SHORT"}
    assert bn.order_params("c", 1, True, True, False) == {"clientOrderId": "c", "timeInForce": "GTX",
                                                          "reduceOnly": True}


def test_parse_public_trades():
    by, bn = adapter("bybit"), adapter("binance")
    msg = {"topic": "publicTrade.BTCUSD", "type": "snapshot", "ts": 2,
           "data": [{"T": 1, "s": "BTCUSD", "S": "Buy", "v": "100", "p": "16578.50", "i": "x", "BT": False},
                    {"T": 2, "s": "BTCUSD", "S": "Sell", "v": "5", "p": "16578.00", "i": "y", "BT": False}]}
    assert by.parse_public(msg) == [(1.0, 16578.5, 100.0, 1), (2.0, 16578.0, 5.0, -1)]
    assert by.parse_public({"op": "pong", "success": True}) == []
    agg = {"e": "aggTrade", "E": 5, "s": "BTCUSDT", "a": 1, "p": "65000.1", "q": "0.010", "f": 1, "l": 2, "T": 4,
           "m": True}
    assert bn.parse_public(agg) == [(4.0, 65000.1, 0.01, -1)]  # buyer is maker: the taker sold
    assert bn.parse_public({"result": None, "id": 1}) == []


def test_parse_bybit_private():
    by = adapter("bybit")
    with pytest.raises(AuthError):
        by.parse_private({"success": False, "ret_msg": "Invalid sign", "op": "auth"}, "BTCUSD")
    assert by.parse_private({"success": True, "ret_msg": "", "op": "auth"}, "BTCUSD") == []
    order = {"topic": "order", "data": [
        {"symbol": "BTCUSD", "orderId": "1", "orderLinkId": "passivx-cl-a-1", "side": "Sell", "price": "61000",
         "qty": "100", "cumExecQty": "0", "orderStatus": "Cancelled", "positionIdx": 0, "reduceOnly": True,
         "rejectReason": "EC_PostOnlyWillTakeLiquidity", "category": "inverse"},
        {"symbol": "ETHUSD", "orderId": "2", "side": "Buy", "orderStatus": "New"}]}
    (ev,) = by.parse_private(order, "BTCUSD")
    assert ev == X.OrderUpdate("1", "passivx-cl-a-1", -1, 1, 61000.0, 100.0, True, 0.0, "canceled",
                               "EC_PostOnlyWillTakeLiquidity")
    execution = {"topic": "execution", "data": [
        {"category": "inverse", "symbol": "BTCUSD", "execId": "e", "execPrice": "60000", "execQty": "100",
         "execType": "Trade", "orderLinkId": "passivx-el-a-1", "side": "Buy", "execTime": "123"},
        {"category": "inverse", "symbol": "BTCUSD", "execType": "Funding", "side": "Buy"}]}
    assert by.parse_private(execution, "BTCUSD") == [X.Fill("passivx-el-a-1", 1, 60000.0, 100.0, 123.0)]
    pos = {"topic": "position", "data": [{"category": "inverse", "symbol": "BTCUSD", "side": "Sell", "size": "200",
                                          "positionIdx": 0, "entryPrice": "59000"}]}
    assert by.parse_private(pos, "BTCUSD") == [X.PositionUpdate(0, -200.0, 59000.0)]
    wallet = {"topic": "wallet", "data": [{"accountType": "UNIFIED", "coin": [
        {"coin": "USDT", "walletBalance": "5"}, {"coin": "BTC", "walletBalance": "0.0123"}]}]}
    assert by.parse_private(wallet, "BTCUSD") == [X.BalanceUpdate(0.0123)]


def test_parse_binance_private():
    bn = adapter("binance")
    upd = {"e": "ORDER_TRADE_UPDATE", "E": 1, "T": 1, "o": {
        "s": "BTCUSDT", "c": "passivx-cl-b-2", "S": "SELL", "o": "LIMIT", "f": "GTX", "q": "0.010", "p": "64969.8",
        "x": "TRADE", "X": "FILLED", "i": 1014, "l": "0.010", "z": "0.010", "L": "64969.8", "T": 77, "m": True,
        "R": False, "ps": "LONG"}}
    assert bn.parse_private(upd, "BTCUSDT") == [
        X.OrderUpdate("1014", "passivx-cl-b-2", -1, 1, 64969.8, 0.01, True, 0.01, "filled", "TRADE"),
        X.Fill("passivx-cl-b-2", -1, 64969.8, 0.01, 77.0)]
    acc = {"e": "ACCOUNT_UPDATE", "a": {"m": "ORDER", "B": [{"a": "USDT", "wb": "10000.5", "cw": "1"}],
                                        "P": [{"s": "BTCUSDT", "pa": "-0.010", "ep": "64969.8", "ps": "SHORT"},
                                              {"s": "ETHUSDT", "pa": "1", "ep": "3000", "ps": "LONG"}]}}
    assert bn.parse_private(acc, "BTCUSDT") == [X.BalanceUpdate(10000.5), X.PositionUpdate(-1, -0.01, 64969.8)]
    with pytest.raises(ConnectionError):
        bn.parse_private({"e": "listenKeyExpired"}, "BTCUSDT")


@pytest.mark.parametrize("exc,action", [
    (ccxt.RateLimitExceeded("10006"), X.BACKOFF), (ccxt.DDoSProtection("-1003"), X.BACKOFF),
    (ccxt.RequestTimeout("t"), X.RETRY), (ccxt.ExchangeNotAvailable("503"), X.RETRY),
    (ccxt.OperationFailed("-1001"), X.RETRY), (TimeoutError(), X.RETRY),
    (ccxt.InsufficientFunds("110007"), X.SKIP), (ccxt.OrderNotFillable("-5022"), X.SKIP),
    (ccxt.InvalidOrder("bad"), X.SKIP), (ccxt.OrderNotFound("110001"), X.RESYNC),
    (ccxt.AuthenticationError("10004"), X.FATAL), (ccxt.InvalidNonce("10002"), X.FATAL),
])
def test_error_classes(exc, action):
    assert X.classify(exc) == action


def test_binance_loopback_keeps_the_futures_error_table(monkeypatch):
    monkeypatch.setenv("PASSIVX_BINANCE_REST_URL", "http://127.0.0.1:9")
    client = adapter("binance").make_client()
    with pytest.raises(ccxt.InsufficientFunds):
        client.handle_errors(400, "", "http://127.0.0.1:9/fapi/v1/order", "POST", {}, '{"code":-2019,"msg":"m"}',
                             {"code": -2019, "msg": "m"}, {}, {})
