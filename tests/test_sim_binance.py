"""The simulated Binance USDT-M exchange, driven by the real ccxt (async), websockets and aiohttp clients."""
import asyncio
import json
import time

import aiohttp
import ccxt.async_support as ccxt
import pytest
import websockets
from simclient import loopback_only, pro_watchers, recv_until, run, sim_fixture, with_client  # noqa: F401  (autouse)

from passivx.sim import SimExchange, run_in_thread

SYM = "BTC/USDT:USDT"


sim = sim_fixture("binance", symbol="BTCUSDT", api_key="k2", api_secret="s2", balance=10_000.0, price=60000.0)


async def user_stream(sim, ex):
    key = (await ex.fapiPrivatePostListenKey())["listenKey"]
    return key, await websockets.connect(f"{sim.env()['PASSIVX_BINANCE_WS_PRIVATE_URL']}/{key}")


def test_load_markets_gives_the_linear_contract_spec(sim):
    async def body(ex):
        return ex.market(SYM)
    m = run(with_client(sim, body))
    assert m["id"] == "BTCUSDT" and m["linear"] is True and m["inverse"] is False and m["swap"] is True
    assert m["precision"]["price"] == 0.1 and m["precision"]["amount"] == 0.001
    assert m["limits"]["amount"]["min"] == 0.001 and m["limits"]["cost"]["min"] == 100.0 and m["contractSize"] == 1.0
    assert [r for r in sim.requests if r[2]] == []  # load_markets made no signed request


def test_create_fetch_cancel_round_trip_by_client_id(sim):
    async def body(ex):
        created = await ex.create_order(SYM, "limit", "buy", 0.01, 59000.1, {"postOnly": True, "clientOrderId": "passivx-1"})
        opened = await ex.fetch_open_orders(SYM)
        fetched = await ex.fetch_order(None, SYM, {"origClientOrderId": "passivx-1"})
        canceled = await ex.cancel_order(None, SYM, {"origClientOrderId": "passivx-1"})
        with pytest.raises(ccxt.OrderNotFound):
            await ex.cancel_order(created["id"], SYM)
        with pytest.raises(ccxt.OrderNotFound):
            await ex.fetch_order(None, SYM, {"origClientOrderId": "never-sent"})
        return created, opened, fetched, canceled
    created, opened, fetched, canceled = run(with_client(sim, body))
    assert (created["status"], created["postOnly"], created["timeInForce"], created["clientOrderId"]) == ("open", True, "PO", "passivx-1")
    [o] = opened
    assert (o["id"], o["price"], o["amount"], o["side"], o["reduceOnly"]) == (created["id"], 59000.1, 0.01, "buy", False)
    assert fetched["id"] == created["id"] and canceled["status"] == "canceled"
    assert sim.open_orders() == []


def test_signature_timestamp_and_key_are_checked(sim):
    async def balance(ex):
        return await ex.fetch_balance()
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        run(with_client(sim, balance, secret="wrong"))
    sim.faults.clock_skew(60_000)
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        run(with_client(sim, balance))
    sim.faults.clock_skew(0)
    assert run(with_client(sim, balance))["USDT"]["total"] == 10_000.0


def test_error_codes_map_to_ccxt_exception_classes(sim):
    async def body(ex):
        seen = {}
        for fault, call in {
            "rate_limit": lambda: ex.fetch_balance(),
            "server_error": lambda: ex.fetch_open_orders(SYM),
            "insufficient_balance": lambda: ex.create_order(SYM, "limit", "buy", 0.01, 59000, {"postOnly": True}),
            "post_only_reject": lambda: ex.create_order(SYM, "limit", "buy", 0.01, 50000, {"postOnly": True}),
        }.items():
            getattr(sim.faults, fault)(1)
            try:
                await call()
            except ccxt.BaseError as e:
                seen[fault] = type(e)
        for name, call in {
            "crossing_post_only": lambda: ex.create_order(SYM, "limit", "buy", 0.01, 60001, {"postOnly": True}),
            "min_notional": lambda: ex.create_order(SYM, "limit", "buy", 0.001, 59000),
            "margin": lambda: ex.create_order(SYM, "limit", "buy", 2.0, 59000),  # 118k notional / 10x > 10k
            "reduce_only": lambda: ex.create_order(SYM, "limit", "sell", 0.01, 61000, {"reduceOnly": True}),
        }.items():
            try:
                await call()
            except ccxt.BaseError as e:
                seen[name] = type(e)
        return seen
    seen = run(with_client(sim, body))
    assert issubclass(seen["rate_limit"], ccxt.DDoSProtection)  # HTTP 429 (spec: checked first)
    assert issubclass(seen["server_error"], ccxt.ExchangeNotAvailable)
    assert issubclass(seen["insufficient_balance"], ccxt.InsufficientFunds)
    assert issubclass(seen["margin"], ccxt.InsufficientFunds)
    assert issubclass(seen["post_only_reject"], ccxt.OrderNotFillable)
    assert issubclass(seen["crossing_post_only"], ccxt.OrderNotFillable)
    assert issubclass(seen["min_notional"], ccxt.InvalidOrder)
    assert issubclass(seen["reduce_only"], ccxt.InvalidOrder)
    assert sim.open_orders() == [] and sim.orders() == []  # nothing recorded


