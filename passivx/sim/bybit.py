"""Bybit v5 dialect of the simulator: inverse perpetuals (category=inverse), a UTA 2.0 account.

REST under /v5 (every answer wrapped as {retCode, retMsg, result, retExtInfo, time}, HTTP 200 also for
errors), websockets /v5/public/inverse and /v5/private. Signed REST: X-BAPI-API-KEY, X-BAPI-TIMESTAMP,
X-BAPI-RECV-WINDOW, X-BAPI-SIGN = HMAC(secret, timestamp + key + recvWindow + raw query | body)."""
from __future__ import annotations

import asyncio
import json
import uuid

from aiohttp import web

from passivx.sim import book as B
from passivx.sim.book import Fill, Order, Reject, fmt
from passivx.sim.signing import hmac_hex, same

CATEGORY = "inverse"
ERRORS = {  # book reject reason -> (retCode, retMsg)
    B.INSUFFICIENT: (110007, "ab not enough for new order"),
    B.REDUCE_ONLY: (110017, "Reduce-only rule not satisfied"),
    B.DUPLICATE_ID: (110072, "OrderLinkedID is duplicate"),
    B.UNKNOWN_ORDER: (110001, "Order does not exist"),
    B.QTY_STEP: (10001, "Qty invalid"),
    B.MIN_QTY: (10001, "The number of contracts is below the minimum allowed"),
    B.PRICE_STEP: (10001, "Order price has too many decimals"),
    B.POSITION_SIDE: (10001, "position idx not match position mode"),
    B.MIN_NOTIONAL: (110094, "Order does not meet minimum order value"),
}
STATUS = {"new": "New", "filled": "Filled", "canceled": "Cancelled", "rejected": "Rejected"}
PRIVATE_TOPICS = ("order", "execution", "position", "wallet")
ORDER_LIMIT_PER_S = 10  # UTA default, futures: per UID and endpoint


