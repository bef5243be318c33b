"""Exchange-neutral state of the simulated exchange: orders, matching, position and wallet.

Matching is the backtester's rule: a resting limit buy fills when a public trade prints strictly below
its price, a sell strictly above; the whole order fills at the order price with the maker fee. Market
orders (and limits that cross without post-only) fill at once at the last price with the taker fee.
The top of book is derived from the last trade: after a taker buy at p the ask is p and the bid p - tick,
after a taker sell the bid is p and the ask p + tick. A post-only buy at or above the ask (sell at or
below the bid) would take liquidity and is rejected. Accounting uses the calculator's own formulas
(`passivx.calc.contracts`), so sizes, entry prices (harmonic mean for inverse) and PnL (coin for
inverse) are the backtester's. No funding and no liquidation.

Every change is reported to `on_event(kind, payload)`: ("order", Order), ("fill", Fill),
("position", position side), ("wallet", None); the exchange dialects turn these into pushes.
"""
from __future__ import annotations

import bisect
import functools
import itertools
import math
from decimal import Decimal
from dataclasses import dataclass, field
from typing import Callable

from passivx.calc import contracts
from passivx.calc.rounding import round_
from passivx.markets import MarketSpec

# Reasons a request is refused; each dialect maps them to its own error codes.
POST_ONLY = "post_only"
INSUFFICIENT = "insufficient"
REDUCE_ONLY = "reduce_only"
QTY_STEP = "qty_step"
MIN_QTY = "min_qty"
PRICE_STEP = "price_step"
MIN_NOTIONAL = "min_notional"
POSITION_SIDE = "position_side"
DUPLICATE_ID = "duplicate_client_id"
UNKNOWN_ORDER = "unknown_order"