def test_hedge_mode_long_and_short_with_position_side_closes(sim):
    async def body(ex):
        await ex.set_position_mode(True)
        mode = await ex.fetch_position_mode(SYM)
        await ex.create_order(SYM, "limit", "buy", 0.01, 59000, {"postOnly": True, "positionSide": "LONG"})
        await ex.create_order(SYM, "limit", "sell", 0.02, 61000, {"postOnly": True, "positionSide": "SHORT"})
        with pytest.raises(ccxt.BaseError):  # cannot switch back with open orders (-4067)
            await ex.set_position_mode(False)
        sim.trade(58999.9, 1, "sell")
        sim.trade(61000.1, 1, "buy")
        positions = {p["side"]: (p["contracts"], p["entryPrice"]) for p in await ex.fetch_positions([SYM])}
        close = await ex.create_order(SYM, "limit", "sell", 0.01, 62000, {"postOnly": True, "reduceOnly": True, "hedged": True})
        return mode, positions, close
    mode, positions, close = run(with_client(sim, body))
    assert mode["hedged"] is True
    assert positions == {"long": (0.01, 59000.0), "short": (0.02, 61000.0)}
    assert close["info"]["positionSide"] == "LONG"  # ccxt turns reduceOnly into the hedge-mode close
    assert sim.positions() == {"LONG": (0.01, 59000.0), "SHORT": (-0.02, 61000.0)}


def test_user_data_stream_pushes_order_trade_and_account_updates(sim):
    async def body(ex):
        key, ws = await user_stream(sim, ex)
        try:
            await ex.create_order(SYM, "limit", "buy", 0.01, 59500, {"postOnly": True, "clientOrderId": "u1"})
            new = await recv_until(ws, lambda m: m.get("e") == "ORDER_TRADE_UPDATE")
            await asyncio.to_thread(sim.trade, 59499.9, 0.5, "sell")
            trade = await recv_until(ws, lambda m: m.get("e") == "ORDER_TRADE_UPDATE")
            account = await recv_until(ws, lambda m: m.get("e") == "ACCOUNT_UPDATE")
            keepalive = await ex.fapiPrivatePutListenKey()
        finally:
            await ws.close()
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(f"{sim.env()['PASSIVX_BINANCE_WS_PRIVATE_URL']}/not-a-listen-key")
        return key, new["o"], trade["o"], account["a"], keepalive
    key, new, trade, account, keepalive = run(with_client(sim, body))
    assert (new["c"], new["x"], new["X"], new["f"], new["ps"]) == ("u1", "NEW", "NEW", "GTX", "BOTH")
    assert (trade["x"], trade["X"], trade["l"], trade["L"], trade["m"]) == ("TRADE", "FILLED", "0.010", "59500.0", True)
    assert float(trade["n"]) == pytest.approx(0.01 * 59500 * 0.0002)
    [p] = account["P"]
    assert (p["pa"], float(p["ep"]), p["ps"]) == ("0.010", 59500.0, "BOTH")
    assert float(account["B"][0]["wb"]) == pytest.approx(10_000 - 0.01 * 59500 * 0.0002)
    assert keepalive["listenKey"] == key


def test_expired_listen_key_pushes_the_event_and_closes(sim):
    async def body(ex):
        key, ws = await user_stream(sim, ex)
        sim.faults.expire_listen_keys()
        event = await recv_until(ws, lambda m: True)
        with pytest.raises(websockets.ConnectionClosed):
            await recv_until(ws, lambda m: False)
        with pytest.raises(ccxt.BaseError, match="-1125"):
            await ex.fapiPrivatePutListenKey()
        return key, event
    key, event = run(with_client(sim, body))
    assert event["e"] == "listenKeyExpired" and event["listenKey"] == key