class Bybit:
    """Bybit v5 REST and websocket handlers over the simulator's book; pushes from its events."""

    def __init__(self, sim) -> None:
        self.sim = sim
        self.book = sim.book
        self.symbol = sim.symbol
        self.coin = self.symbol[:-3] if self.symbol.endswith("USD") else self.symbol
        self.spec = self.book.spec

    # ---- server hooks ----------------------------------------------------------------------------------
    def env(self, http: str, ws: str) -> dict[str, str]:
        return {"PASSIVX_BYBIT_REST_URL": http, "PASSIVX_BYBIT_WS_PUBLIC_URL": f"{ws}/v5/public/{CATEGORY}",
                "PASSIVX_BYBIT_WS_PRIVATE_URL": f"{ws}/v5/private"}

    def is_signed(self, request: web.Request) -> bool:
        return "X-BAPI-API-KEY" in request.headers or "X-BAPI-SIGN" in request.headers

    def routes(self) -> list:
        pub = {"time": self.time, "instruments-info": self.instruments, "tickers": self.tickers,
               "orderbook": self.orderbook, "recent-trade": self.recent_trades, "kline": self.kline}
        get = {"/v5/asset/coin/query-info": lambda r, q: {"rows": []},
               "/v5/user/query-api": self.query_api, "/v5/account/info": self.account_info,
               "/v5/account/wallet-balance": self.wallet_balance, "/v5/account/fee-rate": self.fee_rate,
               "/v5/position/list": self.position_list, "/v5/order/realtime": self.order_realtime,
               "/v5/order/history": self.order_history, "/v5/execution/list": self.execution_list}
        post = {"/v5/order/create": self.create, "/v5/order/cancel": self.cancel,
                "/v5/order/create-batch": self.create_batch, "/v5/order/cancel-batch": self.cancel_batch,
                "/v5/order/cancel-all": self.cancel_all, "/v5/position/set-leverage": self.set_leverage,
                "/v5/position/switch-isolated": self.switch_isolated,
                "/v5/account/set-margin-mode": self.set_margin_mode, "/v5/position/switch-mode": self.switch_mode}
        routes = [web.get(f"/v5/market/{name}", self._public(fn)) for name, fn in pub.items()]
        routes += [web.get(path, self._private(fn)) for path, fn in get.items()]
        routes += [web.post(path, self._private(fn)) for path, fn in post.items()]
        routes += [web.get("/v5/public/{category}", self.ws_public), web.get("/v5/private", self.ws_private)]
        return routes

    def rate_limit_response(self) -> web.Response:
        now = self.sim.now_ms()
        return web.json_response(self._wrap(None, 10006, "Too many visits!"),
                                 headers={"X-Bapi-Limit": str(ORDER_LIMIT_PER_S), "X-Bapi-Limit-Status": "0",
                                          "X-Bapi-Limit-Reset-Timestamp": str(now + 1000)})

    def limit_headers(self, request: web.Request, limits, now: int) -> dict[str, str] | None:
        """Bybit's per-UID limit on trade endpoints (default UTA account: 10 requests/s per endpoint);
        None when exceeded. Other endpoints are not limited here."""
        if request.method != "POST" or not request.path.startswith("/v5/order/"):
            return {}
        ok, used = limits.hit(request.path, ORDER_LIMIT_PER_S, 1000, now)
        if not ok:
            return None
        return {"X-Bapi-Limit": str(ORDER_LIMIT_PER_S), "X-Bapi-Limit-Status": str(ORDER_LIMIT_PER_S - used),
                "X-Bapi-Limit-Reset-Timestamp": str(now)}

    # ---- envelope and auth -------------------------------------------------------------------------------
    def _wrap(self, result, code: int = 0, msg: str = "OK") -> dict:
        return {"retCode": code, "retMsg": msg, "result": {} if result is None else result, "retExtInfo": {},
                "time": self.sim.now_ms()}

    def _error(self, code: int, msg: str) -> web.Response:
        return web.json_response(self._wrap(None, code, msg))

    def _public(self, fn):
        async def handler(request: web.Request) -> web.Response:
            try:
                return web.json_response(self._wrap(fn(dict(request.query))))
            except _ParamError as e:
                return self._error(10001, f"params error: {e}")
        return handler

    def _private(self, fn):
        async def handler(request: web.Request) -> web.Response:
            body = await request.text()
            refused = self._check_auth(request, body)
            if refused:
                return refused
            try:
                params = dict(request.query) if request.method == "GET" else json.loads(body or "{}")
            except ValueError:
                return self._error(10001, "params error: body is not JSON")
            try:
                result = fn(request, params)
                if hasattr(result, "__await__"):
                    result = await result
            except (Reject, _Code, _ParamError) as e:
                return self._error(*_code_of(e))
            if isinstance(result, web.StreamResponse):
                return result
            return web.json_response(self._wrap(result))
        return handler

    def _check_auth(self, request: web.Request, body: str) -> web.Response | None:
        h = request.headers
        key, ts, recv, sign = (h.get("X-BAPI-API-KEY"), h.get("X-BAPI-TIMESTAMP"),
                               h.get("X-BAPI-RECV-WINDOW", "5000"), h.get("X-BAPI-SIGN"))
        if not key or key != self.sim.api_key:
            return self._error(10003, "API key is invalid.")
        if not ts or not sign or not ts.isdigit() or not recv.isdigit():
            return self._error(10004, "error sign! missing X-BAPI-TIMESTAMP or X-BAPI-SIGN")
        now = self.sim.now_ms()
        if not (now - int(recv) <= int(ts) < now + 1000):
            return self._error(10002, "invalid request, please check your server timestamp or recv_window param. "
                                      f"req_timestamp[{ts}],server_timestamp[{now}],recv_window[{recv}]")
        payload = request.raw_path.partition("?")[2] if request.method == "GET" else body
        if not same(sign, hmac_hex(self.sim.api_secret, ts + key + recv + payload)):
            return self._error(10004, "error sign! origin_string[" + ts + key + recv + payload + "]")
        return None

    # ---- market data -------------------------------------------------------------------------------------
    def time(self, q: dict) -> dict:
        now = self.sim.now_ms()
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    def _ours(self, q: dict) -> bool:
        return q.get("category") == CATEGORY and q.get("symbol", self.symbol) == self.symbol

    def instruments(self, q: dict) -> dict:
        s = self.spec
        listed = self._ours(q) and q.get("status", "Trading") == "Trading" and q.get("baseCoin", self.coin) == self.coin
        item = {"symbol": self.symbol, "contractType": "InversePerpetual", "status": "Trading",
                "baseCoin": self.coin, "quoteCoin": "USD", "settleCoin": self.coin, "launchTime": "1585526400000",
                "deliveryTime": "0", "deliveryFeeRate": "",
                "priceScale": str(len(fmt(0, s.price_step).partition(".")[2])),
                "leverageFilter": {"minLeverage": "1", "maxLeverage": fmt(s.max_leverage, 0.01),
                                   "leverageStep": "0.01"},
                "priceFilter": {"minPrice": fmt(s.price_step, s.price_step), "maxPrice": "1999999.00",
                                "tickSize": fmt(s.price_step, 0.01)},
                "lotSizeFilter": {"minOrderQty": fmt(s.min_qty, s.qty_step), "qtyStep": fmt(s.qty_step, s.qty_step),
                                  "maxOrderQty": "30000000", "maxMktOrderQty": "2000000"},
                "unifiedMarginTrade": True, "fundingInterval": 480, "copyTrading": "none",
                "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375", "isPreListing": False,
                "preListingInfo": None}
        return {"category": q.get("category", ""), "list": [item] if listed else [], "nextPageCursor": ""}

    def tickers(self, q: dict) -> dict:
        b, s = self.book, self.spec
        p = fmt(b.price, s.price_step)
        item = {"symbol": self.symbol, "lastPrice": p, "indexPrice": p, "markPrice": p, "prevPrice24h": p,
                "price24hPcnt": "0", "highPrice24h": p, "lowPrice24h": p, "prevPrice1h": p,
                "openInterest": "0", "openInterestValue": "0", "turnover24h": "0", "volume24h": "0",
                "fundingRate": "0.0001", "nextFundingTime": str((self.sim.now_ms() // 28_800_000 + 1) * 28_800_000),
                "predictedDeliveryPrice": "", "basisRate": "", "deliveryFeeRate": "", "deliveryTime": "0",
                "bid1Price": fmt(b.bid, s.price_step), "bid1Size": "1000", "ask1Price": fmt(b.ask, s.price_step),
                "ask1Size": "1000", "basis": ""}
        return {"category": CATEGORY, "list": [item] if self._ours(q) else []}

    def orderbook(self, q: dict) -> dict:
        b, s = self.book, self.spec
        now = self.sim.now_ms()
        return {"s": self.symbol, "b": [[fmt(b.bid, s.price_step), "1000"]], "a": [[fmt(b.ask, s.price_step), "1000"]],
                "ts": now, "u": len(b.trades) + 1, "seq": len(b.trades) + 1, "cts": now}

    def _trade(self, t: B.Trade) -> dict:
        return {"execId": str(t.id), "symbol": self.symbol, "price": fmt(t.price, self.spec.price_step),
                "size": fmt(t.qty, self.spec.qty_step), "side": "Buy" if t.taker_side == "buy" else "Sell",
                "time": str(t.ts), "isBlockTrade": False, "isRPITrade": False}

    def recent_trades(self, q: dict) -> dict:
        limit = min(1000, _int(q, "limit", 500))
        rows = [self._trade(t) for t in reversed(self.book.recent_trades(limit))] if self._ours(q) else []
        return {"category": CATEGORY, "list": rows}

    def kline(self, q: dict) -> dict:
        if q.get("interval") != "1":
            raise _ParamError("the simulator serves interval=1 only")
        limit = min(1000, _int(q, "limit", 200))
        now = self.sim.now_ms()
        end = min(_int(q, "end", now), now)
        start = _int(q, "start", end - (limit - 1) * 60_000)
        n = min(limit, max(0, (end // 60_000 - start // 60_000) + 1))
        rows = [[str(t0), *(fmt(x, self.spec.price_step) for x in (o, h, lo, c)), fmt(v, self.spec.qty_step),
                 f"{turn:.8f}"] for t0, o, h, lo, c, v, turn, _ in self.book.candles(start, n)]
        return {"category": CATEGORY, "symbol": self.symbol, "list": rows[::-1]}

    # ---- account -----------------------------------------------------------------------------------------
    def query_api(self, request, q: dict) -> dict:
        return {"id": "1", "note": "passivx sim", "apiKey": self.sim.api_key, "readOnly": 0, "secret": "",
                "permissions": {"ContractTrade": ["Order", "Position"], "Wallet": ["AccountTransfer"]},
                "ips": ["*"], "type": 1, "unified": 0, "uta": 1, "userID": 1, "isMaster": True}

    def account_info(self, request, q: dict) -> dict:
        return {"unifiedMarginStatus": 6, "marginMode": "REGULAR_MARGIN", "isMasterTrader": False,
                "spotHedgingStatus": "OFF", "updatedTime": str(self.sim.now_ms()), "dcpStatus": "OFF",
                "timeWindow": 10, "smpGroup": 0}

    def fee_rate(self, request, q: dict) -> dict:
        return {"list": [{"symbol": self.symbol, "takerFeeRate": str(self.spec.taker_fee),
                          "makerFeeRate": str(self.spec.maker_fee)}]}

    def _wallet(self, account_type: str = "UNIFIED") -> dict:
        b = self.book
        n8 = lambda x: f"{x:.8f}"  # noqa: E731
        upnl = sum(b.upnl(k) for k in b.positions)
        coin = {"coin": self.coin, "equity": n8(b.equity()), "usdValue": f"{b.equity() * b.price:.2f}",
                "walletBalance": n8(b.balance), "availableToWithdraw": n8(b.available()), "free": "",
                "availableToBorrow": "", "borrowAmount": "0", "accruedInterest": "0",
                "totalOrderIM": n8(b.order_margin()), "totalPositionIM": n8(b.position_margin()),
                "totalPositionMM": n8(b.position_margin() * self.spec.mm_rate * b.leverage),
                "unrealisedPnl": n8(upnl), "cumRealisedPnl": n8(sum(f.realized_pnl for f in b.fills)),
                "bonus": "0", "collateralSwitch": True, "marginCollateral": True, "locked": "0",
                "spotHedgingQty": "0"}
        usd = lambda x: f"{x * b.price:.4f}"  # noqa: E731
        return {"accountType": account_type, "accountIMRate": "0", "accountMMRate": "0", "accountLTV": "0",
                "totalEquity": usd(b.equity()), "totalWalletBalance": usd(b.balance),
                "totalMarginBalance": usd(b.equity()), "totalAvailableBalance": usd(b.available()),
                "totalPerpUPL": usd(upnl), "totalInitialMargin": usd(b.position_margin() + b.order_margin()),
                "totalMaintenanceMargin": "0", "coin": [coin]}

    def wallet_balance(self, request, q: dict) -> dict:
        account = q.get("accountType", "")
        if account not in ("UNIFIED", "CONTRACT"):
            raise _ParamError("accountType must be UNIFIED or CONTRACT")
        if q.get("coin") and self.coin not in q["coin"].split(","):
            return {"list": []}
        return {"list": [self._wallet(account)]}

    def _position(self, key: str) -> dict:
        b, s = self.book, self.spec
        size, price = b.positions[key]
        now = str(self.sim.now_ms())
        value = b.cost(size, price) if size else 0.0
        return {"positionIdx": 0, "riskId": 1, "riskLimitValue": "150", "symbol": self.symbol,
                "side": "Buy" if size > 0 else "Sell" if size < 0 else "", "size": fmt(abs(size), s.qty_step),
                "avgPrice": fmt(price, s.price_step) if size else "0",
                "entryPrice": fmt(price, s.price_step) if size else "0",
                "positionValue": f"{value:.8f}", "tradeMode": 0 if b.margin_mode == "cross" else 1,
                "positionStatus": "Normal", "autoAddMargin": 0, "adlRankIndicator": 0,
                "leverage": fmt(b.leverage, 0.01), "positionBalance": f"{value / b.leverage:.8f}",
                "markPrice": fmt(b.price, s.price_step), "liqPrice": "", "bustPrice": "",
                "positionIM": f"{value / b.leverage:.8f}", "positionMM": f"{value * s.mm_rate:.8f}",
                "takeProfit": "0", "stopLoss": "0", "trailingStop": "0", "unrealisedPnl": f"{b.upnl(key):.8f}",
                "curRealisedPnl": "0", "cumRealisedPnl": f"{sum(f.realized_pnl for f in b.fills):.8f}",
                "seq": len(b.fills), "isReduceOnly": False, "createdTime": now, "updatedTime": now,
                "tpslMode": "Full", "category": CATEGORY}

    def position_list(self, request, q: dict) -> dict:
        if q.get("category") != CATEGORY:
            return {"category": q.get("category", ""), "list": [], "nextPageCursor": ""}
        ours = q.get("symbol", self.symbol) == self.symbol and q.get("settleCoin", self.coin) == self.coin
        return {"category": CATEGORY, "list": [self._position(k) for k in self.book.positions] if ours else [],
                "nextPageCursor": ""}

    def set_leverage(self, request, q: dict) -> dict:
        self._need_ours(q)
        buy, sell = float(q.get("buyLeverage", 0)), float(q.get("sellLeverage", 0))
        if buy != sell or not 1 <= buy <= self.spec.max_leverage:
            raise _ParamError("buyLeverage must equal sellLeverage and lie within the risk limit")
        if buy == self.book.leverage:
            raise _Code(110043, "leverage not modified")
        self.book.leverage = buy
        return {}

    def switch_isolated(self, request, q: dict) -> dict:
        self._need_ours(q)
        mode = "cross" if int(q.get("tradeMode", -1)) == 0 else "isolated"
        if mode == self.book.margin_mode:
            raise _Code(110026, "Cross/isolated margin mode is not modified")
        self.book.margin_mode = mode
        return {}

    def set_margin_mode(self, request, q: dict) -> dict:
        mode = q.get("setMarginMode")
        if mode not in ("REGULAR_MARGIN", "ISOLATED_MARGIN", "PORTFOLIO_MARGIN"):
            raise _ParamError("setMarginMode")
        self.book.margin_mode = "isolated" if mode == "ISOLATED_MARGIN" else "cross"
        return {"reasons": []}

    def switch_mode(self, request, q: dict) -> dict:
        self._need_ours(q)
        if int(q.get("mode", -1)) != 0:
            raise _Code(10001, "params error: inverse perpetuals support one-way mode only")
        raise _Code(110025, "Position mode is not modified")

    # ---- orders ------------------------------------------------------------------------------------------
    def _need_ours(self, q: dict) -> None:
        if q.get("category") != CATEGORY:
            raise _ParamError(f"category must be {CATEGORY}")
        if q.get("symbol") != self.symbol:
            raise _ParamError(f"symbol invalid: {q.get('symbol')}")

    async def create(self, request, q: dict) -> dict:
        order = self._create_one(q)
        await self._maybe_hang()
        return {"orderId": order.id, "orderLinkId": order.client_id}

    def _create_one(self, q: dict) -> Order:
        self._need_ours(q)
        side, otype, tif = q.get("side"), q.get("orderType"), q.get("timeInForce", "GTC")
        if side not in ("Buy", "Sell") or otype not in ("Limit", "Market"):
            raise _ParamError("side must be Buy|Sell and orderType Limit|Market")
        if int(q.get("positionIdx", 0)) != 0:
            raise Reject(B.POSITION_SIDE)
        link = str(q.get("orderLinkId", ""))
        if len(link) > 36:
            raise _ParamError("orderLinkId is longer than 36 characters")
        order = Order(id=self.book.new_order_id(), client_id=link, side=side.lower(), type=otype.lower(),
                      price=_float(q, "price") if otype == "Limit" else 0.0, qty=_float(q, "qty"),
                      reduce_only=bool(q.get("reduceOnly", False)) or bool(q.get("closeOnTrigger", False)),
                      post_only=otype == "Limit" and tif == "PostOnly")
        faults = self.sim.faults
        if faults.take("insufficient_balance"):
            raise Reject(B.INSUFFICIENT)
        if order.post_only and faults.take("post_only_reject"):
            return self.book.reject(order, "EC_PostOnlyWillTakeLiquidity")
        try:
            return self.book.place(order)
        except Reject as e:
            if e.reason != B.POST_ONLY:
                raise
            return self.book.reject(order, "EC_PostOnlyWillTakeLiquidity")

    async def _maybe_hang(self) -> None:
        faults = self.sim.faults
        if faults.take("timeout_after_apply"):
            await asyncio.sleep(faults.apply_delay_ms / 1000)

    def cancel(self, request, q: dict) -> dict:
        self._need_ours(q)
        order = self.book.find(q.get("orderId"), q.get("orderLinkId"))
        self.book.cancel(order)
        return {"orderId": order.id, "orderLinkId": order.client_id}

    async def create_batch(self, request, q: dict) -> web.Response:
        """POST /v5/order/create-batch: up to 20 orders, each answered in `list` and `retExtInfo.list`."""
        rows, codes = self._batch(q, lambda item: self._create_one(item))
        await self._maybe_hang()
        return rows_response(self, rows, codes, created=True)

    def cancel_batch(self, request, q: dict) -> web.Response:
        """POST /v5/order/cancel-batch: up to 20 cancels by orderId or orderLinkId."""
        def one(item: dict) -> Order:
            self._need_ours(item)
            return self.book.cancel(self.book.find(item.get("orderId"), item.get("orderLinkId")))
        return rows_response(self, *self._batch(q, one), created=False)

    def _batch(self, q: dict, one) -> tuple[list, list]:
        items = q.get("request")
        if q.get("category") != CATEGORY or not isinstance(items, list) or not 1 <= len(items) <= 20:
            raise _ParamError(f"category must be {CATEGORY} and request a list of 1 to 20 orders")
        rows, codes = [], []
        for item in items:
            try:
                rows.append(one(dict(item, category=CATEGORY)))
                codes.append({"code": 0, "msg": "OK"})
            except (Reject, _Code, _ParamError) as e:
                rows.append(item)
                code, msg = _code_of(e)
                codes.append({"code": code, "msg": msg})
        return rows, codes

    def cancel_all(self, request, q: dict) -> dict:
        self._need_ours(q)
        done = [self.book.cancel(o) for o in self.book.open_orders()]
        return {"list": [{"orderId": o.id, "orderLinkId": o.client_id} for o in done], "success": "1"}

    def order_dict(self, o: Order) -> dict:
        s = self.spec
        status = STATUS[o.status]
        if o.status == "new" and o.filled > 0:
            status = "PartiallyFilled"
        elif o.status == "canceled" and o.filled > 0:
            status = "PartiallyFilledCanceled"
        cancel_type = "UNKNOWN" if o.status != "canceled" or o.reject_reason else \
            "CancelByReduceOnly" if o.filled > 0 else "CancelByUser"
        leaves = o.qty - o.filled if o.is_open else 0.0
        return {"orderId": o.id, "orderLinkId": o.client_id, "blockTradeId": "", "symbol": self.symbol,
                "price": fmt(o.price, s.price_step), "qty": fmt(o.qty, s.qty_step),
                "side": "Buy" if o.side == "buy" else "Sell", "isLeverage": "", "positionIdx": 0,
                "orderStatus": status, "cancelType": cancel_type, "rejectReason": o.reject_reason or "EC_NoError",
                "avgPrice": fmt(o.avg_price, s.price_step) if o.filled else "", "leavesQty": fmt(leaves, s.qty_step),
                "leavesValue": f"{self.book.cost(leaves, o.price or self.book.price):.8f}",
                "cumExecQty": fmt(o.filled, s.qty_step),
                "cumExecValue": f"{self.book.cost(o.filled, o.avg_price) if o.filled else 0.0:.8f}",
                "cumExecFee": f"{o.fee:.8f}",
                "timeInForce": "PostOnly" if o.post_only else "IOC" if o.type == "market" else "GTC",
                "orderType": "Limit" if o.type == "limit" else "Market", "stopOrderType": "", "orderIv": "",
                "triggerPrice": "", "takeProfit": "", "stopLoss": "", "tpTriggerBy": "", "slTriggerBy": "",
                "triggerDirection": 0, "triggerBy": "", "lastPriceOnCreated": "", "reduceOnly": o.reduce_only,
                "closeOnTrigger": False, "smpType": "None", "smpGroup": 0, "smpOrderId": "", "tpslMode": "",
                "tpLimitPrice": "", "slLimitPrice": "", "placeType": "", "createdTime": str(o.created_ms),
                "updatedTime": str(o.updated_ms), "category": CATEGORY}

    def _orders(self, q: dict, open_only: bool) -> dict:
        if q.get("category") != CATEGORY:
            raise _ParamError(f"category must be {CATEGORY}")
        limit = min(50, _int(q, "limit", 20))
        offset = _int(q, "cursor", 0)
        orders = list(reversed(self.book.orders.values()))  # newest first
        if q.get("orderId"):
            orders = [o for o in orders if o.id == q["orderId"]]
        elif q.get("orderLinkId"):
            orders = [o for o in orders if o.client_id == q["orderLinkId"]]
        elif open_only:
            orders = [o for o in orders if o.is_open] if q.get("openOnly", "0") == "0" else \
                [o for o in orders if not o.is_open][:500]
        else:
            orders = [o for o in orders if not o.is_open]
        if q.get("symbol", self.symbol) != self.symbol or q.get("settleCoin", self.coin) != self.coin:
            orders = []
        page = orders[offset: offset + limit]
        more = offset + limit < len(orders)
        return {"category": CATEGORY, "list": [self.order_dict(o) for o in page],
                "nextPageCursor": str(offset + limit) if more else ""}

    def order_realtime(self, request, q: dict) -> dict:
        return self._orders(q, open_only=True)

    def order_history(self, request, q: dict) -> dict:
        return self._orders(q, open_only=False)

    def exec_dict(self, f: Fill) -> dict:
        s, o = self.spec, f.order
        return {"category": CATEGORY, "symbol": self.symbol, "execFee": f"{f.fee:.8f}",
                "execId": str(uuid.UUID(int=f.id)),
                "execPrice": fmt(f.price, s.price_step), "execQty": fmt(f.qty, s.qty_step), "execType": "Trade",
                "execValue": f"{self.book.cost(f.qty, f.price):.8f}", "isMaker": f.maker, "feeRate": str(f.fee_rate),
                "tradeIv": "", "markIv": "", "blockTradeId": "", "markPrice": fmt(f.price, s.price_step),
                "indexPrice": "", "underlyingPrice": "",
                "leavesQty": fmt(o.qty - o.filled if o.is_open else 0, s.qty_step),
                "orderId": o.id, "orderLinkId": o.client_id, "orderPrice": fmt(o.price, s.price_step),
                "orderQty": fmt(o.qty, s.qty_step), "orderType": "Limit" if o.type == "limit" else "Market",
                "stopOrderType": "UNKNOWN", "side": "Buy" if o.side == "buy" else "Sell", "execTime": str(f.ts),
                "isLeverage": "0", "closedSize": fmt(f.closed, s.qty_step), "seq": f.id}

    def execution_list(self, request, q: dict) -> dict:
        limit = min(100, _int(q, "limit", 50))
        fills = [f for f in reversed(self.book.fills) if not q.get("orderId") or f.order.id == q["orderId"]]
        return {"category": CATEGORY, "list": [self.exec_dict(f) for f in fills[:limit]], "nextPageCursor": ""}

    # ---- websockets --------------------------------------------------------------------------------------
    async def ws_public(self, request: web.Request):
        return await self.sim.serve_ws(request, private=False)

    async def ws_private(self, request: web.Request):
        return await self.sim.serve_ws(request, private=True)

    def on_ws_message(self, conn, text: str) -> None:
        try:
            msg = json.loads(text)
            op = msg.get("op")
        except (ValueError, AttributeError):
            conn.send(json.dumps({"success": False, "ret_msg": "error:invalid op", "conn_id": conn.id, "op": ""}))
            return
        reply = {"success": True, "ret_msg": "", "conn_id": conn.id, "op": op}
        if "req_id" in msg:
            reply["req_id"] = msg["req_id"]
        if op == "ping":
            if self.sim.faults.muted():
                return
            if conn.private:
                conn.send(json.dumps({"req_id": msg.get("req_id", ""), "op": "pong", "args": [str(self.sim.now_ms())],
                                      "conn_id": conn.id}))
            else:
                conn.send(json.dumps(dict(reply, ret_msg="pong")))
            return
        if op == "auth" and conn.private:
            reply.update(self._ws_auth(msg.get("args") or []))
            conn.authed = reply["success"]
        elif op in ("subscribe", "unsubscribe"):
            topics = [str(t) for t in msg.get("args") or []]
            allowed = PRIVATE_TOPICS if conn.private else (f"publicTrade.{self.symbol}", f"orderbook.1.{self.symbol}")
            if conn.private and not conn.authed:
                reply.update(success=False, ret_msg="Request not authorized")
            elif bad := [t for t in topics if t not in allowed]:
                reply.update(success=False, ret_msg=f"error:handler not found,topic:{bad[0]}")
            elif op == "subscribe":
                conn.topics.update(topics)
            else:
                conn.topics.difference_update(topics)
        else:
            reply.update(success=False, ret_msg=f"error:invalid op {op}")
        conn.send(json.dumps(reply))

    def _ws_auth(self, args: list) -> dict:
        if len(args) != 3:
            return {"success": False, "ret_msg": "Params Error"}
        key, expires, sign = (str(a) for a in args)
        if key != self.sim.api_key:
            return {"success": False, "ret_msg": "API key is invalid."}
        if not expires.isdigit() or int(expires) <= self.sim.now_ms():
            return {"success": False, "ret_msg": "Params Error: request expired"}
        if not same(sign, hmac_hex(self.sim.api_secret, "GET/realtime" + expires)):
            return {"success": False, "ret_msg": "Invalid sign"}
        return {}

    # ---- pushes ------------------------------------------------------------------------------------------
    def _push(self, topic: str, data: list, private: bool = True, **extra) -> None:
        msg = {"id": uuid.uuid4().hex, "topic": topic, "creationTime": self.sim.now_ms(), "data": data}
        msg.update(extra)
        self.sim.broadcast(json.dumps(msg), topic, private)

    def _trade_push(self, t: B.Trade) -> str:
        s = self.spec
        row = {"T": t.ts, "s": self.symbol, "S": "Buy" if t.taker_side == "buy" else "Sell",
               "v": fmt(t.qty, s.qty_step), "p": fmt(t.price, s.price_step),
               "L": "PlusTick" if t.taker_side == "buy" else "MinusTick", "i": str(uuid.UUID(int=t.id)), "BT": False}
        return json.dumps({"topic": f"publicTrade.{self.symbol}", "type": "snapshot", "ts": self.sim.now_ms(),
                           "data": [row]})

    def _book_push(self, t: B.Trade) -> str:
        s = self.spec
        return json.dumps({"topic": f"orderbook.1.{self.symbol}", "type": "snapshot", "ts": self.sim.now_ms(),
                           "data": {"s": self.symbol, "b": [[fmt(self.book.bid, s.price_step), "1000"]],
                                    "a": [[fmt(self.book.ask, s.price_step), "1000"]], "u": t.id, "seq": t.id},
                           "cts": t.ts})

    def on_event(self, kind: str, payload) -> None:
        if kind == "trade":
            t: B.Trade = payload
            self.sim.broadcast(lambda: self._trade_push(t), f"publicTrade.{self.symbol}")
            self.sim.broadcast(lambda: self._book_push(t), f"orderbook.1.{self.symbol}")
        elif kind == "order":
            self._push("order", [self.order_dict(payload)])
        elif kind == "fill":
            self._push("execution", [self.exec_dict(payload)])
        elif kind == "position":
            self._push("position", [self._position(payload)])
        elif kind == "wallet":
            self._push("wallet", [self._wallet()])


class _ParamError(Exception):
    """A malformed request parameter (retCode 10001)."""


class _Code(Exception):
    """An answer with a specific retCode (e.g. 110043 leverage not modified)."""

    def __init__(self, code: int, msg: str):
        super().__init__(msg)
        self.code, self.msg = code, msg


def _int(q: dict, key: str, default: int) -> int:
    try:
        return int(q.get(key, default))
    except (TypeError, ValueError):
        raise _ParamError(f"{key} must be an integer") from None


def _float(q: dict, key: str) -> float:
    try:
        return float(q[key])
    except (KeyError, TypeError, ValueError):
        raise _ParamError(f"{key} is missing or not a number") from None


def _code_of(e: Exception) -> tuple[int, str]:
    """(retCode, retMsg) of a refusal."""
    if isinstance(e, Reject):
        return ERRORS.get(e.reason, (10001, str(e)))
    if isinstance(e, _Code):
        return e.code, e.msg
    return 10001, f"params error: {e}"


def rows_response(dialect: Bybit, rows: list, codes: list, created: bool) -> web.Response:
    """A batch answer: one `result.list` row per request item and its code in `retExtInfo.list`."""
    out = []
    for row, code in zip(rows, codes):
        ok = isinstance(row, Order)
        item = {"category": CATEGORY, "symbol": dialect.symbol, "orderId": row.id if ok else "",
                "orderLinkId": row.client_id if ok else str(row.get("orderLinkId", ""))}
        if created:
            item["createAt"] = str(row.created_ms) if ok else ""
        out.append(item)
    return web.json_response(dict(dialect._wrap({"list": out}), retExtInfo={"list": codes}))
