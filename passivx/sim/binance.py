"""Binance USDT-M futures dialect of the simulator (fapi).

REST under /fapi (and the two /sapi calls of ccxt's fetch_currencies), unwrapped JSON, errors as HTTP 4xx
{"code": -NNNN, "msg": ...}. Signed requests carry timestamp (+ recvWindow) and `signature` = HMAC(secret,
query string + form body without the signature) and the X-MBX-APIKEY header. Websockets: raw streams
/ws/<symbol>@aggTrade (also @trade, @bookTicker), /ws with SUBSCRIBE, /stream?streams=... (combined),
ccxt pro's /public/ws/N and /market/ws/N, and the user-data stream /ws/<listenKey> (or
/private/ws?listenKey=<key>)."""
from __future__ import annotations

import asyncio
import json
import secrets
from typing import Callable
from urllib.parse import parse_qsl

from aiohttp import web

from passivx.sim import book as B
from passivx.sim.book import Fill, Order, Reject, fmt
from passivx.sim.signing import hmac_hex, same

ERRORS = {  # book reject reason -> (HTTP status, code, msg)
    B.INSUFFICIENT: (400, -2019, "Margin is insufficient."),
    B.REDUCE_ONLY: (400, -2022, "ReduceOnly Order is rejected."),
    B.DUPLICATE_ID: (400, -4116, "ClientOrderId is duplicated."),
    B.UNKNOWN_ORDER: (400, -2011, "Unknown order sent."),
    B.QTY_STEP: (400, -1111, "Precision is over the maximum defined for this asset."),
    B.MIN_QTY: (400, -1013, "Filter failure: LOT_SIZE"),
    B.PRICE_STEP: (400, -4014, "Price not increased by tick size."),
    B.MIN_NOTIONAL: (400, -4164, "Order's notional must be no smaller than the minimum "
                                 "(unless you choose reduce only)."),
    B.POSITION_SIDE: (400, -4061, "Order's position side does not match user's setting."),
    B.POST_ONLY: (400, -5022, "Due to the order could not be executed as maker, the Post Only order will be "
                              "rejected. The order will not be recorded in the order history"),
}
STATUS = {"new": "NEW", "filled": "FILLED", "canceled": "CANCELED", "rejected": "REJECTED"}
LISTEN_KEY_MS = 60 * 60 * 1000
WEIGHT_PER_MIN, ORDERS_PER_10S, ORDERS_PER_MIN = 2400, 300, 1200


