"""The simulated Bybit v5 inverse exchange, driven by the real ccxt (async) and websockets clients."""
import asyncio
import json
import time

import ccxt.async_support as ccxt
import pytest
import websockets
from simclient import loopback_only, pro_watchers, recv_until, run, sim_fixture, with_client  # noqa: F401  (autouse)

from passivx.sim import SimExchange, run_in_thread
from passivx.sim.signing import hmac_hex

SYM = "BTC/USD:BTC"


sim = sim_fixture("bybit", symbol="BTCUSD", api_key="k1", api_secret="s1", balance=0.05, price=60000.0)


async def private_ws(sim, topics=("order", "execution", "position", "wallet")):
    ws = await websockets.connect(sim.env()["PASSIVX_BYBIT_WS_PRIVATE_URL"])
    expires = str(int(time.time() * 1000) + 10_000)
    await ws.send(json.dumps({"op": "auth", "args": [sim.api_key, expires, hmac_hex(sim.api_secret, "GET/realtime" + expires)]}))
    assert (await recv_until(ws, lambda m: m.get("op") == "auth"))["success"] is True
    await ws.send(json.dumps({"op": "subscribe", "req_id": 7, "args": list(topics)}))
    ack = await recv_until(ws, lambda m: m.get("op") == "subscribe")
    assert ack["success"] is True and ack["req_id"] == 7
    return ws


def test_load_markets_gives_the_inverse_contract_spec(sim):
    async def body(ex):
        return ex.market(SYM)
    m = run(with_client(sim, body))
    assert m["id"] == "BTCUSD" and m["inverse"] is True and m["linear"] is False and m["swap"] is True
    assert m["precision"]["price"] == 0.5 and m["precision"]["amount"] == 1.0
    assert m["limits"]["amount"]["min"] == 1.0 and m["contractSize"] == 1.0 and m["settle"] == "BTC"
    assert ("GET", "/v5/market/instruments-info", False) in sim.requests


def test_create_fetch_cancel_round_trip_by_client_id(sim):
    async def body(ex):
        created = await ex.create_order(SYM, "limit", "buy", 100, 59000.5,
                                        {"postOnly": True, "clientOrderId": "passivx-b-1"})
        opened = await ex.fetch_open_orders(SYM, params={"limit": 50})
        by_cid = await ex.fetch_open_orders(SYM, params={"orderLinkId": "passivx-b-1"})
        await ex.cancel_order(None, SYM, {"orderLinkId": "passivx-b-1"})
        after = await ex.fetch_open_orders(SYM, params={"orderLinkId": "passivx-b-1"})
        return created, opened, by_cid, after, await ex.fetch_open_orders(SYM)
    created, opened, by_cid, after, final = run(with_client(sim, body))
    assert created["clientOrderId"] == "passivx-b-1" and created["id"]
    [o] = opened
    assert (o["id"], o["price"], o["amount"], o["postOnly"], o["reduceOnly"], o["status"], o["side"]) == \
        (created["id"], 59000.5, 100.0, True, False, "open", "buy")
    assert by_cid[0]["id"] == created["id"]
    assert after[0]["status"] == "canceled" and final == [] and sim.open_orders() == []


def test_open_orders_are_paged_like_the_real_exchange(sim):
    async def body(ex):
        for i in range(23):
            await ex.create_order(SYM, "limit", "buy", 1, 50000 - i, {"postOnly": True, "clientOrderId": f"p{i}"})
        default = await ex.fetch_open_orders(SYM)
        wide = await ex.fetch_open_orders(SYM, params={"limit": 50})
        return default, wide
    default, wide = run(with_client(sim, body))
    assert len(default) == 20 and len(wide) == 23


def test_bad_signature_unknown_key_and_clock_skew_are_refused(sim):
    async def nothing(ex):
        return None
    with pytest.raises(ccxt.AuthenticationError, match="10004"):
        run(with_client(sim, nothing, secret="wrong"))  # load_markets makes a private call (coin/query-info)
    sim.faults.clock_skew(-30_000)
    with pytest.raises(ccxt.InvalidNonce, match="10002"):
        run(with_client(sim, nothing))
    sim.faults.clock_skew(0)
    run(with_client(sim, nothing))