def test_public_agg_trades_raw_subscribe_and_combined_streams(sim):
    base = sim.env()["PASSIVX_BINANCE_WS_PUBLIC_URL"]

    async def body():
        async with websockets.connect(f"{base}/btcusdt@aggTrade") as raw, websockets.connect(base) as sub, \
                websockets.connect(f"ws://127.0.0.1:{sim.port}/stream?streams=btcusdt@aggTrade") as combined:
            await sub.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 3}))
            ack = await recv_until(sub, lambda m: m.get("id") == 3)
            await sub.send(json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@aggTrade"], "id": 4}))
            err = await recv_until(sub, lambda m: m.get("id") == 4)
            await asyncio.to_thread(sim.trade, 60123.4, 0.25, "sell", 1_700_000_000_999)
            got = [await recv_until(w, lambda m: True) for w in (raw, sub, combined)]
            await asyncio.to_thread(sim.faults.drop_sockets)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await recv_until(raw, lambda m: False)
            return ack, err, got, closed.value.rcvd.code
    ack, err, (raw, sub, combined), code = run(body())
    assert ack == {"result": None, "id": 3} and "error" in err
    assert (raw["e"], raw["s"], raw["p"], raw["q"], raw["T"], raw["m"]) == ("aggTrade", "BTCUSDT", "60123.4", "0.250", 1_700_000_000_999, True)
    assert raw["a"] == raw["f"] == raw["l"] and isinstance(raw["E"], int)
    assert sub == raw and combined == {"stream": "btcusdt@aggTrade", "data": raw}
    assert code == 1001


def test_server_sends_protocol_ping_frames():
    async def body(s):
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"ws://127.0.0.1:{s.port}/ws/btcusdt@aggTrade", autoping=False) as ws:
                msg = await asyncio.wait_for(ws.receive(), 3)
                await ws.pong(msg.data)
                return msg.type
    with run_in_thread(SimExchange("binance", ws_heartbeat=0.2)) as s:
        assert run(body(s)) == aiohttp.WSMsgType.PING


def test_market_stop_loss_and_klines(sim):
    t0 = int(time.time() * 1000) // 60_000 * 60_000 - 120_000

    async def body(ex):
        await ex.create_order(SYM, "limit", "buy", 0.01, 59000, {"postOnly": True})
        sim.play([(t0 + 10, 58990.0, 0.3, "sell"), (t0 + 20, 58500.0, 0.1, "sell")])
        stop = await ex.create_order(SYM, "market", "sell", 0.01, None, {"reduceOnly": True, "clientOrderId": "sl"})
        candles = await ex.fetch_ohlcv(SYM, "1m", since=t0 - 60_000, limit=3)
        return stop, candles, (await ex.fetch_balance())["USDT"]["total"]
    stop, candles, balance = run(with_client(sim, body))
    assert stop["status"] == "closed" and stop["average"] == 58500.0
    expected = 10_000 - 0.01 * 59000 * 0.0002 + 0.01 * (58500 - 59000) - 0.01 * 58500 * 0.0005
    assert balance == pytest.approx(expected, abs=1e-6) and sim.positions() == {"BOTH": (0.0, 0.0)}
    assert candles[0][1:6] == [60000.0] * 4 + [0.0]
    assert candles[1][1:6] == [58990.0, 58990.0, 58500.0, 58500.0, 0.4]


def test_ccxt_pro_watchers_work_against_the_sim(sim):
    trades, orders, mine = run(pro_watchers(sim, SYM, 0.5, 0.01))
    assert (trades[0]["price"], trades[0]["amount"], trades[0]["side"]) == (60000.0, 0.5, "sell")
    assert orders[0]["clientOrderId"] == "pro"
    assert (mine[0]["price"], mine[0]["amount"], mine[0]["takerOrMaker"]) == (59900.0, 0.01, "maker")
    assert any(path.startswith("/fapi/v1/listenKey") for _, path, _ in sim.requests)