class Binance:
    """Binance USDT-M REST and websocket handlers over the simulator's book; pushes from its events."""

    def __init__(self, sim) -> None:
        self.sim = sim
        self.book = sim.book
        self.spec = sim.book.spec
        self.symbol = sim.symbol
        self.asset = "USDT"
        self.base = self.symbol[: -len(self.asset)] if self.symbol.endswith(self.asset) else self.symbol
        self.listen_keys: dict[str, int] = {}  # key -> expiry ms
        self._just_filled = ""
        if sim.ws_heartbeat is None:
            sim.ws_heartbeat = 180.0  # Binance pings every 3 minutes

    # ---- server hooks ----------------------------------------------------------------------------------
    def env(self, http: str, ws: str) -> dict[str, str]:
        return {"PASSIVX_BINANCE_REST_URL": http, "PASSIVX_BINANCE_WS_PUBLIC_URL": f"{ws}/ws",
                "PASSIVX_BINANCE_WS_PRIVATE_URL": f"{ws}/ws"}

    def is_signed(self, request: web.Request) -> bool:
        return "X-MBX-APIKEY" in request.headers or "signature=" in request.query_string

    def routes(self) -> list:
        public = {"/fapi/v1/ping": lambda q: {}, "/fapi/v1/time": lambda q: {"serverTime": self.sim.now_ms()},
                  "/fapi/v1/exchangeInfo": self.exchange_info, "/fapi/v1/ticker/24hr": self.ticker,
                  "/fapi/v1/ticker/price": self.ticker_price, "/fapi/v1/ticker/bookTicker": self.book_ticker,
                  "/fapi/v1/premiumIndex": self.premium_index, "/fapi/v1/depth": self.depth,
                  "/fapi/v1/trades": self.trades, "/fapi/v1/aggTrades": self.agg_trades, "/fapi/v1/klines": self.klines}
        signed = [("GET", "/fapi/v2/account", self.account), ("GET", "/fapi/v3/account", self.account),
                  ("GET", "/fapi/v2/balance", self.balances), ("GET", "/fapi/v3/balance", self.balances),
                  ("GET", "/fapi/v2/positionRisk", self.position_risk),
                  ("GET", "/fapi/v3/positionRisk", self.position_risk),
                  ("GET", "/fapi/v1/leverageBracket", self.leverage_bracket),
                  ("GET", "/fapi/v1/positionSide/dual", self.get_dual),
                  ("POST", "/fapi/v1/positionSide/dual", self.set_dual),
                  ("POST", "/fapi/v1/leverage", self.set_leverage),
                  ("POST", "/fapi/v1/marginType", self.set_margin_type),
                  ("GET", "/fapi/v1/commissionRate", self.commission_rate),
                  ("GET", "/fapi/v1/openOrders", self.open_orders), ("GET", "/fapi/v1/allOrders", self.all_orders),
                  ("GET", "/fapi/v1/order", self.get_order), ("POST", "/fapi/v1/order", self.create),
                  ("DELETE", "/fapi/v1/order", self.cancel), ("DELETE", "/fapi/v1/allOpenOrders", self.cancel_all),
                  ("POST", "/fapi/v1/batchOrders", self.create_batch),
                  ("DELETE", "/fapi/v1/batchOrders", self.cancel_batch),
                  ("GET", "/fapi/v1/userTrades", self.user_trades),
                  ("GET", "/sapi/v1/capital/config/getall", lambda q: []),
                  ("GET", "/sapi/v1/margin/allPairs", lambda q: [])]
        routes = [web.get(path, self._public(fn)) for path, fn in public.items()]
        routes += [web.route(method, path, self._signed(fn)) for method, path, fn in signed]
        routes += [web.route(m, "/fapi/v1/listenKey", self.listen_key) for m in ("POST", "PUT", "DELETE")]
        routes += [web.get("/ws", self.ws), web.get("/ws/{tail:.+}", self.ws), web.get("/stream", self.ws),
                   web.get("/{category:public|market|private}/ws{tail:.*}", self.ws)]
        return routes

    def rate_limit_response(self) -> web.Response:
        return web.json_response({"code": -1003, "msg": "Too many requests; current limit is 2400 requests per "
                                  "minute. Please use the websocket for live updates to avoid polling the API."},
                                 status=429, headers={"Retry-After": "1"})

    def limit_headers(self, request: web.Request, limits, now: int) -> dict[str, str] | None:
        """Binance's limits of exchangeInfo.rateLimits: request weight 2400/min (weight 1 per request here),
        orders 300 per 10 s and 1200/min; None when exceeded."""
        ok, weight = limits.hit("weight", WEIGHT_PER_MIN, 60_000, now)
        if not ok:
            return None
        headers = {"X-MBX-USED-WEIGHT-1M": str(weight)}
        if request.method == "POST" and request.path == "/fapi/v1/order":
            for window, limit, name in ((10_000, ORDERS_PER_10S, "10S"), (60_000, ORDERS_PER_MIN, "1M")):
                ok, used = limits.hit("orders", limit, window, now)
                if not ok:
                    return None
                headers[f"X-MBX-ORDER-COUNT-{name}"] = str(used)
        return headers

    # ---- envelope and auth -------------------------------------------------------------------------------
    @staticmethod
    def _error(status: int, code: int, msg: str) -> web.Response:
        return web.json_response({"code": code, "msg": msg}, status=status)

    def _public(self, fn):
        async def handler(request: web.Request) -> web.Response:
            try:
                return web.json_response(fn(dict(request.query)))
            except _Code as e:
                return self._error(e.status, e.code, e.msg)
        return handler

    def _signed(self, fn):
        async def handler(request: web.Request) -> web.Response:
            body = await request.text()
            query = request.raw_path.partition("?")[2]
            try:
                self._check_key(request)
                params = self._check_signature(query, body)
                result = fn(params)
                if hasattr(result, "__await__"):
                    result = await result
            except Reject as e:
                return self._error(*ERRORS.get(e.reason, (400, -1102, str(e))))
            except _Code as e:
                return self._error(e.status, e.code, e.msg)
            return web.json_response(result)
        return handler

    def _check_key(self, request: web.Request) -> None:
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise _Code(-2014, "API-key format invalid.", 401)
        if key != self.sim.api_key:
            raise _Code(-2015, "Invalid API-key, IP, or permissions for action, request ip: 127.0.0.1", 401)

    def _check_signature(self, query: str, body: str) -> dict:
        head, sep, sig = (query + body).rpartition("signature=")  # Binance signs query + body, as sent
        if not sep or not sig or (head and not head.endswith("&")):
            raise _Code(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        params = dict(parse_qsl(query)) | dict(parse_qsl(body))
        params.pop("signature", None)
        ts, recv = params.get("timestamp", ""), params.get("recvWindow", "5000")
        if not ts.isdigit():
            raise _Code(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        if not recv.isdigit() or int(recv) > 60000:
            raise _Code(-1131, "recvWindow must be less than 60000")
        now = self.sim.now_ms()
        if int(ts) >= now + 1000:
            raise _Code(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - int(ts) > int(recv):
            raise _Code(-1021, "Timestamp for this request is outside of the recvWindow.")
        if not same(sig, hmac_hex(self.sim.api_secret, head.removesuffix("&"))):
            raise _Code(-1022, "Signature for this request is not valid.")
        return params

    def _need_symbol(self, q: dict, required: bool = True) -> None:
        if (required or "symbol" in q) and q.get("symbol") != self.symbol:
            raise _Code(-1121, "Invalid symbol.")

    # ---- market data -------------------------------------------------------------------------------------
    def exchange_info(self, q: dict) -> dict:
        s = self.spec
        price_dec = len(fmt(0, s.price_step).partition(".")[2])
        qty_dec = len(fmt(0, s.qty_step).partition(".")[2])
        sym = {"symbol": self.symbol, "pair": self.symbol, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
               "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
               "requiredMarginPercent": "5.0000", "baseAsset": self.base, "quoteAsset": self.asset,
               "marginAsset": self.asset, "pricePrecision": price_dec, "quantityPrecision": qty_dec,
               "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": [],
               "triggerProtect": "0.0500", "liquidationFee": "0.012500", "marketTakeBound": "0.05",
               "maxMoveOrderLimit": 10000,
               "filters": [{"filterType": "PRICE_FILTER", "tickSize": fmt(s.price_step, s.price_step),
                            "minPrice": fmt(s.price_step, s.price_step), "maxPrice": "4529764"},
                           {"filterType": "LOT_SIZE", "stepSize": fmt(s.qty_step, s.qty_step),
                            "minQty": fmt(s.min_qty, s.qty_step), "maxQty": "1000"},
                           {"filterType": "MARKET_LOT_SIZE", "stepSize": fmt(s.qty_step, s.qty_step),
                            "minQty": fmt(s.min_qty, s.qty_step), "maxQty": "120"},
                           {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                           {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                           {"filterType": "MIN_NOTIONAL", "notional": fmt(s.min_cost, 0.01)},
                           {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
                            "multiplierDecimal": "4"}],
               "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                              "TRAILING_STOP_MARKET"],
               "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"], "permissionSet": ["GRID", "COPY"]}
        return {"timezone": "UTC", "serverTime": self.sim.now_ms(), "futuresType": "U_MARGINED",
                "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                                "limit": WEIGHT_PER_MIN},
                               {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1,
                                "limit": ORDERS_PER_MIN},
                               {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                                "limit": ORDERS_PER_10S}],
                "exchangeFilters": [], "assets": [{"asset": self.asset, "marginAvailable": True,
                                                   "autoAssetExchange": "-10000"}], "symbols": [sym]}

    def _p(self, x: float) -> str:
        return fmt(x, self.spec.price_step)

    def _q(self, x: float) -> str:
        return fmt(x, self.spec.qty_step)

    def ticker(self, q: dict):
        self._need_symbol(q, required=False)
        b, now = self.book, self.sim.now_ms()
        last = b.trades[-1] if b.trades else None
        p = self._p(b.price)
        row = {"symbol": self.symbol, "priceChange": "0", "priceChangePercent": "0", "weightedAvgPrice": p,
               "lastPrice": p, "lastQty": self._q(last.qty if last else 0), "openPrice": p,
               "highPrice": self._p(b.price), "lowPrice": self._p(b.price), "volume": "0", "quoteVolume": "0",
               "openTime": now - 86_400_000, "closeTime": now, "firstId": 1, "lastId": last.id if last else 0,
               "count": len(b.trades)}
        return row if "symbol" in q else [row]

    def ticker_price(self, q: dict):
        self._need_symbol(q, required=False)
        row = {"symbol": self.symbol, "price": self._p(self.book.price), "time": self.sim.now_ms()}
        return row if "symbol" in q else [row]

    def book_ticker(self, q: dict):
        self._need_symbol(q, required=False)
        b = self.book
        row = {"symbol": self.symbol, "bidPrice": self._p(b.bid), "bidQty": "10.000", "askPrice": self._p(b.ask),
               "askQty": "10.000", "time": self.sim.now_ms(), "lastUpdateId": len(b.trades) + 1}
        return row if "symbol" in q else [row]

    def premium_index(self, q: dict):
        self._need_symbol(q, required=False)
        now = self.sim.now_ms()
        row = {"symbol": self.symbol, "markPrice": self._p(self.book.price), "indexPrice": self._p(self.book.price),
               "estimatedSettlePrice": self._p(self.book.price), "lastFundingRate": "0.00010000",
               "interestRate": "0.00010000", "nextFundingTime": (now // 28_800_000 + 1) * 28_800_000, "time": now}
        return row if "symbol" in q else [row]

    def depth(self, q: dict) -> dict:
        self._need_symbol(q)
        b, now = self.book, self.sim.now_ms()
        return {"lastUpdateId": len(b.trades) + 1, "E": now, "T": now, "bids": [[self._p(b.bid), "10.000"]],
                "asks": [[self._p(b.ask), "10.000"]]}

    def trades(self, q: dict) -> list:
        self._need_symbol(q)
        limit = min(1000, _int(q, "limit", 500))
        return [{"id": t.id, "price": self._p(t.price), "qty": self._q(t.qty), "quoteQty": f"{t.price * t.qty:.8f}",
                 "time": t.ts, "isBuyerMaker": t.taker_side == "sell"} for t in self.book.recent_trades(limit)]

    def _agg(self, t: B.Trade) -> dict:
        return {"a": t.id, "p": self._p(t.price), "q": self._q(t.qty), "f": t.id, "l": t.id, "T": t.ts,
                "m": t.taker_side == "sell"}

    def agg_trades(self, q: dict) -> list:
        self._need_symbol(q)
        limit = min(1000, _int(q, "limit", 500))
        rows = self.book.trades
        if "fromId" in q:
            rows = [t for t in rows if t.id >= _int(q, "fromId", 0)][:limit]
        elif "startTime" in q or "endTime" in q:
            lo, hi = _int(q, "startTime", 0), _int(q, "endTime", 2**63)
            rows = [t for t in rows if lo <= t.ts <= hi][:limit]
        else:
            rows = rows[-limit:]
        return [self._agg(t) for t in rows]

    def klines(self, q: dict) -> list:
        self._need_symbol(q)
        if q.get("interval") != "1m":
            raise _Code(-1120, "Invalid interval: the simulator serves 1m only.")
        limit = min(1500, _int(q, "limit", 500))
        now = self.sim.now_ms()
        end = min(_int(q, "endTime", now), now)
        start = _int(q, "startTime", end - (limit - 1) * 60_000)
        n = min(limit, max(0, end // 60_000 - start // 60_000 + 1))
        return [[t0, self._p(o), self._p(h), self._p(lo), self._p(c), self._q(v), t0 + 59_999, f"{turn:.8f}", cnt,
                 "0", "0", "0"] for t0, o, h, lo, c, v, turn, cnt in self.book.candles(start, n)]

    # ---- account -----------------------------------------------------------------------------------------
    def _asset(self) -> dict:
        b = self.book
        upnl = sum(b.upnl(k) for k in b.positions)
        n = lambda x: f"{x:.8f}"  # noqa: E731
        return {"asset": self.asset, "walletBalance": n(b.balance), "unrealizedProfit": n(upnl),
                "marginBalance": n(b.equity()), "maintMargin": n(b.position_margin() * b.leverage * self.spec.mm_rate),
                "initialMargin": n(b.position_margin() + b.order_margin()),
                "positionInitialMargin": n(b.position_margin()), "openOrderInitialMargin": n(b.order_margin()),
                "crossWalletBalance": n(b.balance), "crossUnPnl": n(upnl), "availableBalance": n(b.available()),
                "maxWithdrawAmount": n(b.available()), "marginAvailable": True, "updateTime": self.sim.now_ms()}

    def account(self, q: dict) -> dict:
        a = self._asset()
        return {"totalInitialMargin": a["initialMargin"], "totalMaintMargin": a["maintMargin"],
                "totalWalletBalance": a["walletBalance"], "totalUnrealizedProfit": a["unrealizedProfit"],
                "totalMarginBalance": a["marginBalance"], "totalPositionInitialMargin": a["positionInitialMargin"],
                "totalOpenOrderInitialMargin": a["openOrderInitialMargin"],
                "totalCrossWalletBalance": a["crossWalletBalance"], "totalCrossUnPnl": a["crossUnPnl"],
                "availableBalance": a["availableBalance"], "maxWithdrawAmount": a["maxWithdrawAmount"],
                "canTrade": True, "canDeposit": True, "canWithdraw": True, "feeTier": 0, "multiAssetsMargin": False,
                "assets": [a], "positions": [self._position(k) for k, v in self.book.positions.items() if v[0]]}

    def balances(self, q: dict) -> list:
        a = self._asset()
        return [{"accountAlias": "sim", "asset": self.asset, "balance": a["walletBalance"],
                 "crossWalletBalance": a["crossWalletBalance"], "crossUnPnl": a["crossUnPnl"],
                 "availableBalance": a["availableBalance"], "maxWithdrawAmount": a["maxWithdrawAmount"],
                 "marginAvailable": True, "updateTime": a["updateTime"]}]

    def _position(self, key: str) -> dict:
        b = self.book
        size, price = b.positions[key]
        notional = size * b.price
        return {"symbol": self.symbol, "positionSide": key, "positionAmt": self._q(size),
                "entryPrice": f"{price:.8f}" if size else "0.0", "breakEvenPrice": f"{price:.8f}" if size else "0.0",
                "markPrice": self._p(b.price), "unRealizedProfit": f"{b.upnl(key):.8f}", "liquidationPrice": "0",
                "isolatedMargin": "0", "notional": f"{notional:.8f}", "marginAsset": self.asset,
                "isolatedWallet": "0", "initialMargin": f"{abs(notional) / b.leverage:.8f}",
                "maintMargin": f"{abs(notional) * self.spec.mm_rate:.8f}",
                "positionInitialMargin": f"{abs(notional) / b.leverage:.8f}", "openOrderInitialMargin": "0",
                "adl": 0, "bidNotional": "0", "askNotional": "0", "leverage": str(int(b.leverage)),
                "maxNotionalValue": "1000000000", "marginType": b.margin_mode, "isAutoAddMargin": "false",
                "updateTime": self.sim.now_ms()}

    def position_risk(self, q: dict) -> list:
        self._need_symbol(q, required=False)
        return [self._position(k) for k in self.book.positions]

    def leverage_bracket(self, q: dict):
        self._need_symbol(q, required=False)
        row = {"symbol": self.symbol, "notionalCoef": 1.0,
               "brackets": [{"bracket": 1, "initialLeverage": int(self.spec.max_leverage), "notionalCap": 1_000_000_000,
                             "notionalFloor": 0, "maintMarginRatio": self.spec.mm_rate, "cum": 0.0}]}
        return row if "symbol" in q else [row]

    def get_dual(self, q: dict) -> dict:
        return {"dualSidePosition": self.book.hedge}

    def set_dual(self, q: dict) -> dict:
        hedge = q.get("dualSidePosition", "").lower() == "true"
        if hedge == self.book.hedge:
            raise _Code(-4059, "No need to change position side.")
        if self.book.open_orders():
            raise _Code(-4067, "Position side cannot be changed if there exists open orders.")
        if any(v[0] for v in self.book.positions.values()):
            raise _Code(-4068, "Position side cannot be changed if there exists position.")
        self.book.set_hedge(hedge)
        return {"code": 200, "msg": "success"}

    def set_leverage(self, q: dict) -> dict:
        self._need_symbol(q)
        lev = _int(q, "leverage", 0)
        if not 1 <= lev <= self.spec.max_leverage:
            raise _Code(-4028, f"Leverage {lev} is not valid")
        self.book.leverage = float(lev)
        return {"leverage": lev, "maxNotionalValue": "1000000000", "symbol": self.symbol}

    def set_margin_type(self, q: dict) -> dict:
        self._need_symbol(q)
        mode = {"CROSSED": "cross", "ISOLATED": "isolated"}.get(q.get("marginType", "").upper())
        if mode is None:
            raise _Code(-1116, "Invalid marginType.")
        if mode == self.book.margin_mode:
            raise _Code(-4046, "No need to change margin type.")
        self.book.margin_mode = mode
        return {"code": 200, "msg": "success"}

    def commission_rate(self, q: dict) -> dict:
        self._need_symbol(q)
        return {"symbol": self.symbol, "makerCommissionRate": str(self.spec.maker_fee),
                "takerCommissionRate": str(self.spec.taker_fee)}

    # ---- orders ------------------------------------------------------------------------------------------
    def order_dict(self, o: Order) -> dict:
        status = "PARTIALLY_FILLED" if o.status == "new" and o.filled > 0 else STATUS[o.status]
        tif = "GTX" if o.post_only else "GTC" if o.type == "limit" else "GTC"
        return {"orderId": int(o.id), "symbol": self.symbol, "status": status, "clientOrderId": o.client_id,
                "price": self._p(o.price) if o.type == "limit" else "0",
                "avgPrice": self._p(o.avg_price) if o.filled else "0",
                "origQty": self._q(o.qty), "executedQty": self._q(o.filled), "cumQty": self._q(o.filled),
                "cumQuote": f"{o.filled * o.avg_price:.8f}", "timeInForce": tif, "type": o.type.upper(),
                "reduceOnly": o.reduce_only, "closePosition": False, "side": o.side.upper(),
                "positionSide": o.position_side, "stopPrice": "0", "workingType": "CONTRACT_PRICE",
                "priceProtect": False, "origType": o.type.upper(), "priceMatch": "NONE",
                "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0, "time": o.created_ms,
                "updateTime": o.updated_ms}

    async def create(self, q: dict) -> dict:
        order = self._create_one(q)
        await self._maybe_hang()
        return self.order_dict(order)

    def _create_one(self, q: dict) -> Order:
        self._need_symbol(q)
        side, otype, tif = q.get("side", ""), q.get("type", ""), q.get("timeInForce")
        if side not in ("BUY", "SELL"):
            raise _Code(-1117, "Invalid side.")
        if otype not in ("LIMIT", "MARKET"):
            raise _Code(-1116, "Invalid orderType.")
        if otype == "LIMIT" and tif not in ("GTC", "IOC", "FOK", "GTX"):
            raise _Code(-1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
        pos_side = q.get("positionSide", "BOTH")
        if self.book.hedge and "reduceOnly" in q:
            raise _Code(-1106, "Parameter 'reduceOnly' sent when not required.")
        cid = q.get("newClientOrderId") or "web_" + secrets.token_hex(8)
        if len(cid) > 36 or not all(c.isalnum() or c in ".:/_-" for c in cid):
            raise _Code(-4015, "Client order id is not valid.")
        try:
            qty, price = float(q.get("quantity", "")), float(q.get("price", "0") or 0)
        except ValueError:
            raise _Code(-1100, "Illegal characters found in a parameter.") from None
        order = Order(id=self.book.new_order_id(), client_id=cid, side=side.lower(), type=otype.lower(),
                      price=price if otype == "LIMIT" else 0.0, qty=qty,
                      reduce_only=q.get("reduceOnly", "false").lower() == "true",
                      post_only=otype == "LIMIT" and tif == "GTX", position_side=pos_side)
        faults = self.sim.faults
        if faults.take("insufficient_balance"):
            raise Reject(B.INSUFFICIENT)
        if order.post_only and faults.take("post_only_reject"):
            raise Reject(B.POST_ONLY)
        return self.book.place(order)

    async def _maybe_hang(self) -> None:
        faults = self.sim.faults
        if faults.take("timeout_after_apply"):
            await asyncio.sleep(faults.apply_delay_ms / 1000)

    async def create_batch(self, q: dict) -> list:
        """POST /fapi/v1/batchOrders: `batchOrders` is a JSON list of up to 5 orders; each answered in place."""
        items = _json_list(q, "batchOrders", 5)
        out = [self._one(lambda: self.order_dict(self._create_one({k: str(v) for k, v in item.items()})))
               for item in items]
        await self._maybe_hang()
        return out

    def cancel_batch(self, q: dict) -> list:
        """DELETE /fapi/v1/batchOrders: `orderIdList` or `origClientOrderIdList` (JSON, up to 10; any case)."""
        self._need_symbol(q)
        q = {k.lower(): v for k, v in q.items()}  # Binance accepts these names in any case (ccxt: lower)
        key = "orderId" if "orderidlist" in q else "origClientOrderId"
        ids = _json_list(q, key.lower() + "list", 10)
        return [self._one(lambda: self.cancel({"symbol": self.symbol, key: str(i)})) for i in ids]

    @staticmethod
    def _one(fn) -> dict:
        """fn() or the error it raised, as a batch answer item."""
        try:
            return fn()
        except Reject as e:
            _, code, msg = ERRORS.get(e.reason, (400, -1102, str(e)))
            return {"code": code, "msg": msg}
        except _Code as e:
            return {"code": e.code, "msg": e.msg}

    def _find(self, q: dict) -> Order:
        self._need_symbol(q)
        if not q.get("orderId") and not q.get("origClientOrderId"):
            raise _Code(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        return self.book.find(q.get("orderId"), q.get("origClientOrderId"))

    def cancel(self, q: dict) -> dict:
        return self.order_dict(self.book.cancel(self._find(q)))

    def cancel_all(self, q: dict) -> dict:
        self._need_symbol(q)
        for o in self.book.open_orders():
            self.book.cancel(o)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def get_order(self, q: dict) -> dict:
        try:
            return self.order_dict(self._find(q))
        except Reject:
            raise _Code(-2013, "Order does not exist.") from None

    def open_orders(self, q: dict) -> list:
        self._need_symbol(q, required=False)
        return [self.order_dict(o) for o in self.book.open_orders()]

    def all_orders(self, q: dict) -> list:
        self._need_symbol(q)
        limit = min(1000, _int(q, "limit", 500))
        return [self.order_dict(o) for o in list(self.book.orders.values())[-limit:]]

    def _user_trade(self, f: Fill) -> dict:
        o = f.order
        return {"buyer": o.side == "buy", "commission": f"{f.fee:.8f}", "commissionAsset": self.asset, "id": f.id,
                "maker": f.maker, "orderId": int(o.id), "price": self._p(f.price), "qty": self._q(f.qty),
                "quoteQty": f"{f.price * f.qty:.8f}", "realizedPnl": f"{f.realized_pnl:.8f}", "side": o.side.upper(),
                "positionSide": o.position_side, "symbol": self.symbol, "time": f.ts}

    def user_trades(self, q: dict) -> list:
        self._need_symbol(q)
        limit = min(1000, _int(q, "limit", 500))
        return [self._user_trade(f) for f in self.book.fills[-limit:]]

    # ---- user data stream --------------------------------------------------------------------------------
    async def listen_key(self, request: web.Request) -> web.Response:
        try:
            self._check_key(request)
        except _Code as e:
            return self._error(e.status, e.code, e.msg)
        now = self.sim.now_ms()
        live = [k for k, exp in self.listen_keys.items() if exp > now]
        if request.method == "POST":
            key = live[0] if live else secrets.token_urlsafe(48)[:64]
            self.listen_keys[key] = now + LISTEN_KEY_MS
            return web.json_response({"listenKey": key})
        if not live:
            return self._error(400, -1125, "This listenKey does not exist.")
        if request.method == "PUT":
            self.listen_keys[live[0]] = now + LISTEN_KEY_MS
            return web.json_response({"listenKey": live[0]})
        del self.listen_keys[live[0]]
        for c in [c for c in self.sim.conns if c.private]:
            asyncio.ensure_future(c.ws.close(code=1000))
        return web.json_response({})

    def fault_expire_listen_keys(self) -> None:
        now = self.sim.now_ms()
        for key in list(self.listen_keys):
            self.listen_keys[key] = now
            self.sim.broadcast(json.dumps({"e": "listenKeyExpired", "E": now, "listenKey": key}), private=True)
        asyncio.get_running_loop().call_later(0.1, self._close_private)  # after the queued expiry events

    def _close_private(self) -> None:
        for c in [c for c in self.sim.conns if c.private]:
            asyncio.ensure_future(c.ws.close(code=1000))

    # ---- websockets --------------------------------------------------------------------------------------
    async def ws(self, request: web.Request):
        tail = request.match_info.get("tail", "").strip("/")
        category = request.match_info.get("category", "")
        key = request.query.get("listenKey") if category == "private" else (tail if "@" not in tail else "")
        if category == "private" or (key and not tail.isdigit()):
            if not key or self.listen_keys.get(key, 0) <= self.sim.now_ms():
                return self._error(400, -1125, "This listenKey does not exist.")
            return await self.sim.serve_ws(request, private=True, authed=True)  # the key is the auth
        streams = [s for s in (request.query.get("streams", "") if request.path == "/stream" else tail).split("/")
                   if s and not s.isdigit()]
        if bad := [s for s in streams if s not in self._streams()]:
            return self._error(400, -1121, f"Invalid stream: {bad[0]}")
        return await self.sim.serve_ws(request, private=False, topics=streams, combined=request.path == "/stream")

    def _streams(self) -> tuple[str, ...]:
        s = self.symbol.lower()
        return f"{s}@aggTrade", f"{s}@trade", f"{s}@bookTicker"

    def on_ws_message(self, conn, text: str) -> None:
        try:
            msg = json.loads(text)
            method, params, rid = msg.get("method"), msg.get("params") or [], msg.get("id")
        except (ValueError, AttributeError):
            conn.send(json.dumps({"error": {"code": 3, "msg": "Invalid JSON: expected an object"}}))
            return
        if conn.private:
            return  # the user-data stream ignores client messages
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if bad := [p for p in params if p not in self._streams()]:
                error = {"code": 2, "msg": f"Invalid request: unknown stream {bad[0]}"}
                conn.send(json.dumps({"error": error, "id": rid}))
                return
            (conn.topics.update if method == "SUBSCRIBE" else conn.topics.difference_update)(params)
            conn.send(json.dumps({"result": None, "id": rid}))
        elif method == "LIST_SUBSCRIPTIONS":
            conn.send(json.dumps({"result": sorted(conn.topics), "id": rid}))
        else:
            conn.send(json.dumps({"error": {"code": 2, "msg": f"Invalid request: unknown method {method}"}, "id": rid}))

    # ---- pushes ------------------------------------------------------------------------------------------
    def _public_push(self, stream: str, event: Callable[[], dict]) -> None:
        conns = self.sim.listeners(stream)
        if not conns:
            return
        data = event()
        plain, wrapped = json.dumps(data), None
        for c in conns:
            if c.combined:
                wrapped = wrapped or json.dumps({"stream": stream, "data": data})
                c.send(wrapped)
            else:
                c.send(plain)

    def on_event(self, kind: str, payload) -> None:
        now = self.sim.now_ms()
        s = self.symbol.lower()
        if kind == "trade":
            t: B.Trade = payload
            b = self.book
            self._public_push(f"{s}@aggTrade", lambda: dict(self._agg(t), e="aggTrade", E=now, s=self.symbol))
            self._public_push(f"{s}@trade", lambda: {"e": "trade", "E": now, "T": t.ts, "s": self.symbol, "t": t.id,
                                                     "p": self._p(t.price), "q": self._q(t.qty), "X": "MARKET",
                                                     "m": t.taker_side == "sell"})
            self._public_push(f"{s}@bookTicker", lambda: {"e": "bookTicker", "u": t.id, "s": self.symbol,
                                                          "b": self._p(b.bid), "B": "10.000", "a": self._p(b.ask),
                                                          "A": "10.000", "T": t.ts, "E": now})
        elif kind == "fill":
            f: Fill = payload
            self._just_filled = f.order.id
            self._order_push(f.order, "TRADE", f)
        elif kind == "order":
            o: Order = payload
            if o.id == self._just_filled and o.status != "canceled":
                self._just_filled = ""
                return
            self._just_filled = ""
            self._order_push(o, "NEW" if o.is_open else "CANCELED" if o.status == "canceled" else "EXPIRED")
        elif kind == "position":
            b = self.book
            size, price = b.positions[payload]
            a = self._asset()
            msg = {"e": "ACCOUNT_UPDATE", "E": now, "T": now,
                   "a": {"m": "ORDER", "B": [{"a": self.asset, "wb": a["walletBalance"], "cw": a["crossWalletBalance"],
                                              "bc": "0"}],
                         "P": [{"s": self.symbol, "pa": self._q(size), "ep": f"{price:.8f}", "bep": f"{price:.8f}",
                                "cr": f"{sum(f.realized_pnl for f in b.fills):.8f}", "up": f"{b.upnl(payload):.8f}",
                                "mt": b.margin_mode, "iw": "0", "ps": payload}]}}
            self.sim.broadcast(json.dumps(msg), private=True)

    def _order_push(self, o: Order, execution: str, f: Fill | None = None) -> None:
        now = self.sim.now_ms()
        d = self.order_dict(o)
        status = d["status"]
        if f is not None:
            status = "FILLED" if o.filled >= o.qty - 1e-12 else "PARTIALLY_FILLED"
        msg = {"e": "ORDER_TRADE_UPDATE", "E": now, "T": now,
               "o": {"s": self.symbol, "c": o.client_id, "S": d["side"], "o": d["type"], "f": d["timeInForce"],
                     "q": d["origQty"], "p": d["price"], "ap": d["avgPrice"], "sp": "0", "x": execution, "X": status,
                     "i": int(o.id), "l": self._q(f.qty) if f else "0", "z": d["executedQty"],
                     "L": self._p(f.price) if f else "0", "N": self.asset, "n": f"{f.fee:.8f}" if f else "0",
                     "T": f.ts if f else o.updated_ms, "t": f.id if f else 0, "b": "0", "a": "0",
                     "m": f.maker if f else False, "R": o.reduce_only, "wt": "CONTRACT_PRICE", "ot": d["type"],
                     "ps": o.position_side, "cp": False, "rp": f"{f.realized_pnl:.8f}" if f else "0",
                     "pP": False, "si": 0, "ss": 0, "V": "EXPIRE_MAKER", "pm": "NONE", "gtd": 0}}
        self.sim.broadcast(json.dumps(msg), private=True)


class _Code(Exception):
    """An error answer with a specific code."""

    def __init__(self, code: int, msg: str, status: int = 400):
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


def _int(q: dict, key: str, default: int) -> int:
    try:
        return int(q.get(key, default))
    except (TypeError, ValueError):
        raise _Code(-1100, f"Illegal characters found in parameter '{key}'.") from None


def _json_list(q: dict, key: str, most: int) -> list:
    try:
        items = json.loads(q.get(key, ""))
    except ValueError:
        items = None
    if not isinstance(items, list) or not 1 <= len(items) <= most:
        raise _Code(-1102, f"Mandatory parameter '{key}' was not sent, was empty/null, or malformed.")
    return items
