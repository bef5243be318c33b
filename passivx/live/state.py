"""What the engine knows, as the calculator's state vector (`passivx.calc.layout`), and its ideal orders.

The inputs move as in the backtester (`passivx/backtest/__init__.py`): best bid / ask are the last
taker-sell / taker-buy prices; the classic tick EMA moves on every trade whose price differs from the
previous one; the modes' band EMAs move once a minute, at the minute's end, with the last price. EMA
warm-up: the tick EMA from the latest public trades (seeded with the first of them), the band EMAs from
the 1-minute candles of the last `band_warmup_minutes` (seeded with the first candle's open, then one
step per closed candle with its close), so the first orders equal what the backtester would place after
the same prints.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from passivx.calc import layout as L
from passivx.calc.ema import band_alphas, ema_alpha, ema_update

MINUTE_MS = 60_000
KIND_CODES = {L.K_ENTRY: "e", L.K_CLOSE: "c", L.K_STOP_LOSS: "s", L.K_UNSTUCK: "u"}


class Want(NamedTuple):
    """One ideal order: sides +1/-1, `kind` a `layout.K_*`, `market` for the classic market stop loss."""

    side: int
    pos_side: int
    kind: int
    price: float
    qty: float
    reduce_only: bool
    market: bool = False


@dataclass
class MarketState:
    """Prices, EMAs, position, balance and fill timers: everything `st` is made of."""

    mode: int
    cfg: np.ndarray
    balance: float = 0.0
    long_size: float = 0.0
    long_price: float = 0.0
    short_size: float = 0.0
    short_price: float = 0.0
    last: float = 0.0
    bid: float = 0.0
    ask: float = 0.0
    tick_ema: float = 0.0
    bands: np.ndarray = field(default_factory=lambda: np.zeros(6))
    timers: np.ndarray = field(default_factory=lambda: np.full(6, -math.inf))  # S_LONG_LAST_ENTRY_MS..
    last_trade_ms: float = -math.inf
    next_minute_ms: float = math.inf
    alpha: float = 0.0
    band_alpha: np.ndarray = field(default_factory=lambda: np.zeros(6))

    def __post_init__(self) -> None:
        if self.mode == L.MODE_CLASSIC:
            self.alpha = ema_alpha(self.cfg[L.C_EMA_SPAN])
        else:
            for k, base in enumerate((L.C_LONG, L.C_SHORT)):
                self.band_alpha[3 * k:3 * k + 3] = band_alphas(self.cfg[base + L.P_EMA_SPAN_0],
                                                               self.cfg[base + L.P_EMA_SPAN_1])

    @property
    def ready(self) -> bool:
        return self.last > 0.0

    # ---- warm-up --------------------------------------------------------------------------------
    def warm_ticks(self, trades: list[tuple]) -> None:
        """Replay recent trades (ts, price, qty, side), oldest first; the first seeds what is not seeded yet
        (the tick EMA, and the band EMAs when no candle did)."""
        for t in trades:
            self.trade(*t)

    def warm_bands(self, candles: list[list], now_ms: float) -> None:
        """Band EMAs from 1-minute candles [ts, o, h, l, c, v] (only those closed before `now_ms`)."""
        closed = [c for c in candles if c[0] + MINUTE_MS <= now_ms]
        if closed:
            self.bands[:] = closed[0][1]
            for c in closed:
                self.bands[:] = [ema_update(self.bands[j], self.band_alpha[j], c[4]) for j in range(6)]
            if not self.ready:
                self.last = self.bid = self.ask = self.tick_ema = closed[-1][4]
        self.next_minute_ms = (now_ms // MINUTE_MS + 1) * MINUTE_MS

    # ---- updates --------------------------------------------------------------------------------
    def trade(self, ts: float, price: float, qty: float, side: int) -> None:
        """One public trade, in order."""
        if not self.ready:
            self.last = self.bid = self.ask = self.tick_ema = price
            if not self.bands.any():
                self.bands[:] = price
        if side > 0:
            self.ask = price
        else:
            self.bid = price
        if price != self.last:
            if self.mode == L.MODE_CLASSIC:
                self.tick_ema = ema_update(self.tick_ema, self.alpha, price)
            self.last = price
        self.last_trade_ms = ts

    def minute(self, now_ms: float) -> bool:
        """Band EMA steps for every minute boundary passed by `now_ms` (modes); True if any."""
        stepped = False
        while self.mode != L.MODE_CLASSIC and self.ready and now_ms >= self.next_minute_ms:
            for j in range(6):
                self.bands[j] = ema_update(self.bands[j], self.band_alpha[j], self.last)
            self.next_minute_ms += MINUTE_MS
            stepped = True
        return stepped

    def set_position(self, pos_side: int, size: float, price: float) -> None:
        """A position from the exchange: `pos_side` +1 / -1 (hedge), 0 one-way (signed size)."""
        if pos_side == 0:
            pos_side = 1 if size > 0 else -1 if size < 0 else 0
            if pos_side == 0:
                self.long_size = self.short_size = 0.0
                return
            if pos_side > 0:
                self.short_size = 0.0
            else:
                self.long_size = 0.0
        if pos_side > 0:
            self.long_size, self.long_price = abs(size), price if size else 0.0
        else:
            self.short_size, self.short_price = -abs(size), price if size else 0.0

    def filled(self, kind: int, pos_side: int, ts_ms: float) -> None:
        """Record a fill of the bot's own order for the timers (entries, closes, unstuck closes)."""
        slot = {L.K_ENTRY: 0, L.K_CLOSE: 1, L.K_STOP_LOSS: 1, L.K_UNSTUCK: 2}[kind]
        self.timers[slot + (0 if pos_side > 0 else 3)] = ts_ms

    # ---- the calculator -------------------------------------------------------------------------
    def vector(self, now_ms: float) -> np.ndarray:
        """The `st` vector of `passivx.calc.layout`."""
        st = np.zeros(L.ST_SIZE)
        st[L.S_BALANCE] = self.balance
        st[L.S_LONG_SIZE], st[L.S_LONG_PRICE] = self.long_size, self.long_price
        st[L.S_SHORT_SIZE], st[L.S_SHORT_PRICE] = self.short_size, self.short_price
        st[L.S_BEST_BID], st[L.S_BEST_ASK], st[L.S_LAST_PRICE] = self.bid, self.ask, self.last
        st[L.S_TICK_EMA] = self.tick_ema
        st[L.S_LONG_EMA0:L.S_LONG_EMA0 + 6] = self.bands
        st[L.S_NOW_MS] = now_ms
        st[L.S_LONG_LAST_ENTRY_MS:L.S_SHORT_LAST_UNSTUCK_MS + 1] = self.timers
        return st

    def describe(self, st: np.ndarray) -> dict:
        """The state as `passivx calc` options (for the log, the state file and parity tests)."""
        d = {"price": st[L.S_LAST_PRICE], "balance": st[L.S_BALANCE], "best_bid": st[L.S_BEST_BID],
             "best_ask": st[L.S_BEST_ASK], "now_ms": st[L.S_NOW_MS]}
        if self.mode == L.MODE_CLASSIC:
            d["ema"] = st[L.S_TICK_EMA]
        else:
            d["long_emas"] = list(st[L.S_LONG_EMA0:L.S_LONG_EMA0 + 3])
            d["short_emas"] = list(st[L.S_SHORT_EMA0:L.S_SHORT_EMA0 + 3])
        if st[L.S_LONG_SIZE]:
            d["long_size"], d["long_price"] = st[L.S_LONG_SIZE], st[L.S_LONG_PRICE]
        if st[L.S_SHORT_SIZE]:
            d["short_size"], d["short_price"] = -st[L.S_SHORT_SIZE], st[L.S_SHORT_PRICE]
        for name, i in (("long_last_entry_ms", 0), ("long_last_close_ms", 1), ("long_last_unstuck_ms", 2),
                        ("short_last_entry_ms", 3), ("short_last_close_ms", 4), ("short_last_unstuck_ms", 5)):
            if math.isfinite(self.timers[i]):
                d[name] = self.timers[i]
        return {k: (float(v) if not isinstance(v, list) else [float(x) for x in v]) for k, v in d.items()}


def ideal(cfg: np.ndarray, mkt: np.ndarray, st: np.ndarray, out: np.ndarray, memo: np.ndarray) -> list[Want]:
    """The calculator's orders for `st` (via `passivx.calc.entry.ideal_orders`), as `Want`s."""
    from passivx.calc.entry import ideal_orders

    n = ideal_orders(cfg, mkt, st, False, out, memo)
    market_sl = round(cfg[L.C_MODE]) == L.MODE_CLASSIC and cfg[L.C_MARKET_SL] != 0.0
    return [Want(int(r[L.O_SIDE]), int(r[L.O_POS_SIDE]), int(r[L.O_KIND]), r[L.O_PRICE], r[L.O_QTY],
                 r[L.O_REDUCE_ONLY] != 0.0, market_sl and int(r[L.O_KIND]) == L.K_STOP_LOSS)
            for r in out[:n, :L.O_REDUCE_ONLY + 1].tolist()]