class Reject(Exception):
    """A request the exchange refuses; `reason` is one of the constants above."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class Order:
    id: str
    client_id: str
    side: str  # 'buy' | 'sell'
    type: str  # 'limit' | 'market'
    price: float  # 0.0 for market orders until filled
    qty: float
    reduce_only: bool = False
    post_only: bool = False
    position_side: str = "BOTH"  # 'BOTH' (one-way) | 'LONG' | 'SHORT'
    filled: float = 0.0
    avg_price: float = 0.0
    status: str = "new"  # new | filled | canceled | rejected
    reject_reason: str = ""
    created_ms: int = 0
    updated_ms: int = 0
    fee: float = 0.0

    @property
    def is_open(self) -> bool:
        return self.status == "new"

    def as_dict(self) -> dict:
        return {"id": self.id, "client_id": self.client_id, "side": self.side, "price": self.price,
                "qty": self.qty, "filled": self.filled, "reduce_only": self.reduce_only,
                "post_only": self.post_only, "position_side": self.position_side, "type": self.type,
                "status": self.status}


@dataclass
class Fill:
    id: int
    order: Order
    price: float
    qty: float
    fee: float
    fee_rate: float
    maker: bool
    ts: int
    realized_pnl: float
    trade_id: int
    closed: float = 0.0  # part of qty that reduced the position

    def as_dict(self) -> dict:
        o = self.order
        return {"id": self.id, "order_id": o.id, "client_id": o.client_id, "side": o.side, "price": self.price,
                "qty": self.qty, "fee": self.fee, "maker": self.maker, "ts": self.ts,
                "position_side": o.position_side, "realized_pnl": self.realized_pnl}


@dataclass
class Trade:
    id: int
    ts: int
    price: float
    qty: float
    taker_side: str  # 'buy' | 'sell'


@dataclass
class Book:
    """One market of one account. Not thread-safe: the server mutates it from its event loop only."""

    spec: MarketSpec
    balance: float
    price: float
    now_ms: Callable[[], int]
    new_order_id: Callable[[], str]
    on_event: Callable[[str, object], None] = lambda kind, payload: None
    leverage: float = 10.0
    margin_mode: str = "cross"
    hedge: bool = False
    client_ids_reusable: bool = False  # Binance: a client id must be unique among open orders only
    max_history: int = 200_000
    orders: dict[str, Order] = field(default_factory=dict)
    open: dict[str, Order] = field(default_factory=dict)
    by_client: dict[str, Order] = field(default_factory=dict)
    positions: dict[str, list[float]] = field(default_factory=lambda: {"BOTH": [0.0, 0.0]})
    fills: list[Fill] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    bid: float = 0.0
    ask: float = 0.0

    def __post_init__(self) -> None:
        self._mkt = self.spec.to_array()
        self._trade_ids = itertools.count(1)
        self._fill_ids = itertools.count(1)
        self.bid, self.ask = self.price, self.price + self.spec.price_step
        self.first_price = self.price

    # ---- queries ----------------------------------------------------------------------------------------
    def open_orders(self) -> list[Order]:
        return list(self.open.values())

    def find(self, order_id: str | None = None, client_id: str | None = None) -> Order:
        """The order with this exchange id (preferred) or client id; Reject(UNKNOWN_ORDER) if none."""
        if order_id:
            order = self.orders.get(str(order_id))
        else:
            order = self.by_client.get(client_id) if client_id else None
        if order is None:
            raise Reject(UNKNOWN_ORDER, f"order {order_id or client_id} does not exist")
        return order

    def cost(self, qty: float, price: float) -> float:
        """Margin currency value of `qty` contracts at `price` (quote for linear, coin for inverse)."""
        return contracts.qty_to_cost(qty, price, self._mkt)

    def upnl(self, side: str) -> float:
        size, price = self.positions.get(side, (0.0, 0.0))
        return contracts.pnl(size, price, self.price, size, self._mkt) if size else 0.0

    def equity(self) -> float:
        return self.balance + sum(self.upnl(s) for s in self.positions)

    def position_margin(self) -> float:
        return sum(self.cost(size, self.price) for size, _ in self.positions.values()) / self.leverage

    def order_margin(self) -> float:
        return sum(self.cost(o.qty - o.filled, o.price) for o in self.open_orders()
                   if not self._reduces(o)) / self.leverage

    def available(self) -> float:
        return max(0.0, self.equity() - self.position_margin() - self.order_margin())

    # ---- order entry ------------------------------------------------------------------------------------
    def set_hedge(self, hedge: bool) -> None:
        self.hedge = hedge
        self.positions = {"LONG": [0.0, 0.0], "SHORT": [0.0, 0.0]} if hedge else {"BOTH": [0.0, 0.0]}

    def place(self, order: Order) -> Order:
        """Validate and book a new order (market orders fill at once). Raises Reject."""
        spec = self.spec
        same_id = self.by_client.get(order.client_id) if order.client_id else None
        if same_id is not None and (same_id.is_open or not self.client_ids_reusable):
            raise Reject(DUPLICATE_ID, order.client_id)
        if (order.position_side == "BOTH") == self.hedge:
            mode = "hedge" if self.hedge else "one-way"
            raise Reject(POSITION_SIDE, f"positionSide {order.position_side} in {mode} mode")
        if order.qty <= 0 or not _on_step(order.qty, spec.qty_step):
            raise Reject(QTY_STEP, f"qty {order.qty} is not a multiple of {spec.qty_step}")
        if order.qty < spec.min_qty - 1e-12:
            raise Reject(MIN_QTY, f"qty {order.qty} < {spec.min_qty}")
        if order.type == "limit" and (order.price <= 0 or not _on_step(order.price, spec.price_step)):
            raise Reject(PRICE_STEP, f"price {order.price} is not a multiple of {spec.price_step}")
        reduces = self._reduces(order)
        if reduces:
            size = self.positions[self._pos_key(order)][0]
            if size == 0 or (size > 0) == (order.side == "buy"):
                raise Reject(REDUCE_ONLY, "no position to reduce")
        check_price = order.price if order.type == "limit" else self.price
        if not spec.inverse and not reduces and order.qty * check_price * spec.c_mult < spec.min_cost - 1e-9:
            raise Reject(MIN_NOTIONAL, f"notional {order.qty * check_price:.2f} < {spec.min_cost}")
        if order.post_only and self._crosses(order):
            raise Reject(POST_ONLY, "post-only order would take liquidity")
        if not reduces and self._side_margin(order) > self.equity() + 1e-12:
            raise Reject(INSUFFICIENT, "margin is insufficient")
        now = self.now_ms()
        order.created_ms = order.updated_ms = now
        self._book(order)
        self.open[order.id] = order
        self.on_event("order", order)
        if order.type == "market" or self._crosses(order):
            self._fill(order, self.price, maker=False, ts=now, trade_id=0)
        return order

    def reject(self, order: Order, reason: str) -> Order:
        """Book `order` as created and at once cancelled with `reason` (Bybit's post-only behaviour)."""
        order.created_ms = order.updated_ms = self.now_ms()
        order.status, order.reject_reason = "canceled", reason
        self._book(order)
        self.on_event("order", order)
        return order

    def cancel(self, order: Order) -> Order:
        if not order.is_open:
            raise Reject(UNKNOWN_ORDER, f"order {order.id} is {order.status}")
        order.status, order.updated_ms = "canceled", self.now_ms()
        self.open.pop(order.id, None)
        self.on_event("order", order)
        return order

    # ---- market data -------------------------------------------------------------------------------------
    def trade(self, price: float, qty: float, taker_side: str, ts_ms: int | None = None) -> Trade:
        """Publish one public trade: move the book and fill the resting orders it crosses."""
        if taker_side not in ("buy", "sell"):
            raise ValueError(f"taker_side must be 'buy' or 'sell', got {taker_side!r}")
        ts = int(ts_ms) if ts_ms is not None else self.now_ms()
        t = Trade(next(self._trade_ids), ts, float(price), float(qty), taker_side)
        self.trades.append(t)
        if len(self.trades) > self.max_history * 5 // 4:  # trim in batches: O(1) amortised
            del self.trades[: len(self.trades) - self.max_history]
        self.price = t.price
        step = self.spec.price_step
        self.bid, self.ask = (t.price - step, t.price) if taker_side == "buy" else (t.price, t.price + step)
        self.on_event("trade", t)
        for o in self.open_orders():  # oldest first
            if o.type == "limit" and (t.price < o.price if o.side == "buy" else t.price > o.price):
                self._fill(o, o.price, maker=True, ts=ts, trade_id=t.id)
        return t

    def recent_trades(self, limit: int) -> list[Trade]:
        return self.trades[-limit:] if limit > 0 else []

    def candles(self, first_ms: int, n: int) -> list[tuple]:
        """`n` 1-minute candles from the minute of `first_ms`: (open ms, open, high, low, close, volume,
        turnover, trades). Minutes without trades are flat at the previous close (before the first trade:
        the initial price). Volume in contracts, turnover in the margin currency."""
        start = first_ms // 60_000 * 60_000
        i = bisect.bisect_left(self.trades, start, key=lambda t: t.ts)
        close = self.trades[i - 1].price if i > 0 else self.first_price
        out = []
        for k in range(max(0, n)):
            t0, t1 = start + k * 60_000, start + (k + 1) * 60_000
            o = h = lo = c = close
            vol = turnover = 0.0
            count = 0
            while i < len(self.trades) and self.trades[i].ts < t1:
                t = self.trades[i]
                if count == 0:
                    o = h = lo = t.price
                h, lo, c = max(h, t.price), min(lo, t.price), t.price
                vol += t.qty
                turnover += self.cost(t.qty, t.price)
                count += 1
                i += 1
            close = c
            out.append((t0, o, h, lo, c, vol, turnover, count))
        return out

    # ---- internals ---------------------------------------------------------------------------------------
    def _book(self, order: Order) -> None:
        self.orders[order.id] = order
        if order.client_id:
            self.by_client[order.client_id] = order

    def _pos_key(self, order: Order) -> str:
        return order.position_side if self.hedge else "BOTH"

    def _reduces(self, order: Order) -> bool:
        """True for an order that can only shrink a position (reduce-only, or a hedge-mode close)."""
        if self.hedge:
            return (order.position_side == "LONG") == (order.side == "sell")
        return order.reduce_only

    def _crosses(self, order: Order) -> bool:
        return order.type == "limit" and ((order.side == "buy" and order.price >= self.ask)
                                          or (order.side == "sell" and order.price <= self.bid))

    def _side_margin(self, new: Order) -> float:
        """Initial margin of the position and open entries on `new`'s side, `new` included."""
        key = self._pos_key(new)
        sign = 1.0 if new.side == "buy" else -1.0
        size = self.positions[key][0]
        held = self.cost(size, self.price) if size * sign > 0 else 0.0
        price = new.price if new.type == "limit" else self.price
        pending = sum(self.cost(o.qty - o.filled, o.price) for o in self.open_orders()
                      if o.side == new.side and not self._reduces(o) and self._pos_key(o) == key)
        return (held + pending + self.cost(new.qty, price)) / self.leverage

    def _fill(self, order: Order, price: float, maker: bool, ts: int, trade_id: int) -> None:
        key = self._pos_key(order)
        size, pos_price = self.positions[key]
        qty = order.qty - order.filled
        if self._reduces(order):
            qty = min(qty, abs(size))
            if qty <= 0:
                self.cancel(order)
                return
        signed = qty if order.side == "buy" else -qty
        closing = min(qty, abs(size)) if size and (size > 0) != (signed > 0) else 0.0
        realized = contracts.pnl(size, pos_price, price, closing, self._mkt) if closing else 0.0
        rate = self.spec.maker_fee if maker else self.spec.taker_fee
        fee = self.cost(qty, price) * rate
        new_size, new_price = contracts.new_position(size, pos_price, signed, price, self._mkt)
        self.positions[key] = [new_size, new_price]
        self.balance += realized - fee
        order.avg_price = (order.avg_price * order.filled + price * qty) / (order.filled + qty)
        order.filled = round_(order.filled + qty, self.spec.qty_step)
        order.fee += fee
        order.status = "filled" if order.filled >= order.qty - 1e-12 else "new"
        if order.type == "market":
            order.price = price
        if order.status == "new" and self._reduces(order):
            order.status = "canceled"  # reduce-only remainder larger than the position is cancelled
        if not order.is_open:
            self.open.pop(order.id, None)
        order.updated_ms = self.now_ms()
        fill = Fill(next(self._fill_ids), order, price, qty, fee, rate, maker, ts, realized, trade_id, closing)
        self.fills.append(fill)
        self.on_event("fill", fill)
        self.on_event("order", order)
        self.on_event("position", key)
        self.on_event("wallet", None)


def _on_step(x: float, step: float) -> bool:
    n = x / step
    return abs(n - round(n)) < 1e-6 and math.isfinite(n)


def fmt(x: float, step: float) -> str:
    """`x` as the exchange prints it: as many decimals as `step` has."""
    return f"{x:.{_decimals(step)}f}"


@functools.lru_cache(maxsize=64)
def _decimals(step: float) -> int:
    return max(0, -Decimal(repr(float(step))).normalize().as_tuple().exponent)