def test_error_codes_map_to_ccxt_exception_classes(sim):
    async def body(ex):
        await ex.fetch_balance()  # caches is_unified_enabled (its two concurrent calls would race the faults)
        seen = {}
        attempts = {
            "rate_limit": lambda: ex.fetch_balance(),
            "server_error": lambda: ex.fetch_positions([SYM]),
            "insufficient_balance": lambda: ex.create_order(SYM, "limit", "buy", 10, 59000, {"postOnly": True}),
        }
        for fault, call in attempts.items():
            getattr(sim.faults, fault)(1)
            try:
                await call()
            except ccxt.BaseError as e:
                seen[fault] = type(e)
        for name, call in {"unknown": lambda: ex.cancel_order("no-such-id", SYM),
                           "reduce_only": lambda: ex.create_order(SYM, "limit", "sell", 10, 61000, {"reduceOnly": True}),
                           "qty_step": lambda: ex.create_order(SYM, "limit", "buy", 0.4, 59000)}.items():
            try:
                await call()
            except ccxt.BaseError as e:
                seen[name] = type(e)
        try:
            await ex.set_leverage(10, SYM)  # unchanged: 110043
        except ccxt.BaseError as e:
            seen["leverage"] = type(e)
        seen["balance_after"] = (await ex.fetch_balance())["BTC"]["total"]
        return seen
    seen = run(with_client(sim, body))
    assert issubclass(seen["rate_limit"], ccxt.RateLimitExceeded)
    assert issubclass(seen["server_error"], ccxt.ExchangeNotAvailable)
    assert issubclass(seen["insufficient_balance"], ccxt.InsufficientFunds)
    assert issubclass(seen["unknown"], ccxt.OrderNotFound)
    assert issubclass(seen["reduce_only"], ccxt.InvalidOrder)
    assert issubclass(seen["qty_step"], ccxt.BadRequest) or issubclass(seen["qty_step"], ccxt.InvalidOrder)
    assert issubclass(seen["leverage"], ccxt.BadRequest)
    assert seen["balance_after"] == 0.05 and sim.open_orders() == []


def test_delays_and_an_applied_create_whose_answer_times_out(sim):
    async def body(ex):
        await ex.fetch_balance()  # caches is_unified_enabled: one request per call below
        ex.timeout = 400
        sim.faults.delay(800, 1)
        with pytest.raises(ccxt.RequestTimeout):
            await ex.fetch_balance()
        sim.faults.timeout_after_apply(1, ms=800)
        with pytest.raises(ccxt.RequestTimeout):
            await ex.create_order(SYM, "limit", "buy", 100, 59000, {"postOnly": True, "clientOrderId": "px-t"})
        ex.timeout = 3000
        return await ex.fetch_open_orders(SYM, params={"orderLinkId": "px-t"})
    found = run(with_client(sim, body))
    assert [o["status"] for o in found] == ["open"]  # applied although the answer never came in time


def test_fills_move_position_and_balance_seen_through_ccxt(sim):
    async def body(ex):
        await ex.create_order(SYM, "limit", "buy", 300, 59000, {"postOnly": True, "clientOrderId": "e1"})
        sim.trade(59000, 10, "sell")
        sim.trade(58990, 10, "sell")
        [pos] = await ex.fetch_positions([SYM])
        await ex.create_order(SYM, "limit", "sell", 300, 60000, {"postOnly": True, "reduceOnly": True,
                                                                 "clientOrderId": "c1"})
        sim.trade(60000.5, 10, "buy")
        [flat] = await ex.fetch_positions([SYM])
        return pos, flat, (await ex.fetch_balance())["BTC"]["total"]
    pos, flat, balance = run(with_client(sim, body))
    assert (pos["contracts"], pos["entryPrice"], pos["side"]) == (300.0, 59000.0, "long")
    assert flat["contracts"] == 0.0
    expected = 0.05 + 300 * (1 / 59000 - 1 / 60000) - 300 / 59000 * 0.0002 - 300 / 60000 * 0.0002
    assert balance == pytest.approx(expected, abs=1e-8) and sim.balance() == pytest.approx(expected, rel=1e-12)
    assert [f["client_id"] for f in sim.fills()] == ["e1", "c1"]


