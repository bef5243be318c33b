"""Binance USDT-M perpetuals (BTCUSDT: qty in coin, balance and PnL in USDT).

Documented facts used here (Binance USD-M futures API reference): hedge mode is the account
setting `dualSidePosition` (`POST /fapi/v1/positionSide/dual`), then every order names
`positionSide` LONG or SHORT and `reduceOnly` is not accepted; one-way orders use BOTH. Public
aggregate trades on `<base>/ws/{symbol}@aggTrade`; the user-data stream is `<base>/ws/<listenKey>`
after `POST /fapi/v1/listenKey`, kept alive by a `PUT` at least every 60 min; a post-only (GTX)
order that would take is refused with -5022; order rate limits are 300 per 10 s and 1200 per minute.
"""
from __future__ import annotations

from dataclasses import replace

from passivx.exchanges.base import Adapter, BalanceUpdate, Fill, OrderUpdate, PositionUpdate, call, symbol_of

_STATUS = {"NEW": "open", "PARTIALLY_FILLED": "open", "FILLED": "filled", "CANCELED": "canceled",
           "EXPIRED": "canceled", "EXPIRED_IN_MATCH": "canceled", "REJECTED": "rejected"}
_POS = {"LONG": 1, "SHORT": -1}
# setup answers meaning "already so": -4059 position side, -4046 margin type
_UNCHANGED = ("-4059", "-4046", "No need to change")
PAGE = 1000


class Binance(Adapter):
    name = "binance"
    ccxt_id = "binanceusdm"
    settle = "USDT"
    options = {"fetchCurrencies": False}
    live_options = {"fetchCurrencies": False, "defaultType": "swap", "defaultSubType": "linear"}
    ws_public = "wss://fstream.binance.com/ws"
    ws_private = "wss://fstream.binance.com/ws"
    ws_public_test = "wss://stream.binancefuture.com/ws"
    ws_private_test = "wss://stream.binancefuture.com/ws"
    ping_interval = 60.0
    order_rate = 10.0
    order_burst = 10

    def use_testnet(self, client) -> None:
        client.options["disableFuturesSandboxWarning"] = True
        client.set_sandbox_mode(True)

    def loopback_fixups(self, client) -> None:
        # ccxt picks the futures error table by URL prefix; keep the production mapping on a moved URL
        client.get_exceptions_by_url = lambda url, kind: client.exceptions["linear"].get(kind, {})

    # ---- REST -----------------------------------------------------------------------------------
    async def fetch_balance(self, client) -> float:
        b = await client.fetch_balance()
        for a in (b.get("info") or {}).get("assets") or ():
            if a.get("asset") == self.settle and a.get("walletBalance") is not None:
                return float(a["walletBalance"])
        return float((b.get("total") or {}).get(self.settle) or 0.0)

    def _pos_side(self, o: dict, side: int, reduce_only: bool) -> int:
        ps = (o.get("info") or {}).get("positionSide", "BOTH")
        return _POS.get(ps, -side if reduce_only else side)

    def parse_order(self, o: dict):
        order = super().parse_order(o)
        if (o.get("info") or {}).get("positionSide") in _POS:  # hedge mode: a close is the opposite side
            return replace(order, reduce_only=order.side != order.pos_side)
        return order

    def order_params(self, client_id: str, pos_side: int, reduce_only: bool, post_only: bool, hedge: bool) -> dict:
        params = {"clientOrderId": client_id}
        if post_only:
            params["timeInForce"] = "GTX"
        if hedge:
            params["positionSide"] = "LONG" if pos_side > 0 else "SHORT"
        elif reduce_only:
            params["reduceOnly"] = True
        return params

    async def setup_account(self, client, symbol: str, hedge: bool, leverage: float, log) -> None:
        import ccxt

        steps = ((("hedge" if hedge else "one-way") + " position mode", lambda: client.set_position_mode(hedge)),
                 ("cross margin", lambda: client.set_margin_mode("cross", symbol)),
                 (f"leverage {leverage:g}", lambda: client.set_leverage(int(leverage), symbol)))
        for what, step in steps:
            try:
                await step()
                log(f"{what}: set")
            except ccxt.MarginModeAlreadySet:
                log(f"{what}: already so")
            except ccxt.ExchangeError as e:
                if not any(s in str(e) for s in _UNCHANGED):
                    raise
                log(f"{what}: already so")

    # ---- websockets -----------------------------------------------------------------------------
    def public_url(self, market: str, testnet: bool) -> str:
        return f"{self.ws_url(False, testnet)}/{market.lower()}@aggTrade"

    def public_subscribe(self, market: str) -> list[dict]:
        return []

    def parse_public(self, msg: dict) -> list[tuple]:
        if msg.get("e") != "aggTrade":
            return []
        return [(float(msg["T"]), float(msg["p"]), float(msg["q"]), -1 if msg["m"] else 1)]

    async def private_url(self, client, testnet: bool) -> str:
        key = (await client.fapiPrivatePostListenKey())["listenKey"]
        return f"{self.ws_url(True, testnet)}/{key}"

    def private_subscribe(self, keys: tuple[str, str]) -> list[dict]:
        return []

    async def keep_alive(self, client) -> None:
        await client.fapiPrivatePutListenKey()

    def parse_private(self, msg: dict, market: str) -> list:
        kind, events = msg.get("e"), []
        if kind in ("listenKeyExpired", "eventStreamTerminated"):
            raise ConnectionError(f"binance user-data stream: {kind}")
        if kind == "ORDER_TRADE_UPDATE":
            o = msg["o"]
            if o.get("s") != market:
                return events
            side = 1 if o["S"] == "BUY" else -1
            ro = bool(o.get("R"))
            pos_side = _POS.get(o.get("ps"), -side if ro else side)
            ro = ro or (o.get("ps") in _POS and side != pos_side)
            events.append(OrderUpdate(str(o["i"]), o.get("c") or "", side, pos_side, float(o.get("p") or 0.0),
                                      float(o.get("q") or 0.0), ro, float(o.get("z") or 0.0),
                                      _STATUS.get(o.get("X"), "open"), o.get("x") or ""))
            if o.get("x") == "TRADE":
                events.append(Fill(o.get("c") or "", side, float(o["L"]), float(o["l"]), float(o.get("T") or 0.0)))
        elif kind == "ACCOUNT_UPDATE":
            a = msg.get("a") or {}
            for b in a.get("B") or ():
                if b.get("a") == self.settle:
                    events.append(BalanceUpdate(float(b["wb"])))
            for p in a.get("P") or ():
                if p.get("s") == market:
                    events.append(PositionUpdate(_POS.get(p.get("ps"), 0), float(p["pa"]), float(p["ep"])))
        return events

    # ---- history (sync client, for `passivx download`) ------------------------------------------
    def trades_between(self, client, market: str, start_ms: int, end_ms: int, label: str = "") -> list[dict]:
        """aggTrades: find the first id by time (one-hour windows), then page by id."""
        sym = symbol_of(client, market)
        what = f"{client.id} fetch_trades {market} {label}".rstrip()
        page, since = [], start_ms
        while not page and since < end_ms:
            page = call(client.fetch_trades, what, sym, since, PAGE)
            since += 3_600_000
        rows = []
        while page:
            rows.extend(t for t in page if t["timestamp"] < end_ms)
            if page[-1]["timestamp"] >= end_ms:
                break
            page = call(client.fetch_trades, what, sym, None, PAGE, {"fromId": int(page[-1]["id"]) + 1})
        return [t for t in rows if t["timestamp"] >= start_ms]
