"""Paper trading: `passivx live EXCHANGE CONFIG --paper` runs the live engine on the exchange's public trade
stream with a simulated account instead of a real one. No key is read and nothing private is called.

`PaperAccount` holds the balance, the positions and the bot's resting orders, and fills them on every
public trade by the backtester's rules (`passivx.calc.fills`, the same jitted functions): a bid fills when
a trade prints strictly below it, an ask strictly above, the whole order at its price with the maker fee;
a market order (the classic market stop loss) at the next trade's price with the taker fee; several
orders a trade reaches fill nearest price first. An order rests (and a cancel takes effect) only
`latency_ms` after the engine sent it, like the backtester's `latency_simulation_ms`. A trade reaching the
liquidation price closes everything there (taker fee) and stops the bot, as a backtest stops.

`PaperAdapter` wraps the exchange's adapter: market data (market spec, server time, candles, recent
trades, the public stream) go to the exchange (or the endpoint overrides) unsigned; balance, positions,
orders and the account set-up are answered by the `PaperAccount`.

The run's folder `paper/{exchange}/{config_name}/{UTC start}/` holds the backtester's files in the same
format: `fills.csv`, `equity.csv` (a sample a minute), `stats.json` (the backtester's keys), and
`config.json` and `account.json` (what `--resume DIR` continues from). Each is replaced atomically.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from passivx import results
from passivx.calc import rows as R
from passivx.calc import layout as L
from passivx.calc.contracts import liquidation_price, qty_to_cost, wallet_exposure
from passivx.calc.fills import apply_fill, crosses, equity
from passivx.data.atomic import temp_path, write_bytes_atomic, write_json_atomic
from passivx.errors import ConfigError, PassivxError
from passivx.exchanges.base import BalanceUpdate, Fill, Order, OrderUpdate, PositionUpdate

SAMPLE_MS = 60_000
DAY_MS = 86_400_000
PACE_MS = 1000.0  # the engine's pace (passivx.live.engine.PACE_S), as stats.json reports it


class PaperOrderNotFound(Exception):
    """A cancel of an order that is no longer open (it filled): the engine resyncs."""


@dataclass(frozen=True)
class PaperOrder(Order):
    """A resting order of the paper account: the order, how it was sent and when it rests (and goes)."""

    market: bool
    kind: int
    rests_at: float  # exchange ms from which a trade can fill it
    cancel_at: float = math.inf  # exchange ms from which it is gone

    def view(self) -> Order:
        return Order(self.id, self.client_id, self.side, self.pos_side, self.price, self.qty, self.reduce_only)


def default_balance(inverse: bool) -> float:
    """The starting balance without `--balance`: 1000 quote (linear) or 0.02 coin (inverse)."""
    return 0.02 if inverse else 1000.0


class PaperAccount:
    """The simulated account of one paper run and its result folder."""

    def __init__(self, folder: Path, meta: dict, balance: float, latency_ms: float):
        self.folder = Path(folder)
        self.meta = dict(meta)  # exchange, symbol, config_name, mode, started
        self.latency_ms = float(latency_ms)
        self.starting_balance = float(balance)
        self.st = np.zeros(L.ST_SIZE)
        self.st[L.S_BALANCE] = balance
        self.mkt: np.ndarray | None = None
        self.one_way = meta.get("mode") == "classic"
        self.orders: dict[str, PaperOrder] = {}
        self.fills: list[list[float]] = []
        self.samples: list[list[float]] = []
        self.ids = 0
        self.n = {"trades": 0, "decisions": 0}
        self.first_t = self.last_t = math.nan
        self.last_price = 0.0
        self.peak = -math.inf
        self.max_dd = 0.0
        self.closest_liq = 1.0
        self.liq = 0.0
        self.last_fill_t = math.nan
        self.max_gap = 0.0
        self.next_sample = -math.inf
        self.liquidated = False
        self.seconds = 0.0
        self.t0 = time.monotonic()
        self.dirty = True
        self.running = False

    # ---- the run's folder -------------------------------------------------------------------------
    @classmethod
    def new(cls, root: Path, exchange: str, config, balance: float, latency_ms: float) -> "PaperAccount":
        """A new run in `root/{exchange}/{config_name}/{UTC now}` (made unique)."""
        started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
        base = Path(root) / exchange / config.config_name / started
        folder, n = base, 1
        while folder.exists():
            n += 1
            folder = base.with_name(f"{started}-{n}")
        try:
            folder.mkdir(parents=True)
            write_json_atomic(folder / "config.json", config.data)
        except OSError as e:
            raise PassivxError(f"{folder}: cannot create the paper run's folder ({e.strerror or e})") from None
        meta = {"exchange": exchange, "symbol": config.symbol, "config_name": config.config_name,
                "mode": config.mode, "started": started}
        return cls(folder, meta, balance, latency_ms)

    @classmethod
    def resume(cls, folder: Path, exchange: str, config, latency_ms: float) -> "PaperAccount":
        """The run in `folder`, continued where it stopped (its config must be the same market and name)."""
        folder = Path(folder)
        try:
            saved = json.loads((folder / "account.json").read_text())
            meta = saved["meta"]
            fills = results.read_fills(folder / "fills.csv")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"{folder}: not a paper run to resume ({type(e).__name__}: {e})") from None
        for key, value in (("exchange", exchange), ("symbol", config.symbol), ("config_name", config.config_name),
                           ("mode", config.mode)):
            if meta.get(key) != value:
                raise ConfigError(f"{folder}: a paper run of {key} {meta.get(key)!r}, not {value!r}; resume it "
                                  f"with the same exchange and config")
        if saved.get("liquidated"):
            raise ConfigError(f"{folder}: this paper account was liquidated; start a new run")
        acct = cls(folder, meta, saved["starting_balance"], latency_ms)
        acct.st[:] = saved["st"]
        acct.fills = fills.tolist()
        acct.samples = results.read_samples(folder / "equity.csv")
        for k in ("first_t", "last_t", "last_price", "peak", "max_dd", "closest_liq", "last_fill_t", "max_gap",
                  "seconds"):
            setattr(acct, k, float(saved[k]))
        acct.n = saved["n"]
        acct.ids = int(saved["ids"])
        return acct

    def timers(self) -> list[tuple[int, int, float]]:
        """(kind, position side, ms) of the latest fills, for the engine's fill timers on resume."""
        return [(int(r[R.F_KIND]), int(r[R.F_POS_SIDE]), r[R.F_T]) for r in self.fills
                if int(r[R.F_KIND]) != R.K_LIQUIDATION]

    def save(self) -> None:
        """Write the folder's files (each atomically); stats.json last. PassivxError if it cannot."""
        try:
            self._save()
        except OSError as e:
            raise PassivxError(f"{self.folder}: cannot write the paper results ({e.strerror or e})") from None

    def _save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, write, rows, width in (("fills.csv", results.write_fills, self.fills, R.F_W),
                                         ("equity.csv", results.write_samples, self.samples, R.SM_W)):
            tmp = temp_path(self.folder / name)
            write(tmp, np.array(rows, dtype=np.float64).reshape(-1, width))
            os.replace(tmp, self.folder / name)
        state = {k: getattr(self, k) for k in ("first_t", "last_t", "last_price", "peak", "max_dd", "closest_liq",
                                               "last_fill_t", "max_gap", "liquidated", "starting_balance", "ids",
                                               "n")}
        state.update(meta=self.meta, st=self.st.tolist(), seconds=self.elapsed())
        write_bytes_atomic(self.folder / "account.json", (json.dumps(state, indent=1) + "\n").encode())
        write_bytes_atomic(self.folder / "stats.json", (json.dumps(self.stats(), indent=2, allow_nan=False)
                                                        + "\n").encode())
        self.dirty = False

    def elapsed(self) -> float:
        return self.seconds + time.monotonic() - self.t0

    def warm(self) -> None:
        """Load (or compile) the jitted rules on the argument types trading uses, before the first trade."""
        st = self.st.copy()
        crosses(1, 1.0, 1.0)
        apply_fill(st, self.mkt, self.one_way, 1.0, 1.0, True, 1.0, 0.0, 0.0)
        liquidation_price(st[L.S_BALANCE], st[L.S_LONG_SIZE], st[L.S_LONG_PRICE], st[L.S_SHORT_SIZE],
                          st[L.S_SHORT_PRICE], self.mkt)
        equity(st, self.mkt, 1.0)
        wallet_exposure(st[L.S_LONG_SIZE], st[L.S_LONG_PRICE], st[L.S_BALANCE], self.mkt)
        qty_to_cost(1.0, 1.0, self.mkt)

    # ---- the exchange's side: orders --------------------------------------------------------------
    def place(self, side: int, pos_side: int, price: float, qty: float, reduce_only: bool, market: bool,
               client_id: str, kind: int, now_ms: float) -> str:
        self.ids += 1
        oid = f"paper-{self.ids}"
        self.orders[oid] = PaperOrder(oid, client_id, side, pos_side, price, qty, reduce_only, market, kind,
                                      now_ms + self.latency_ms)
        return oid

    def cancel(self, oid: str, now_ms: float) -> None:
        o = self.orders.get(oid)
        if o is None or o.cancel_at != math.inf:
            raise PaperOrderNotFound(f"paper order {oid} is not open")
        self.orders[oid] = replace(o, cancel_at=now_ms + self.latency_ms)

    def open_orders(self) -> list[Order]:
        return [o.view() for o in self.orders.values() if o.cancel_at == math.inf]

    def positions(self) -> tuple[float, float, float, float]:
        st = self.st
        return st[L.S_LONG_SIZE], st[L.S_LONG_PRICE], st[L.S_SHORT_SIZE], st[L.S_SHORT_PRICE]

    @property
    def balance(self) -> float:
        return float(self.st[L.S_BALANCE])

    # ---- trades -----------------------------------------------------------------------------------
    def on_trade(self, ts: float, price: float) -> list:
        """One public trade: fill what it reaches; returns the engine's events (order, fill, position,
        balance), as the private stream would push them."""
        if not self.running:  # the first trade of this process: risk figures for the (resumed) position
            self.running = True
            if math.isnan(self.first_t):
                self.first_t = ts
            self._new_segment(price)
        self.n["trades"] += 1
        self.last_t, self.last_price = ts, price
        events: list = []
        for oid in [k for k, o in self.orders.items() if o.cancel_at <= ts]:
            o = self.orders.pop(oid)
            events.append(self._update(o, "canceled"))
        filled = False
        while (o := self._next(ts, price)) is not None:
            filled |= self._fill(o, ts, price, events)
        if filled:
            events += self._position_events()
            self._new_segment(price)
        elif self.st[L.S_LONG_SIZE] != 0.0 or self.st[L.S_SHORT_SIZE] != 0.0:
            self._mark(price)
        if self.liq > 0.0 and self._liq_reached(price):
            self._liquidate(ts)
            events += self._position_events()
        if ts >= self.next_sample:
            self._sample(ts, price)
        return events

    def _next(self, ts: float, price: float) -> PaperOrder | None:
        """The resting order the trade fills next: a market order, else the bid highest above the print,
        else the ask lowest below it (the backtester's order)."""
        best = None
        for o in self.orders.values():
            if o.rests_at > ts or o.cancel_at <= ts:
                continue
            if o.market:
                return o
            if crosses(o.side, o.price, price) and (best is None or o.side > best.side or (
                    o.side == best.side and (o.price - best.price) * o.side > 0)):
                best = o
        return best

    def _fill(self, o: PaperOrder, ts: float, price: float, events: list) -> bool:
        del self.orders[o.id]
        taker = o.market
        at = price if taker else o.price
        rate = self.mkt[L.M_TAKER_FEE if taker else L.M_MAKER_FEE]
        qty, realised, fee = apply_fill(self.st, self.mkt, self.one_way, float(o.side), float(o.pos_side),
                                        o.reduce_only, at, o.qty, rate)
        if qty <= 0.0:
            events.append(self._update(o, "canceled"))
            return False
        self._record(ts, o.kind, o.side, o.pos_side, at, qty, fee, realised, taker, price)
        events += [self._update(o, "filled"), Fill(o.client_id, o.side, at, qty, ts)]
        return True

    def _record(self, ts, kind, side, pos_side, price, qty, fee, realised, taker, mark) -> None:
        st = self.st
        row = [0.0] * R.F_W
        row[R.F_T], row[R.F_KIND], row[R.F_SIDE], row[R.F_POS_SIDE] = ts, kind, side, pos_side
        row[R.F_PRICE], row[R.F_QTY], row[R.F_FEE], row[R.F_PNL] = price, qty, fee, realised
        row[R.F_BALANCE] = st[L.S_BALANCE]
        row[R.F_LONG_SIZE], row[R.F_LONG_PRICE] = st[L.S_LONG_SIZE], st[L.S_LONG_PRICE]
        row[R.F_SHORT_SIZE], row[R.F_SHORT_PRICE] = st[L.S_SHORT_SIZE], st[L.S_SHORT_PRICE]
        row[R.F_EQUITY], row[R.F_MARK], row[R.F_TAKER] = equity(st, self.mkt, mark), mark, 1.0 if taker else 0.0
        self.fills.append([float(x) for x in row])
        if not math.isnan(self.last_fill_t):
            self.max_gap = max(self.max_gap, ts - self.last_fill_t)
        else:
            self.max_gap = max(self.max_gap, ts - self.first_t)
        self.last_fill_t = ts
        self.dirty = True

    def _update(self, o: PaperOrder, status: str) -> OrderUpdate:
        return OrderUpdate(o.id, o.client_id, o.side, o.pos_side, o.price, o.qty, o.reduce_only,
                           o.qty if status == "filled" else 0.0, status)

    def _position_events(self) -> list:
        st = self.st
        if self.one_way:
            pos = [PositionUpdate(0, st[L.S_LONG_SIZE] + st[L.S_SHORT_SIZE],
                                  st[L.S_LONG_PRICE] if st[L.S_LONG_SIZE] else st[L.S_SHORT_PRICE])]
        else:
            pos = [PositionUpdate(1, st[L.S_LONG_SIZE], st[L.S_LONG_PRICE]),
                   PositionUpdate(-1, st[L.S_SHORT_SIZE], st[L.S_SHORT_PRICE])]
        return pos + [BalanceUpdate(self.balance)]

    # ---- risk and the curve (the backtester's statistics) ------------------------------------------
    def _new_segment(self, price: float) -> None:
        st = self.st
        self.liq = liquidation_price(st[L.S_BALANCE], st[L.S_LONG_SIZE], st[L.S_LONG_PRICE], st[L.S_SHORT_SIZE],
                                     st[L.S_SHORT_PRICE], self.mkt)
        if not (self.liq > 0.0 and math.isfinite(self.liq)):
            self.liq = 0.0
        self._mark(price)

    def _mark(self, price: float) -> None:
        e = equity(self.st, self.mkt, price)
        self.peak = max(self.peak, e)
        if self.peak > 0.0:
            self.max_dd = max(self.max_dd, (self.peak - e) / self.peak)
        if self.liq > 0.0:
            self.closest_liq = min(self.closest_liq, abs(price - self.liq) / price)

    def _liq_reached(self, price: float) -> bool:
        net = self.st[L.S_LONG_SIZE] + self.st[L.S_SHORT_SIZE]
        return price <= self.liq if net > 0.0 else price >= self.liq

    def _liquidate(self, ts: float) -> None:
        liq = self.liq
        for pos_side, i in ((1, L.S_LONG_SIZE), (-1, L.S_SHORT_SIZE)):
            size = self.st[i]
            if size != 0.0:
                qty, realised, fee = apply_fill(self.st, self.mkt, self.one_way, float(-pos_side), float(pos_side),
                                                True, liq, abs(size), self.mkt[L.M_TAKER_FEE])
                self._record(ts, R.K_LIQUIDATION, -pos_side, pos_side, liq, qty, fee, realised, True, liq)
        self.orders.clear()
        self.liquidated = True
        self.closest_liq = 0.0
        self._new_segment(liq)

    def _sample(self, ts: float, price: float) -> None:
        st, mkt = self.st, self.mkt
        row = [0.0] * R.SM_W
        row[R.SM_T], row[R.SM_PRICE], row[R.SM_BALANCE] = ts, price, st[L.S_BALANCE]
        row[R.SM_EQUITY] = equity(st, mkt, price)
        row[R.SM_LONG_SIZE], row[R.SM_LONG_PRICE] = st[L.S_LONG_SIZE], st[L.S_LONG_PRICE]
        row[R.SM_SHORT_SIZE], row[R.SM_SHORT_PRICE] = st[L.S_SHORT_SIZE], st[L.S_SHORT_PRICE]
        row[R.SM_LIQ] = self.liq
        row[R.SM_WE_LONG] = wallet_exposure(st[L.S_LONG_SIZE], st[L.S_LONG_PRICE], st[L.S_BALANCE], mkt)
        row[R.SM_WE_SHORT] = wallet_exposure(st[L.S_SHORT_SIZE], st[L.S_SHORT_PRICE], st[L.S_BALANCE], mkt)
        self.samples.append([float(x) for x in row])
        self.next_sample = (ts // SAMPLE_MS + 1) * SAMPLE_MS
        self.dirty = True

    def stats(self) -> dict:
        """The backtester's stats.json keys, for this run so far."""
        st, mkt = self.st, self.mkt
        fills = np.array(self.fills, dtype=np.float64).reshape(-1, R.F_W)
        kinds = fills[:, R.F_KIND].astype(int)
        price = self.last_price
        final_equity = float(equity(st, mkt, price)) if mkt is not None and price > 0 else self.balance
        first = self.first_t if not math.isnan(self.first_t) else 0.0
        last = self.last_t if not math.isnan(self.last_t) else first
        days = max(1.0, last - first) / DAY_MS
        ratio = final_equity / self.starting_balance
        gap = max(self.max_gap, last - (self.last_fill_t if not math.isnan(self.last_fill_t) else first))
        seconds = self.elapsed()
        count = lambda k: int((kinds == k).sum())  # noqa: E731
        n_fills = len(fills)
        return {
            "final_balance": self.balance, "final_equity": final_equity, "gain": ratio - 1.0,
            "adg": _adg(ratio, days),
            "max_drawdown": self.max_dd, "closest_liquidation": self.closest_liq,
            "hours_stuck_max": gap / 3_600_000, "n_fills": n_fills,
            "n_entries": count(L.K_ENTRY), "n_closes": count(L.K_CLOSE), "n_stop_losses": count(L.K_STOP_LOSS),
            "n_unstuck": count(L.K_UNSTUCK), "n_liquidations": count(R.K_LIQUIDATION),
            "n_taker_fills": int(fills[:, R.F_TAKER].sum()), "fills_per_day": n_fills / days,
            "fees_paid": float(fills[:, R.F_FEE].sum()),
            "volume": float(sum(qty_to_cost(r[R.F_QTY], r[R.F_PRICE], mkt) for r in fills)) if n_fills else 0.0,
            "realized_pnl": float(fills[:, R.F_PNL].sum()), "funding": 0.0, "liquidated": self.liquidated,
            "liquidation_timestamp": int(fills[-1, R.F_T]) if self.liquidated else None,
            "trades_processed": self.n["trades"], "seconds": seconds,
            "rows_per_second": self.n["trades"] / seconds if seconds > 0 else None, "days": days,
            "first_timestamp": int(first), "last_timestamp": int(last), "last_price": float(price),
            "long_size": float(st[L.S_LONG_SIZE]), "long_price": float(st[L.S_LONG_PRICE]),
            "short_size": float(st[L.S_SHORT_SIZE]), "short_price": float(st[L.S_SHORT_PRICE]),
            "n_decisions": self.n["decisions"], "n_ideal_orders_calls": self.n["decisions"],
            "fills_by_kind": {name: count(k) for k, name in enumerate(R.FILL_KIND_NAMES)},
            "exchange": self.meta["exchange"], "symbol": self.meta["symbol"], "config_name": self.meta["config_name"],
            "mode": self.meta["mode"], "data": "trades", "start_date": self.meta["started"][:10],
            "end_date": results.utc(last)[:10] if last else self.meta["started"][:10],
            "starting_balance": self.starting_balance, "latency_simulation_ms": self.latency_ms, "pace_ms": PACE_MS,
            "exhaustive": False, "funding_source": "none (paper trading does not simulate funding: funding is zero)",
        }


def _adg(ratio: float, days: float) -> float | None:
    """Average daily gain compounded over `days` (None when a short run's extrapolation overflows)."""
    if ratio <= 0.0:
        return -1.0
    try:
        return float(ratio ** (1.0 / days) - 1.0)
    except OverflowError:
        return None


class PaperAdapter:
    """The exchange's adapter for market data, a `PaperAccount` for everything private."""

    def __init__(self, adapter, account: PaperAccount, clock=None):
        self._ad = adapter
        self.account = account
        self.clock = clock or (lambda: time.time() * 1000.0)

    def __getattr__(self, name):  # market data, streams, parsing, rates: the exchange's own
        return getattr(self._ad, name)

    def make_client(self, testnet: bool = False, keys=None, rate_limit: bool = True, live: bool = False,
                    timeout_ms: int = 10_000):
        """A client without keys: it cannot sign anything."""
        return self._ad.make_client(testnet, None, rate_limit, live, timeout_ms)

    async def setup_account(self, client, symbol: str, hedge: bool, leverage: float, log) -> None:
        log(f"paper account: {'hedge' if hedge else 'one-way'} mode, cross margin, leverage {leverage:g} "
            f"(simulated), balance {self.account.balance:g} {self._ad.settle}, orders rest after "
            f"{self.account.latency_ms:g} ms, results in {self.account.folder}")

    async def fetch_balance(self, client) -> float:
        return self.account.balance

    async def fetch_positions(self, client, symbol: str) -> tuple[float, float, float, float]:
        return self.account.positions()

    async def fetch_open_orders(self, client, symbol: str) -> list[Order]:
        return self.account.open_orders()

    async def create_order(self, client, symbol: str, side: int, pos_side: int, price: float, qty: float,
                           reduce_only: bool, market: bool, client_id: str, hedge: bool) -> str:
        from passivx.live.orders import kind_of

        kind = (kind_of(client_id) or (L.K_ENTRY, pos_side))[0]
        return self.account.place(side, pos_side, price, qty, reduce_only, market, client_id, kind, self.clock())

    async def cancel_order(self, client, symbol: str, order_id: str) -> None:
        import ccxt

        try:
            self.account.cancel(order_id, self.clock())
        except PaperOrderNotFound as e:
            raise ccxt.OrderNotFound(str(e)) from None
