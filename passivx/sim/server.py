"""The simulated exchange's server: one aiohttp app on 127.0.0.1 speaking one exchange's dialect."""
from __future__ import annotations

import asyncio
import csv
import gzip
import itertools
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from aiohttp import WSMsgType, web

from passivx.markets import MarketSpec, canonical_exchange, snapshot_specs
from passivx.sim.book import Book
from passivx.sim.faults import Faults
from passivx.sim.limits import Windows

HOST = "127.0.0.1"
UNAVAILABLE_HTML = "<html><head><title>503 Service Temporarily Unavailable</title></head><body>" \
                   "<center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"
DEFAULT_SYMBOL = {"bybit": "BTCUSD", "binance": "BTCUSDT"}


@dataclass(eq=False)
class Conn:
    """One websocket client: its outgoing queue, its subscriptions and (private streams) its auth state."""

    ws: web.WebSocketResponse
    private: bool
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:20])
    topics: set[str] = field(default_factory=set)
    authed: bool = False
    combined: bool = False  # Binance /stream: pushes wrapped as {"stream", "data"}
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)

    def send(self, msg: str) -> None:
        self.queue.put_nowait(msg)


class SimExchange:
    """A simulated Bybit v5 inverse or Binance USDT-M futures exchange; see `passivx.sim` for the guide."""

    def __init__(self, exchange: str = "binance", symbol: str | None = None, api_key: str = "simkey",
                 api_secret: str = "simsecret", balance: float | None = None, price: float = 60000.0,
                 market: MarketSpec | None = None, leverage: float = 10.0, ws_heartbeat: float | None = None,
                 enforce_rate_limits: bool = False):
        exchange = canonical_exchange(exchange)
        if exchange not in DEFAULT_SYMBOL:
            raise ValueError(f"exchange must be 'bybit' or 'binance', got {exchange!r}")
        self.exchange = exchange
        self.symbol = (symbol or DEFAULT_SYMBOL[exchange]).upper()
        if market is None:
            specs = snapshot_specs(exchange)
            if self.symbol not in specs:
                raise ValueError(f"{exchange} {self.symbol}: not in the shipped snapshot; pass market=MarketSpec(...)")
            market = MarketSpec.from_dict(specs[self.symbol])
        if (exchange == "bybit") != market.inverse:
            kind = "inverse" if exchange == "bybit" else "linear"
            raise ValueError(f"{exchange}: the simulator serves {kind} markets only")
        self.api_key, self.api_secret = api_key, api_secret
        self.ws_heartbeat = ws_heartbeat
        self.limits = Windows() if enforce_rate_limits else None
        self.requests: list[tuple[str, str, bool]] = []
        self.faults = Faults(self._schedule_fault)
        self.conns: set[Conn] = set()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ids = itertools.count(1)
        if balance is None:
            balance = 0.05 if market.inverse else 10_000.0
        self.book = Book(spec=market, balance=float(balance), price=float(price), now_ms=self.now_ms,
                         new_order_id=self._new_order_id, leverage=float(leverage),
                         client_ids_reusable=exchange == "binance")
        if exchange == "bybit":
            from passivx.sim.bybit import Bybit as Dialect
        else:
            from passivx.sim.binance import Binance as Dialect
        self.dialect = Dialect(self)
        self.book.on_event = self.dialect.on_event

    # ---- clock and ids ---------------------------------------------------------------------------------
    def now_ms(self) -> int:
        """The server's clock (real time plus any injected skew), in ms."""
        return int(time.time() * 1000) + self.faults.clock_skew_ms

    def _new_order_id(self) -> str:
        return str(uuid.uuid4()) if self.exchange == "bybit" else str(8_000_000_000 + next(self._ids))

    # ---- lifecycle -------------------------------------------------------------------------------------
    async def start(self, port: int = 0) -> None:
        """Serve on 127.0.0.1:`port` (0: a free port, see `.port`) from the running event loop."""
        self._loop = asyncio.get_running_loop()
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(self.dialect.routes())
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Close every websocket and stop serving."""
        await asyncio.gather(*(c.ws.close(code=1001, message=b"server shutdown") for c in list(self.conns)))
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def env(self) -> dict[str, str]:
        """The PASSIVX_* environment variables that point passivx at this simulator."""
        return self.dialect.env(self.base_url, f"ws://{HOST}:{self.port}")

    # ---- thread-safe control (callable from any thread) ------------------------------------------------
    def call(self, fn: Callable, *args):
        """Run `fn(*args)` on the server's loop and return its result (directly when already on it)."""
        loop = self._loop
        if loop is None:
            return fn(*args)
        try:
            if asyncio.get_running_loop() is loop:
                return fn(*args)
        except RuntimeError:
            pass

        async def run():
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=30)

    def trade(self, price: float, qty: float, taker_side: str = "buy", ts_ms: int | None = None) -> None:
        """Publish one public trade; resting orders it crosses fill (pushes are queued before this returns)."""
        self.call(self.book.trade, price, qty, taker_side, ts_ms)

    def play(self, trades: Iterable[tuple], rate: float | None = None) -> int:
        """Publish (ts_ms, price, qty, taker_side) trades in order, `rate` per second (None: at once).
        Returns how many were published."""
        n = 0
        if rate is None:
            chunk: list[tuple] = []
            for t in trades:
                chunk.append(t)
                if len(chunk) == 500:
                    n += self.call(self._play_chunk, chunk)
                    chunk = []
            return n + (self.call(self._play_chunk, chunk) if chunk else 0)
        it, start = iter(trades), time.monotonic()
        while True:  # each round publishes, in one call, every trade due by now (high rates stay exact)
            wanted = int((time.monotonic() - start) * rate) + 1 - n
            if wanted <= 0:
                time.sleep(max(0.0, start + n / rate - time.monotonic()))
                continue
            chunk = list(itertools.islice(it, wanted))
            if chunk:
                n += self.call(self._play_chunk, chunk)
            if len(chunk) < wanted:
                return n

    def _play_chunk(self, chunk: list[tuple]) -> int:
        for ts, price, qty, side in chunk:
            self.book.trade(price, qty, side, ts)
        return len(chunk)

    def open_orders(self) -> list[dict]:
        return self.call(lambda: [o.as_dict() for o in self.book.open_orders()])

    def orders(self) -> list[dict]:
        """Every order ever booked (open, filled, cancelled), oldest first."""
        return self.call(lambda: [o.as_dict() for o in self.book.orders.values()])

    def positions(self) -> dict[str, tuple[float, float]]:
        """Position side -> (size, entry price); sizes signed (short < 0). 'BOTH' in one-way mode."""
        return self.call(lambda: {k: (v[0], v[1]) for k, v in self.book.positions.items()})

    def balance(self) -> float:
        return self.call(lambda: self.book.balance)

    def fills(self) -> list[dict]:
        return self.call(lambda: [f.as_dict() for f in self.book.fills])

    def wait_until(self, predicate: Callable[["SimExchange"], bool], timeout: float = 10.0) -> bool:
        """Poll `predicate(sim)` (from a thread other than the server's) until true; False after `timeout` s."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def set_position(self, size: float, price: float, side: str = "BOTH") -> None:
        """Start from an existing position (signed size), as if it had been opened before."""
        def apply():
            if side not in self.book.positions:
                raise ValueError(f"position side {side!r}: one of {sorted(self.book.positions)} in this mode")
            self.book.positions[side] = [float(size), float(price)]
            self.dialect.on_event("position", side)
        self.call(apply)

    # ---- faults that act on the loop ---------------------------------------------------------------
    def _schedule_fault(self, name: str, *args) -> None:
        action = getattr(self.dialect, "fault_" + name, None) or getattr(self, "_fault_" + name)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(action, *args)

    def _fault_drop_sockets(self, private: bool | None = None) -> None:
        for c in list(self.conns):
            if private is None or c.private == private:
                asyncio.ensure_future(c.ws.close(code=1001, message=b"going away"))

    # ---- HTTP plumbing ---------------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)
        self.requests.append((request.method, request.path, self.dialect.is_signed(request)))
        if self.faults.take("delay"):
            await asyncio.sleep(self.faults.delay_ms / 1000)
        if self.faults.take("rate_limit"):
            return self.dialect.rate_limit_response()
        if self.faults.take("server_error"):
            return web.Response(status=503, text=UNAVAILABLE_HTML, content_type="text/html")
        headers: dict[str, str] = {}
        if self.limits is not None:
            headers = self.dialect.limit_headers(request, self.limits, self.now_ms())
            if headers is None:
                return self.dialect.rate_limit_response()
        response = await handler(request)
        response.headers.update(headers)
        return response

    async def serve_ws(self, request: web.Request, private: bool, topics: Iterable[str] = (), authed: bool = False,
                       combined: bool = False) -> web.WebSocketResponse:
        """Run one websocket: queue-driven sender, incoming text to `dialect.on_ws_message`."""
        ws = web.WebSocketResponse(heartbeat=self.ws_heartbeat, autoping=False, timeout=2.0, compress=False)
        await ws.prepare(request)
        conn = Conn(ws=ws, private=private, topics=set(topics), authed=authed,
                    combined=combined)
        self.conns.add(conn)
        sender = asyncio.ensure_future(self._sender(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self.dialect.on_ws_message(conn, msg.data)
                elif msg.type == WSMsgType.PING and not self.faults.muted():
                    await ws.pong(msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.conns.discard(conn)
            sender.cancel()
        return ws

    async def _sender(self, conn: Conn) -> None:
        while True:
            msg = await conn.queue.get()
            if conn.ws.closed:
                return
            if self.faults.muted():
                continue
            try:
                await conn.ws.send_str(msg)
            except ConnectionError:
                return

    def listeners(self, topic: str | None = None, private: bool = False) -> list[Conn]:
        """Open connections of that kind subscribed to `topic` (None: all of them)."""
        return [c for c in self.conns if c.private == private and (topic is None or topic in c.topics)
                and (c.authed or not private)]

    def broadcast(self, msg: str | Callable[[], str], topic: str | None = None, private: bool = False) -> None:
        """Queue `msg` (or `msg()`, built only when someone listens) to `listeners(topic, private)`."""
        conns = self.listeners(topic, private)
        if conns:
            text = msg if isinstance(msg, str) else msg()
            for c in conns:
                c.send(text)


@contextmanager
def run_in_thread(sim: SimExchange, port: int = 0) -> Iterator[SimExchange]:
    """Serve `sim` from a background thread for the duration of the `with` block; yields the sim."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    error: list[BaseException] = []

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(sim.start(port))
        except BaseException as e:  # reported to the caller below
            error.append(e)
            ready.set()
            return
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=main, name=f"sim-{sim.exchange}", daemon=True)
    thread.start()
    ready.wait(30)
    if error:
        thread.join(5)
        loop.close()
        raise error[0]
    try:
        yield sim
    finally:
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        sim._loop = None


def read_trades(path: str | Path) -> Iterator[tuple[int, float, float, str]]:
    """(ts_ms, price, qty, taker_side) rows of a normalised trades CSV (`../shared/data/trades`, .gz ok)."""
    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt", newline="") as f:
        for row in csv.DictReader(f):
            yield int(row["ts_ms"]), float(row["price"]), float(row["qty"]), row["side"]