def test_public_trades_ping_and_dropped_sockets(sim):
    async def body():
        async with websockets.connect(sim.env()["PASSIVX_BYBIT_WS_PUBLIC_URL"]) as ws:
            await ws.send(json.dumps({"op": "subscribe", "req_id": 1, "args": ["publicTrade.BTCUSD"]}))
            ack = await recv_until(ws, lambda m: m.get("op") == "subscribe")
            await asyncio.to_thread(sim.trade, 60100.5, 250, "buy", 1_700_000_000_123)
            push = await recv_until(ws, lambda m: m.get("topic") == "publicTrade.BTCUSD")
            await ws.send(json.dumps({"op": "ping", "req_id": "p1"}))
            pong = await recv_until(ws, lambda m: m.get("op") == "ping")
            await ws.send(json.dumps({"op": "subscribe", "req_id": 2, "args": ["publicTrade.ETHUSD"]}))
            bad = await recv_until(ws, lambda m: m.get("req_id") == 2)
            await asyncio.to_thread(sim.faults.drop_sockets)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await recv_until(ws, lambda m: False)
            return ack, push, pong, bad, closed.value.rcvd.code
    ack, push, pong, bad, code = run(body())
    assert ack["success"] is True
    assert push["type"] == "snapshot" and isinstance(push["ts"], int)
    [t] = push["data"]
    assert (t["T"], t["s"], t["S"], t["v"], t["p"], t["BT"]) == (1_700_000_000_123, "BTCUSD", "Buy", "250", "60100.5", False)
    assert t["i"]
    assert pong["success"] is True and pong["ret_msg"] == "pong" and pong["req_id"] == "p1"
    assert bad["success"] is False
    assert code == 1001


def test_private_stream_needs_auth_and_pushes_orders_executions_positions_wallet(sim):
    async def body():
        async with websockets.connect(sim.env()["PASSIVX_BYBIT_WS_PRIVATE_URL"]) as ws:
            await ws.send(json.dumps({"op": "subscribe", "args": ["order"]}))
            unauth = await recv_until(ws, lambda m: m.get("op") == "subscribe")
            expires = str(int(time.time() * 1000) + 10_000)
            await ws.send(json.dumps({"op": "auth", "args": ["k1", expires, hmac_hex("wrong", "GET/realtime" + expires)]}))
            bad_auth = await recv_until(ws, lambda m: m.get("op") == "auth")
        ws = await private_ws(sim)
        try:
            async def trade(ex):
                await ex.create_order(SYM, "limit", "buy", 100, 59500, {"postOnly": True, "clientOrderId": "w1"})
                new = await recv_until(ws, lambda m: m.get("topic") == "order")
                await asyncio.to_thread(sim.trade, 59499.5, 1, "sell")
                got = {}
                while len(got) < 4:
                    m = await recv_until(ws, lambda m: "topic" in m)
                    got.setdefault(m["topic"], m["data"][0])
                return new["data"][0], got
            return unauth, bad_auth, await with_client(sim, trade)
        finally:
            await ws.close()
    unauth, bad_auth, (new, got) = run(body())
    assert unauth["success"] is False and bad_auth["success"] is False
    assert (new["orderLinkId"], new["orderStatus"], new["timeInForce"], new["category"]) == ("w1", "New", "PostOnly", "inverse")
    ex = got["execution"]
    assert (ex["orderLinkId"], ex["execPrice"], ex["execQty"], ex["isMaker"], ex["execType"]) == ("w1", "59500.0", "100", True, "Trade")
    assert got["order"]["orderStatus"] == "Filled"
    assert (got["position"]["side"], got["position"]["size"], got["position"]["entryPrice"]) == ("Buy", "100", "59500.0")
    assert float(got["wallet"]["coin"][0]["walletBalance"]) == pytest.approx(0.05 - 100 / 59500 * 0.0002, abs=1e-8)


