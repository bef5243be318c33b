"""The asyncio live engine: streams feed the state, the order loop keeps the exchange's open orders equal to
the calculator's ideal orders.

Tasks: the public trade stream, the private stream (orders, executions, positions, wallet), the order
loop, the status line and (Binance) the listen-key keep-alive. The order loop is the only task that
sends REST requests, so a resync never races an order request. It

- recomputes at most once per `PACE_S` after the state changed, at once after a fill, at each minute
  boundary (the modes' band EMAs) and at least every `HEARTBEAT_S` (timers);
- takes positions, balance and order states from the private stream as they come (after a fill it waits
  `FILL_SETTLE_S` for the pushes that follow it), and resyncs balance, positions and open orders over REST
  at start, `RESYNC_AFTER_FILL_S` after a fill, after a stream came back, after an unclear order answer
  and every `resync_every` seconds;
- places orders only while it trusts its state: both streams up and the last resync good. Otherwise it
  says why once and waits; a successful resync resumes trading.

Errors (`passivx.exchanges.base.classify`): rate limits pause every request (exponential, jittered);
timeouts and 5xx end the cycle and resync first, so an order whose create timed out is looked up by its
client id among the open orders before anything is sent again; insufficient balance and post-only
rejections skip that order (the next cycle recomputes); an unknown order (a cancel of an order that
just filled) resyncs; auth or clock errors stop trading until a resync succeeds. Nothing an exchange
answers ends the engine (at start-up too: timeouts, 5xx and rate limits are tried again with back-off up to
`START_BACKOFF_CAP_S`, saying why each time; other refusals are one error line); SIGINT / SIGTERM end it
within a few seconds, exit code 0.
"""
from __future__ import annotations

import asyncio
import logging
import math
import signal
import threading
import time
from pathlib import Path

import numpy as np

from passivx.calc import layout as L
from passivx.calc.contracts import wallet_exposure
from passivx.calc.entry import new_memo
from passivx.errors import ConfigError, ExchangeError, PassivxError
from passivx.exchanges import base as X
from passivx.live import orders as O
from passivx.live.ratelimit import RateLimiter, backoff
from passivx.live.state import MarketState, ideal
from passivx.live.statefile import StateFile
from passivx.live.status import PLAIN_EVERY, status_line
from passivx.live.streams import run_stream

PACE_S = 1.0
FILL_SETTLE_S = 0.05  # after a fill, wait this long for the position / wallet pushes, then recompute
RESYNC_AFTER_FILL_S = 2.0  # and resync over REST this long after it, as a safety net
HEARTBEAT_S = 10.0
MAX_SKEW_MS = 2500.0
LISTEN_KEY_EVERY = 1800.0
MAX_WARMUP_MINUTES = 5000
START_BACKOFF_CAP_S = 30.0  # start-up requests failing with timeouts, 5xx or rate limits: tried again, backing off
log = logging.getLogger("passivx.live")