def test_margin_mode_leverage_and_an_applied_create_whose_answer_times_out(sim):
    async def body(ex):
        with pytest.raises(ccxt.MarginModeAlreadySet):
            await ex.set_margin_mode("cross", SYM)
        await ex.set_margin_mode("isolated", SYM)
        lev = await ex.set_leverage(7, SYM)
        ex.timeout = 400
        sim.faults.timeout_after_apply(1, ms=800)
        with pytest.raises(ccxt.RequestTimeout):
            await ex.create_order(SYM, "limit", "buy", 0.01, 59000, {"postOnly": True, "clientOrderId": "late"})
        sim.faults.delay(800, 1)
        with pytest.raises(ccxt.RequestTimeout):
            await ex.fetch_open_orders(SYM)
        ex.timeout = 3000
        found = await ex.fetch_order(None, SYM, {"origClientOrderId": "late"})
        positions = await ex.fetch_positions([SYM])
        return lev, found, positions
    lev, found, _ = run(with_client(sim, body))
    assert lev["leverage"] == 7 and sim.book.leverage == 7.0 and sim.book.margin_mode == "isolated"
    assert found["status"] == "open" and found["clientOrderId"] == "late"


def test_enforced_limits_report_weight_and_order_counts():
    async def body(s):
        async def two(ex):
            counts = []
            for i in range(2):
                await ex.create_order(SYM, "limit", "buy", 0.01, 50000 - i, {"postOnly": True})
                counts.append((ex.last_response_headers.get("X-MBX-ORDER-COUNT-10S"),
                               ex.last_response_headers.get("X-MBX-USED-WEIGHT-1M")))
            return counts
        return await with_client(s, two)
    with run_in_thread(SimExchange("binance", enforce_rate_limits=True)) as s:
        counts = run(body(s))
    assert [c[0] for c in counts] == ["1", "2"]
    assert int(counts[1][1]) == int(counts[0][1]) + 1


def test_wait_until_polls_the_state(sim):
    import threading
    threading.Timer(0.1, sim.trade, args=(60100.0, 1, "buy")).start()
    assert sim.wait_until(lambda s: s.book.price == 60100.0, timeout=5)
    assert not sim.wait_until(lambda s: s.book.price == 1.0, timeout=0.1)


def test_batch_create_and_cancel_answer_each_order_in_place(sim):
    async def body(ex):
        made = await ex.create_orders([
            {"symbol": SYM, "type": "limit", "side": "buy", "amount": 0.01, "price": 59000, "params": {"postOnly": True, "clientOrderId": "b1"}},
            {"symbol": SYM, "type": "limit", "side": "buy", "amount": 0.01, "price": 60500, "params": {"postOnly": True, "clientOrderId": "b2"}},
            {"symbol": SYM, "type": "limit", "side": "sell", "amount": 0.01, "price": 61000, "params": {"postOnly": True, "clientOrderId": "b3"}},
        ])
        canceled = await ex.cancel_orders([], SYM, {"clientOrderIds": ["b1", "b3", "nope"]})
        return made, canceled
    made, canceled = run(with_client(sim, body))
    assert sorted(o["clientOrderId"] for o in made if o.get("id")) == ["b1", "b3"]
    assert [o["info"].get("code") for o in made].count(-5022) == 1  # the crossing one, refused in its place
    assert sorted(o["status"] for o in canceled) == ["canceled", "canceled"]  # ccxt drops the -2011 item
    assert sim.open_orders() == []


def test_play_paces_trades_and_keeps_their_order(sim):
    trades = [(1_700_000_000_000 + i, 60000.0 + i / 10, 0.001, "buy" if i % 2 else "sell") for i in range(40)]
    t0 = time.monotonic()
    assert sim.play(trades, rate=200) == 40
    elapsed = time.monotonic() - t0
    assert 0.15 < elapsed < 2.0  # 40 trades at 200/s: about 0.2 s
    assert [(t.ts, t.price, t.taker_side) for t in sim.book.trades] == [(ts, p, side) for ts, p, _, side in trades]
    assert sim.play(iter(trades[:3])) == 3  # asap


def test_private_endpoints_refuse_requests_without_key_or_signature(sim):
    import urllib.error
    import urllib.request

    def get(path, headers=None):
        req = urllib.request.Request(sim.base_url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())
    assert get("/fapi/v3/account") == (401, {"code": -2014, "msg": "API-key format invalid."})
    status, body = get(f"/fapi/v3/account?timestamp={int(time.time() * 1000)}", {"X-MBX-APIKEY": "k2"})
    assert (status, body["code"]) == (400, -1102)
    status, body = get("/fapi/v1/exchangeInfo")
    assert status == 200 and body["symbols"][0]["symbol"] == "BTCUSDT"
    assert sim.requests[-1] == ("GET", "/fapi/v1/exchangeInfo", False) and sim.requests[-2][2] is True