def test_post_only_rejection_is_a_rest_success_then_a_cancelled_push(sim):
    async def body():
        ws = await private_ws(sim, ("order",))
        try:
            async def place(ex):
                crossing = await ex.create_order(SYM, "limit", "buy", 100, 60000.5, {"postOnly": True, "clientOrderId": "x1"})
                first = await recv_until(ws, lambda m: m.get("topic") == "order")
                sim.faults.post_only_reject(1)
                await ex.create_order(SYM, "limit", "buy", 100, 50000, {"postOnly": True, "clientOrderId": "x2"})
                second = await recv_until(ws, lambda m: m.get("topic") == "order")
                return crossing, first["data"][0], second["data"][0]
            return await with_client(sim, place)
        finally:
            await ws.close()
    crossing, first, second = run(body())
    assert crossing["clientOrderId"] == "x1"
    for push, cid in ((first, "x1"), (second, "x2")):
        assert (push["orderLinkId"], push["orderStatus"], push["rejectReason"]) == (cid, "Cancelled", "EC_PostOnlyWillTakeLiquidity")
    assert sim.open_orders() == []


def test_klines_and_recent_trades_for_warm_up(sim):
    now_min = int(time.time() * 1000) // 60_000 * 60_000
    sim.play([(now_min - 120_000 + 1, 60010.0, 5, "buy"), (now_min - 120_000 + 2, 59990.0, 7, "sell"),
              (now_min - 60_000 + 5, 60005.0, 1, "buy")])

    async def body(ex):
        return await ex.fetch_ohlcv(SYM, "1m", since=now_min - 180_000, limit=4), await ex.fetch_trades(SYM, limit=2)
    candles, trades = run(with_client(sim, body))
    assert [c[0] for c in candles] == [now_min - 180_000, now_min - 120_000, now_min - 60_000, now_min]
    assert candles[0][1:5] == [60000.0] * 4
    assert candles[1][1:5] == [60010.0, 60010.0, 59990.0, 59990.0]
    assert candles[1][5] == pytest.approx(5 / 60010 + 7 / 59990, abs=1e-8)  # ccxt reads inverse volume in coin
    assert candles[3][1:5] == [60005.0] * 4
    assert [(t["price"], t["side"]) for t in trades] == [(59990.0, "sell"), (60005.0, "buy")]


def test_ccxt_pro_watchers_work_against_the_sim(sim):
    trades, orders, mine = run(pro_watchers(sim, SYM, 5, 100))
    assert (trades[0]["price"], trades[0]["amount"], trades[0]["side"]) == (60000.0, 5.0, "sell")
    assert orders[0]["clientOrderId"] == "pro"
    assert (mine[0]["price"], mine[0]["amount"], mine[0]["takerOrMaker"]) == (59900.0, 100.0, "maker")


def test_a_preset_short_is_reported_and_closed_by_a_reduce_only_buy(sim):
    sim.set_position(-200, 61000.0)

    async def body(ex):
        [short] = await ex.fetch_positions([SYM])
        await ex.create_order(SYM, "limit", "buy", 300, 59000, {"postOnly": True, "reduceOnly": True, "clientOrderId": "tp"})
        sim.trade(58999.5, 1, "sell")
        return short
    short = run(with_client(sim, body))
    assert (short["side"], short["contracts"], short["entryPrice"]) == ("short", 200.0, 61000.0)
    [fill] = sim.fills()
    assert fill["qty"] == 200 and sim.positions() == {"BOTH": (0.0, 0.0)}  # clipped to the position
    assert fill["realized_pnl"] == pytest.approx(200 * (1 / 59000 - 1 / 61000), rel=1e-12)
    with pytest.raises(ValueError):
        sim.set_position(0.1, 60000.0, side="LONG")  # no hedge mode on bybit inverse


