"""Bybit v5: inverse perpetuals (BTCUSD: contracts of 1 USD, balance and PnL in the coin).

Documented facts used here (Bybit v5 API reference): one-way mode only for inverse perpetuals on a
unified account (`positionIdx` 0); public trades on `publicTrade.{SYMBOL}` of
`/v5/public/inverse`; the private stream `/v5/private` authenticates with
`{"op":"auth","args":[key, expires, hex(HMAC_SHA256(secret, "GET/realtime" + expires))]}` and
pushes `order`, `execution`, `position` and `wallet`; clients send `{"op":"ping"}` every 20 s;
order endpoints allow 10 requests/s per symbol; a post-only order that would take is accepted
by REST and then cancelled on the `order` topic (`EC_PostOnlyWillTakeLiquidity`).
"""
from __future__ import annotations

import hashlib
import hmac
import time

from passivx.errors import AuthError, DataError
from passivx.exchanges.base import Adapter, BalanceUpdate, Fill, OrderUpdate, PositionUpdate

_STATUS = {"New": "open", "PartiallyFilled": "open", "Untriggered": "open", "Created": "open",
           "Filled": "filled", "Cancelled": "canceled", "PartiallyFilledCanceled": "canceled",
           "Deactivated": "canceled", "Rejected": "rejected"}
# setup answers meaning "already so": position mode / leverage / margin mode not modified
_UNCHANGED = ("110025", "110043", "110026", "100028", "not modified")


class Bybit(Adapter):
    name = "bybit"
    ccxt_id = "bybit"
    settle = "BTC"
    options = {"fetchMarkets": {"types": ["linear", "inverse"]}}
    live_options = {"fetchMarkets": {"types": ["inverse"]}, "defaultType": "swap", "defaultSubType": "inverse",
                    "enableUnifiedMargin": False, "enableUnifiedAccount": True, "unifiedMarginStatus": 6}
    ws_public = "wss://stream.bybit.com/v5/public/inverse"
    ws_private = "wss://stream.bybit.com/v5/private"
    ws_public_test = "wss://stream-testnet.bybit.com/v5/public/inverse"
    ws_private_test = "wss://stream-testnet.bybit.com/v5/private"
    ping_interval = 20.0
    order_rate = 8.0
    order_burst = 10

    # ---- REST -----------------------------------------------------------------------------------
    async def fetch_balance(self, client) -> float:
        b = await client.fetch_balance()
        return float((b.get("total") or {}).get(self.settle) or 0.0)

    def _pos_side(self, o: dict, side: int, reduce_only: bool) -> int:
        idx = str((o.get("info") or {}).get("positionIdx", "0"))
        if idx in ("1", "2"):
            return 1 if idx == "1" else -1
        return -side if reduce_only else side

    def order_params(self, client_id: str, pos_side: int, reduce_only: bool, post_only: bool, hedge: bool) -> dict:
        params = {"clientOrderId": client_id, "positionIdx": (1 if pos_side > 0 else 2) if hedge else 0}
        if post_only:
            params["postOnly"] = True
        if reduce_only:
            params["reduceOnly"] = True
        return params

    async def setup_account(self, client, symbol: str, hedge: bool, leverage: float, log) -> None:
        import ccxt

        steps = (("one-way position mode", lambda: client.set_position_mode(hedge, symbol)),
                 ("cross margin", lambda: client.set_margin_mode("cross", symbol)),
                 (f"leverage {leverage:g}", lambda: client.set_leverage(leverage, symbol)))
        for what, step in steps:
            try:
                await step()
                log(f"{what}: set")
            except (ccxt.BadRequest, ccxt.MarginModeAlreadySet, ccxt.ExchangeError) as e:
                if isinstance(e, ccxt.MarginModeAlreadySet) or any(s in str(e) for s in _UNCHANGED):
                    log(f"{what}: already so")
                elif isinstance(e, (ccxt.AuthenticationError, ccxt.PermissionDenied)):
                    raise
                else:
                    log(f"{what}: not changed ({type(e).__name__}: {str(e)[:120]})")

    # ---- websockets -----------------------------------------------------------------------------
    def public_url(self, market: str, testnet: bool) -> str:
        return self.ws_url(False, testnet)

    def public_subscribe(self, market: str) -> list[dict]:
        return [{"op": "subscribe", "args": [f"publicTrade.{market}"]}]

    def parse_public(self, msg: dict) -> list[tuple]:
        if not str(msg.get("topic", "")).startswith("publicTrade."):
            return []
        return [(float(t["T"]), float(t["p"]), float(t["v"]), 1 if t["S"] == "Buy" else -1)
                for t in msg.get("data") or ()]

    async def private_url(self, client, testnet: bool) -> str:
        return self.ws_url(True, testnet)

    def private_subscribe(self, keys: tuple[str, str]) -> list[dict]:
        expires = int(time.time() * 1000) + 10_000
        sig = hmac.new(keys[1].encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()
        return [{"op": "auth", "args": [keys[0], expires, sig]},
                {"op": "subscribe", "args": ["order", "execution", "position", "wallet"]}]

    def ping_message(self) -> dict | None:
        return {"op": "ping"}

    def parse_private(self, msg: dict, market: str) -> list:
        if msg.get("op") == "auth" and not msg.get("success", msg.get("retCode") == 0):
            raise AuthError(f"bybit private stream: authentication refused ({msg.get('ret_msg') or msg.get('retMsg')}); "
                            f"check the key file")
        topic, events = msg.get("topic"), []
        for d in msg.get("data") or ():
            if topic == "wallet":
                for c in d.get("coin") or ():
                    if c.get("coin") == self.settle:
                        events.append(BalanceUpdate(float(c["walletBalance"])))
                continue
            if d.get("symbol") != market:
                continue
            if topic == "order":
                side = 1 if d["side"] == "Buy" else -1
                ro = bool(d.get("reduceOnly"))
                idx = str(d.get("positionIdx", "0"))
                pos_side = (1 if idx == "1" else -1) if idx in ("1", "2") else (-side if ro else side)
                events.append(OrderUpdate(str(d["orderId"]), d.get("orderLinkId") or "", side, pos_side,
                                          float(d.get("price") or 0.0), float(d.get("qty") or 0.0), ro,
                                          float(d.get("cumExecQty") or 0.0),
                                          _STATUS.get(d.get("orderStatus"), "open"), d.get("rejectReason") or ""))
            elif topic == "execution" and d.get("execType", "Trade") == "Trade":
                events.append(Fill(d.get("orderLinkId") or "", 1 if d["side"] == "Buy" else -1,
                                   float(d["execPrice"]), float(d["execQty"]), float(d.get("execTime") or 0.0)))
            elif topic == "position":
                size = float(d.get("size") or 0.0) * (-1.0 if d.get("side") == "Sell" else 1.0)
                price = float(d.get("entryPrice") or d.get("avgPrice") or 0.0)
                idx = str(d.get("positionIdx", "0"))
                events.append(PositionUpdate({"1": 1, "2": -1}.get(idx, 0), size, price))
        return events

    # ---- history (sync client, for `passivx download`) ------------------------------------------
    def trades_between(self, client, market: str, start_ms: int, end_ms: int, label: str = "") -> list[dict]:
        raise DataError(f"bybit trades for {_day(start_ms)} are not archived yet and its REST API only serves the "
                        f"latest trades; try again once the daily archive is published (usually the next day)")


def _day(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date().isoformat()