class Engine:
    """One bot: `adapter` (passivx.exchanges), a validated LiveConfig, API keys."""

    def __init__(self, adapter, config, keys: tuple[str, str], testnet: bool = False, cancel_on_exit: bool = False,
                 resync_every: float = 30.0, state_path: str | Path | None = None, console=None, paper=None):
        self.ad, self.config, self.keys = adapter, config, keys
        self.paper = paper  # a passivx.live.paper.PaperAccount (adapter: its PaperAdapter), or None
        if paper is not None:
            adapter.clock = self.now_ms
        self.testnet, self.cancel_on_exit, self.resync_every = testnet, cancel_on_exit, resync_every
        self.state_path = Path(state_path) if state_path else None
        self.console = console
        self.market = config.symbol
        self.cfg = config.to_array()
        self.mode = int(round(self.cfg[L.C_MODE]))
        self.state = MarketState(self.mode, self.cfg)
        self.orders: dict[str, X.Order] = {}  # the bot's open orders by exchange id
        self.closed: dict[str, None] = {}  # ids the private stream reported done (latest 1000, oldest first)
        self.foreign = 0
        self.stop = asyncio.Event()
        self.wake = asyncio.Event()
        self.up = {"public": False, "private": paper is not None}  # paper: the local account is always up
        self.trusted = False
        self.need_resync = True
        self.resync_fails = 0
        self.resync_at = 0.0
        self.last_resync = -math.inf
        self.last_cycle = -math.inf
        self.dirty = True
        self.fill_pending = False
        self.fill_at = 0.0
        self.resync_after_fill = math.inf
        self.pending: set[str] = set()  # client ids whose create answer never came
        self.paused_why = "starting"
        self.last_fill = ""
        self.skew_ms = 0.0
        self.warm_until = -math.inf
        self.out = np.zeros((L.MAX_ORDERS, L.O_SIZE))
        self.memo = new_memo()
        self.limiter = RateLimiter(adapter.order_rate, adapter.order_burst)
        self.client = None
        self.spec = self.mkt = None
        self.hedge = False
        self.computed: tuple[np.ndarray, list] = (np.zeros(0), [])  # st and ideal orders of the last computation
        self.statefile: StateFile | None = None  # state/{exchange}/{config}.json and notifications, set by run()

    # ---- time -----------------------------------------------------------------------------------
    def now_ms(self) -> float:
        """Exchange time (local clock corrected by the measured skew)."""
        return time.time() * 1000.0 + self.skew_ms

    # ---- start-up -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Everything before the first order; PassivxError (one line) when the bot cannot run."""
        import ccxt

        self.hedge = self._position_mode()
        self.client = self.ad.make_client(self.testnet, self.keys, live=True)
        attempt = 0
        while True:
            try:
                await self._start_exchange()
                break
            except ccxt.AuthenticationError:
                raise X.auth_failed(f"{self.ad.name}") from None
            except ccxt.BaseError as e:
                if X.classify(e) not in (X.RETRY, X.BACKOFF):
                    raise ExchangeError(f"{self.ad.name} start-up: {X.describe(e)}") from None
                delay = backoff(attempt, 1.0, START_BACKOFF_CAP_S)
                attempt += 1
                log.warning("start-up: %s; retrying in %.1f s", X.describe(e), delay)
                await asyncio.sleep(delay)
        log.info("%s %s: %s config %s, %s, market %s", self.ad.name, self.market, self.config.mode,
                 self.config.config_name, "hedge mode" if self.hedge else "one-way", self.spec.to_dict())
        await self._compile()

    async def _start_exchange(self) -> None:
        """Market spec, leverage check, clock, account set-up and warm-up (from a fresh state each try)."""
        from passivx.config import check_leverage
        from passivx.markets import spec_from_ccxt

        self.state = MarketState(self.mode, self.cfg)
        m = await self.ad.load_market(self.client, self.market)
        self.spec = spec_from_ccxt(self.ad, m, self.ad.name)
        self.mkt = self.spec.to_array()
        self.symbol = m["symbol"]
        self.ad.settle = m.get("settle") or self.ad.settle
        check_leverage(self.config, self.spec, f"{self.ad.name} {self.market}")
        if self.paper is not None:
            self.paper.mkt = self.mkt
            for kind, pos_side, ts in self.paper.timers():
                self.state.filled(kind, pos_side, ts)
        await self._check_clock()
        await self.ad.setup_account(self.client, self.symbol, self.hedge, self._leverage(), log.info)
        await self._warm_up()

    async def _compile(self) -> None:
        """The first call compiles the calculator (cached on disk afterwards): in a daemon thread, so a
        signal still stops the bot at once, and before trading, so no trade waits for it."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def work() -> None:
            try:
                ideal(self.cfg, self.mkt, self.state.vector(self.now_ms()), np.zeros_like(self.out), new_memo())
                if self.paper is not None:
                    self.paper.warm()
                result = lambda: done.done() or done.set_result(None)  # noqa: E731
            except BaseException as e:  # noqa: BLE001 - handed to the event loop
                result = lambda err=e: done.done() or done.set_exception(err)  # noqa: E731
            try:
                loop.call_soon_threadsafe(result)
            except RuntimeError:  # the bot stopped meanwhile
                pass

        t0 = time.monotonic()
        threading.Thread(target=work, daemon=True, name="passivx-compile").start()
        await done
        if time.monotonic() - t0 > 2.0:
            log.info("calculator compiled in %.0f s (cached for the next start)", time.monotonic() - t0)

    def _position_mode(self) -> bool:
        """True for hedge mode. Classic is one-way; the modes hedge on Binance; Bybit inverse has no
        hedge mode, so there a mode runs one enabled side one-way."""
        if self.mode == L.MODE_CLASSIC:
            return False
        sides = [s for s in ("long", "short") if self.config.data[s]["enabled"]]
        if self.ad.name == "bybit" and len(sides) == 2:
            raise ConfigError(f"{self.config.source}: Bybit inverse perpetuals have no hedge mode, so a "
                              f"{self.config.mode} config cannot hold long and short at once; set long.enabled "
                              f"or short.enabled to false")
        return self.ad.name == "binance"

    def _leverage(self) -> float:
        """Classic: the config's leverage. Modes: the enabled wallet exposure limits summed, rounded up, at
        least 1 (cross margin: this only sets the margin per order). A config asking for more than the
        market's maximum was refused at start-up (`passivx.config.check_leverage`); only the rounding up of
        a sum just below a fractional maximum is held at that maximum."""
        if self.mode == L.MODE_CLASSIC:
            return float(self.config.data["leverage"])
        total = sum(self.config.data[s]["wallet_exposure_limit"] for s in ("long", "short")
                    if self.config.data[s]["enabled"])
        return float(min(self.spec.max_leverage, max(1, math.ceil(total))))

    async def _check_clock(self) -> None:
        t0 = time.time() * 1000.0
        server = await self.ad.server_time(self.client)
        t1 = time.time() * 1000.0
        self.skew_ms = server - (t0 + t1) / 2
        if abs(self.skew_ms) > MAX_SKEW_MS:
            raise ExchangeError(f"this machine's clock is {abs(self.skew_ms) / 1000:.1f} s "
                                f"{'behind' if self.skew_ms > 0 else 'ahead of'} the {self.ad.name} server's; signed "
                                f"requests would be refused: sync the clock (enable NTP) and start again")
        log.info("clock: %+.0f ms from the exchange", self.skew_ms)

    async def _warm_up(self) -> None:
        """Band EMAs from 1-minute candles (modes), book prices and the tick EMA from recent trades."""
        now = self.now_ms()
        if self.mode != L.MODE_CLASSIC:
            span = max(self.cfg[b + L.P_EMA_SPAN_1] for b in (L.C_LONG, L.C_SHORT))
            minutes = int(min(MAX_WARMUP_MINUTES, math.ceil(3 * span)))
            start = (now // 60_000 - minutes) * 60_000
            candles = await self.ad.candles(self.client, self.symbol, int(start), int(now))
            self.state.warm_bands(candles, now)
            log.info("band EMAs warmed on %d one-minute candles: long %s short %s", len(candles),
                     [round(float(x), 2) for x in self.state.bands[:3]], [round(float(x), 2) for x in self.state.bands[3:]])
        trades = await self.ad.recent_trades(self.client, self.symbol)
        self.state.warm_ticks(trades)
        if trades:
            self.warm_until = trades[-1][0]
            log.info("warmed on %d recent trades: price %g, tick EMA %g", len(trades), self.state.last,
                     self.state.tick_ema)

    # ---- running --------------------------------------------------------------------------------
    async def run(self) -> None:
        """Start, trade until SIGINT / SIGTERM, then stop cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop)
        self.statefile = StateFile(self)
        self.statefile.start()
        try:
            starting = asyncio.create_task(self.start())
            stopping = asyncio.create_task(self.stop.wait())
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not starting.done():  # stopped during start-up: nothing was placed yet
                starting.cancel()
                await asyncio.gather(starting, return_exceptions=True)
                return
            starting.result()
            jobs = [run_stream("public", self._public_url, lambda: self.ad.public_subscribe(self.market),
                               self.on_public, lambda up: self._stream_state("public", up), self.stop,
                               self.ad.ping_message(), self.ad.ping_interval),
                    self._order_loop(), self._status_loop()]
            if self.paper is None:  # paper trading: the account is local, nothing private is opened
                jobs += [run_stream("private", self._private_url, lambda: self.ad.private_subscribe(self.keys),
                                    self.on_private, lambda up: self._stream_state("private", up), self.stop,
                                    self.ad.ping_message(), self.ad.ping_interval), self._keep_alive()]
            tasks = [asyncio.create_task(t) for t in jobs]
            await self.stop.wait()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.cancel_on_exit:
                await self._cancel_all()
        finally:
            if self.console:
                self.console.end()
            if self.client is not None:
                await self.client.close()
            if self.paper is not None and self.paper.mkt is not None and self._save_paper():
                log.info("paper results: %s", self.paper.folder)
            self.statefile.close()
            log.info("stopped")

    def request_stop(self) -> None:
        if not self.stop.is_set():
            log.info("stopping (signal received)")
        self.stop.set()
        self.wake.set()

    async def _public_url(self) -> str:
        return self.ad.public_url(self.market, self.testnet)

    async def _private_url(self) -> str:
        return await self.ad.private_url(self.client, self.testnet)

    def _stream_state(self, name: str, up: bool) -> None:
        self.up[name] = up
        self.need_resync = True  # came up: fetch what we missed; went down: we may miss fills
        if not up:
            self._distrust(f"{name} stream down")
        self.wake.set()
        if self.statefile:
            self.statefile.stream(name, up)

    def _distrust(self, why: str) -> None:
        if self.trusted or self.paused_why not in (why, "starting"):
            log.warning("not placing orders: %s", why)
        self.trusted = False
        self.paused_why = why

    # ---- stream callbacks -------------------------------------------------------------------------
    def on_public(self, msg: dict, t_recv: float) -> None:
        for t in self.ad.parse_public(msg):
            if t[0] < self.warm_until:
                continue
            if self.paper is not None:  # the paper account fills on the trade before the bot sees it
                self._events(self.paper.on_trade(t[0], t[1]))
                if self.paper.liquidated and not self.stop.is_set():
                    log.error("paper account liquidated at %g; stopping", t[1])
                    self.request_stop()
            self.state.trade(*t)
            self.dirty = True
        self.wake.set()

    def on_private(self, msg: dict, t_recv: float) -> None:
        self._events(self.ad.parse_private(msg, self.market))

    def _events(self, events: list) -> None:
        for ev in events:
            if isinstance(ev, X.OrderUpdate):
                self._order_update(ev)
            elif isinstance(ev, X.Fill):
                self._fill(ev)
            elif isinstance(ev, X.PositionUpdate):
                self.state.set_position(ev.pos_side, ev.size, ev.price)
                self.dirty = True
            elif isinstance(ev, X.BalanceUpdate):
                self.state.balance = ev.balance
                self.dirty = True
        self.wake.set()

    def _order_update(self, ev: X.OrderUpdate) -> None:
        if not O.is_ours(ev.client_id):
            return
        if ev.status == "open":
            self.orders[ev.id] = X.Order(ev.id, ev.client_id, ev.side, ev.pos_side, ev.price,
                                         ev.qty - ev.filled, ev.reduce_only)
            return
        self.orders.pop(ev.id, None)
        self.closed[ev.id] = None  # the create's answer may come after this push: do not add it then
        if len(self.closed) > 1000:
            del self.closed[next(iter(self.closed))]
        if ev.status in ("canceled", "rejected") and "PostOnly" in ev.reason:
            log.info("post-only %s %g @ %g would have taken liquidity; the next cycle recomputes",
                     "buy" if ev.side > 0 else "sell", ev.qty, ev.price)
        self.dirty = True

    def _fill(self, ev: X.Fill) -> None:
        if not O.is_ours(ev.client_id):
            return
        self.last_fill = f"{'buy' if ev.side > 0 else 'sell'} {ev.qty:g}@{ev.price:g}"
        log.info("fill: %s (%s)", self.last_fill, ev.client_id)
        kp = O.kind_of(ev.client_id)
        if kp:
            self.state.filled(kp[0], kp[1], ev.ts_ms or self.now_ms())
        if not self.fill_pending:
            self.fill_at = time.monotonic()
        self.fill_pending = self.dirty = True
        self.resync_after_fill = time.monotonic() + RESYNC_AFTER_FILL_S
        if self.statefile:
            self.statefile.fill(ev)

    # ---- the order loop -----------------------------------------------------------------------------
    async def _order_loop(self) -> None:
        while not self.stop.is_set():
            await self._sleep(self._next_due())
            if self.stop.is_set():
                return
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug: say so loudly, stop trading until a resync, keep running
                log.exception("order loop error; not placing orders until the next resync")
                self._distrust("internal error (see the log)")
                self.need_resync = True
                self.resync_at = time.monotonic() + 5.0

    async def _step(self) -> None:
        """One pass of the order loop: minute, resync, and a cycle when due."""
        mono = time.monotonic()
        if self.state.minute(self.now_ms()):
            self.dirty = True
        if mono - self.last_resync > self.resync_every or mono >= self.resync_after_fill:
            self.need_resync = True
            self.resync_after_fill = math.inf
        if self.fill_pending and mono - self.fill_at < FILL_SETTLE_S:
            return  # the position and wallet pushes that follow a fill are on their way
        if self.need_resync and mono >= self.resync_at and all(self.up.values()):
            await self._resync()  # with both streams up, so nothing they push is missed after it
        if not self._can_trade():
            return
        if self.fill_pending or (self.dirty and mono - self.last_cycle >= PACE_S) or mono - self.last_cycle >= HEARTBEAT_S:
            await self._cycle()

    def _next_due(self) -> float:
        """Seconds until the order loop has something to do (it also wakes on every stream event)."""
        mono = time.monotonic()
        waits = [self.resync_every - (mono - self.last_resync), self.resync_after_fill - mono,
                 (self.state.next_minute_ms - self.now_ms()) / 1000.0]
        if self.need_resync:
            if all(self.up.values()):
                waits.append(self.resync_at - mono)
        elif self._tradable():
            waits.append(HEARTBEAT_S - (mono - self.last_cycle))
            if self.dirty:
                waits.append(PACE_S - (mono - self.last_cycle))
            if self.fill_pending:
                waits.append(FILL_SETTLE_S - (mono - self.fill_at))
        return max(0.0, min(waits))

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.wake.wait(), seconds)
        except asyncio.TimeoutError:
            pass
        self.wake.clear()

    def _tradable(self) -> bool:
        return self.trusted and all(self.up.values()) and self.state.ready

    def _can_trade(self) -> bool:
        if not all(self.up.values()):
            down = [k for k, v in self.up.items() if not v]
            self._distrust(f"{' and '.join(down)} stream down")
        return self._tradable()

    async def _resync(self) -> None:
        """Balance, positions and the bot's open orders from REST; trusted again when it succeeds."""
        try:
            balance = await self.ad.fetch_balance(self.client)
            pos = await self.ad.fetch_positions(self.client, self.symbol)
            opens = await self.ad.fetch_open_orders(self.client, self.symbol)
        except Exception as e:  # noqa: BLE001 - any failure: stay untrusted and retry with back-off
            if isinstance(e, asyncio.CancelledError):
                raise
            action = X.classify(e)
            if action == X.BACKOFF:
                self.limiter.penalize()
            delay = backoff(self.resync_fails, 0.5, 30.0)
            self.resync_fails += 1
            self.resync_at = time.monotonic() + delay
            self._distrust(f"resync failed ({X.describe(e)}); retrying in {delay:.1f} s")
            return
        self.state.balance = balance
        self.state.long_size, self.state.long_price, self.state.short_size, self.state.short_price = pos
        mine = [o for o in opens if O.is_ours(o.client_id)]
        self.foreign = len(opens) - len(mine)
        if self.last_resync == -math.inf and mine:
            log.info("adopted %d open orders of the bot: %s", len(mine),
                     ", ".join(f"{'buy' if o.side > 0 else 'sell'} {o.qty:g}@{o.price:g}" for o in mine))
        found = {o.client_id for o in mine}
        for cid in sorted(self.pending):
            log.info("order %s whose create went unanswered: %s", cid,
                     "found open on the exchange, kept" if cid in found else "not open on the exchange")
        self.pending.clear()
        self.orders = {o.id: o for o in mine}
        self.need_resync = False
        self.resync_fails = 0
        self.last_resync = time.monotonic()
        self.dirty = True
        self._write_state()
        if not self.trusted:
            log.info("state resynced: trading")
            self.trusted, self.paused_why = True, ""

    def compute(self) -> tuple[list, list, list]:
        """(ideal orders, cancels, creates) for the state now."""
        st = self.state.vector(self.now_ms())
        want = ideal(self.cfg, self.mkt, st, self.out, self.memo)
        cancels, creates = O.diff(want, list(self.orders.values()), self.state.last)
        self.computed = (st, want)
        return want, cancels, creates

    async def _cycle(self) -> None:
        self.last_cycle = time.monotonic()
        if self.paper is not None:
            self.paper.n["decisions"] += 1
        self.dirty = self.fill_pending = False
        want, cancels, creates = self.compute()
        try:
            for o in cancels:
                if not await self._send(f"cancel {_fmt(o.side, o.qty, o.price)}", self._cancel(o)):
                    return
            for w in creates:
                cid = O.client_id(w)
                if not await self._send(f"create {_fmt(w.side, w.qty, w.price)}", self._create(w, cid), cid):
                    return
        finally:
            self._write_state()

    async def _cancel(self, o: X.Order) -> None:
        await self.ad.cancel_order(self.client, self.symbol, o.id)
        self.orders.pop(o.id, None)
        log.info("cancelled %s %g @ %g (%s)", "buy" if o.side > 0 else "sell", o.qty, o.price, o.client_id)

    async def _create(self, w, cid: str) -> None:
        self.pending.add(cid)
        oid = await self.ad.create_order(self.client, self.symbol, w.side, w.pos_side, w.price, w.qty, w.reduce_only,
                                         w.market, cid, self.hedge)
        self.pending.discard(cid)
        if w.market:
            log.info("market stop loss sent: %s (%s)", _fmt(w.side, w.qty, w.price), cid)
            self.need_resync = True
            return
        log.info("created %s %s%s (%s)", L.KIND_NAMES[w.kind], _fmt(w.side, w.qty, w.price),
                 " reduce-only" if w.reduce_only else "", cid)
        if oid not in self.closed:
            self.orders.setdefault(oid, X.Order(oid, cid, w.side, w.pos_side, w.price, w.qty, w.reduce_only))

    async def _send(self, what: str, request, cid: str = "") -> bool:
        """Run one order request inside the rate limit; False ends the cycle. `cid`: the client id of a
        create, kept in `pending` (looked up at the next resync) unless the answer says it was not placed."""
        await self.limiter.acquire()
        try:
            await request
            self.limiter.ok()
            return True
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - classified below; the engine never dies on an answer
            action, why = X.classify(e), X.describe(e)
        if action in (X.SKIP, X.BACKOFF):
            self.pending.discard(cid)
        if action == X.SKIP:
            log.info("%s skipped: %s", what, why)
            self.dirty = True
            return True
        if action == X.BACKOFF:
            log.warning("%s: rate limited, pausing requests %.1f s", what, self.limiter.penalize())
        elif action == X.RETRY:
            log.warning("%s: no clear answer (%s); resync before anything is sent again", what, why)
        elif action == X.RESYNC:
            log.info("%s: %s; resyncing", what, why)
        else:
            self._distrust(f"{what}: {why}")
        self.need_resync = self.dirty = True
        return False

    async def _cancel_all(self) -> None:
        """Cancel the bot's own open orders (clean stop with --cancel-on-exit), within a few seconds."""
        try:
            opens = await asyncio.wait_for(self.ad.fetch_open_orders(self.client, self.symbol), 5.0)
            mine = [o for o in opens if O.is_ours(o.client_id)]
            await asyncio.wait_for(asyncio.gather(*(self.ad.cancel_order(self.client, self.symbol, o.id)
                                                    for o in mine), return_exceptions=True), 10.0)
            log.info("cancelled the bot's %d open orders", len(mine))
        except Exception as e:  # noqa: BLE001 - best effort on the way out; say what is left
            log.error("cancelling the bot's orders on exit failed (%s); check the exchange", X.describe(e))

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(LISTEN_KEY_EVERY)
            try:
                await self.ad.keep_alive(self.client)
            except Exception as e:  # noqa: BLE001 - the private stream reconnects with a new key if it expires
                log.warning("private stream keep-alive failed: %s", X.describe(e))

    # ---- what the user sees ---------------------------------------------------------------------
    def snapshot(self) -> dict:
        s = self.state
        bal = s.balance
        we = 0.0
        if self.mkt is not None and bal > 0:
            we = wallet_exposure(s.long_size, s.long_price, bal, self.mkt) + \
                wallet_exposure(s.short_size, s.short_price, bal, self.mkt)
        conn = "ok" if self.trusted and all(self.up.values()) else f"paused: {self.paused_why}"
        return {"symbol": self.market, "price": s.last, "long_size": s.long_size, "long_price": s.long_price,
                "short_size": s.short_size, "short_price": s.short_price, "balance": bal, "coin": self.ad.settle,
                "we": float(we), "orders": f"{len(self.orders)}" + (f" (+{self.foreign} not ours)" if self.foreign else ""),
                "last_fill": self.last_fill, "conn": conn}

    async def _status_loop(self) -> None:
        last_plain = -math.inf
        while True:
            line = status_line(self.snapshot())
            if self.paper is not None and self.paper.dirty and self.paper.mkt is not None:
                self._save_paper()
            if self.console is not None and self.console.tty:
                self.console.show(line)
            elif time.monotonic() - last_plain >= PLAIN_EVERY:
                log.info("status: %s", line)
                last_plain = time.monotonic()
            await asyncio.sleep(1.0)

    def _save_paper(self) -> bool:
        """Write the paper run's files; a failure is logged (and tried again at the next change)."""
        try:
            self.paper.save()
            return True
        except PassivxError as e:
            log.error("%s", e)
            self.paper.dirty = False  # tried again with the next change, not every second
            return False

    def _write_state(self) -> None:
        """The state file beside the log (atomic): the inputs and ideal orders of the last computation,
        and the bot's view now (position, balance, its open orders)."""
        if self.state_path is None:
            return
        from passivx.data.atomic import write_json_atomic

        def rows(orders) -> list[dict]:
            return [{"side": "buy" if o.side > 0 else "sell", "position_side": "long" if o.pos_side > 0 else "short",
                     "price": o.price, "qty": o.qty, "reduce_only": bool(o.reduce_only)} for o in orders]

        s = self.state
        st, want = self.computed
        write_json_atomic(self.state_path, {
            "time_ms": self.now_ms(), "market": self.spec.to_dict(), "inputs": s.describe(st) if len(st) else {},
            "ideal": rows(want),
            "position": {"long": [s.long_size, s.long_price], "short": [s.short_size, s.short_price]},
            "balance": s.balance, "open": rows(self.orders.values()), "trusted": self.trusted})

def _fmt(side: int, qty: float, price: float) -> str:
    return f"{'buy' if side > 0 else 'sell'} {qty:g} @ {price:g}"