def test_dropping_only_the_private_sockets_keeps_the_public_stream(sim):
    async def body():
        async with websockets.connect(sim.env()["PASSIVX_BYBIT_WS_PUBLIC_URL"]) as pub:
            await pub.send(json.dumps({"op": "subscribe", "req_id": 1, "args": ["publicTrade.BTCUSD"]}))
            await recv_until(pub, lambda m: m.get("op") == "subscribe")
            priv = await private_ws(sim, ("order",))
            await asyncio.to_thread(sim.faults.drop_sockets, True)
            with pytest.raises(websockets.ConnectionClosed):
                await recv_until(priv, lambda m: False)
            await asyncio.to_thread(sim.trade, 60000.5, 1, "buy")
            return await recv_until(pub, lambda m: "topic" in m)
    assert run(body())["data"][0]["p"] == "60000.5"


def test_enforced_rate_limit_refuses_the_eleventh_create_within_a_second():
    async def body(s):
        async def burst(ex):
            results = []
            for i in range(11):
                try:
                    await ex.create_order(SYM, "limit", "buy", 1, 50000 - i, {"postOnly": True})
                    results.append(ex.last_response_headers.get("X-Bapi-Limit-Status"))
                except ccxt.RateLimitExceeded:
                    results.append("refused")
            return results
        return await with_client(s, burst)
    with run_in_thread(SimExchange("bybit", enforce_rate_limits=True)) as s:
        t0 = time.monotonic()
        results = run(body(s))
        if time.monotonic() - t0 < 1.0:  # the burst fitted in one window (it does unless the machine stalls)
            assert results == [str(9 - i) for i in range(10)] + ["refused"]
        assert len(s.open_orders()) == sum(r != "refused" for r in results)


def test_unsupported_kline_interval_is_a_params_error(sim):
    async def body(ex):
        return await ex.fetch_ohlcv(SYM, "5m", limit=2)
    with pytest.raises(ccxt.BadRequest, match="10001"):
        run(with_client(sim, body))


def test_batch_create_answers_each_order_with_its_code(sim):
    async def body(ex):
        return await ex.create_orders([
            {"symbol": SYM, "type": "limit", "side": "buy", "amount": 100, "price": 59000, "params": {"postOnly": True, "clientOrderId": "b1"}},
            {"symbol": SYM, "type": "limit", "side": "sell", "amount": 100, "price": 61000, "params": {"reduceOnly": True, "clientOrderId": "b2"}},
        ])
    made = run(with_client(sim, body))
    assert made[0]["clientOrderId"] == "b1" and made[0]["id"]
    assert made[1]["info"]["code"] == 110017 and not made[1]["id"]
    assert [o["client_id"] for o in sim.open_orders()] == ["b1"]


def test_private_endpoints_refuse_requests_without_credentials(sim):
    import urllib.request
    with urllib.request.urlopen(sim.base_url + "/v5/position/list?category=inverse", timeout=5) as r:
        status, body = r.status, json.loads(r.read())
    assert status == 200 and body["retCode"] == 10003 and body["result"] == {}
    assert sim.requests == [("GET", "/v5/position/list", False)]


def test_muted_sockets_drop_pushes_and_leave_pings_unanswered(sim):
    async def body():
        async with websockets.connect(sim.env()["PASSIVX_BYBIT_WS_PUBLIC_URL"], ping_interval=None) as ws:
            await ws.send(json.dumps({"op": "subscribe", "req_id": 1, "args": ["publicTrade.BTCUSD"]}))
            await recv_until(ws, lambda m: m.get("op") == "subscribe")
            sim.faults.mute_sockets(0.6)
            await asyncio.to_thread(sim.trade, 60000.5, 1, "buy")  # lost
            await ws.send(json.dumps({"op": "ping", "req_id": "p"}))
            pong_frame = await ws.ping()
            with pytest.raises(asyncio.TimeoutError):
                await recv_until(ws, lambda m: True, timeout=0.3)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(pong_frame, 0.1)
            await asyncio.sleep(0.4)
            await asyncio.to_thread(sim.trade, 60001.0, 1, "buy")
            after = await recv_until(ws, lambda m: True)
            await asyncio.wait_for(await ws.ping(), 1)  # answered again
            return after
    assert run(body())["data"][0]["p"] == "60001.0"
