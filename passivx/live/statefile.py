"""The monitoring state file of a running bot, and its notifications.

`StateFile(engine)` writes `state/{exchange}/{instance}.json` (instance: the config name, `.paper`
added for paper trading; schema `passivx.state` version `VERSION`, documented in `docs/state-schema.md`)
about once a second, atomically, from a worker thread, and `{instance}.history.json` beside it (a point
a minute and one per fill, the last day) when it changed. It keeps what the engine does not: realised
PnL and fees of the bot's fills (today in UTC and since start; today's carried over from the previous
file on a restart the same day), the last fills, and the warnings and errors of the last hour (from the
`passivx.live` log, masked like it). It feeds `passivx.notify` (targets from `notifications.json` /
`PASSIVX_NOTIFY_URLS`).

The engine calls `start()` and `close()` around its run, `fill(ev)` for each fill of its own and
`stream(name, up)` when a stream connects or drops; nothing here sends requests or blocks the loop.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import socket
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from passivx.calc import contracts as C
from passivx.calc import layout as L
from passivx.data.atomic import write_json_atomic
from passivx.live import orders as O
from passivx.live.keys import SecretFilter

SCHEMA = "passivx.state"
VERSION = 1
EVERY_S = 1.0
DEFAULT_DANGER_DISTANCE = 0.05
HISTORY_EVERY_MS = 60_000
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MAX_FILLS = 20
MAX_RECENT_ERRORS = 20
log = logging.getLogger("passivx.live")


def _py(f):
    """The plain-Python body of a calculator function (no compile on the event loop; same formula)."""
    return getattr(f, "py_func", f)


_pnl, _cost, _we, _liq = _py(C.pnl), _py(C.qty_to_cost), _py(C.wallet_exposure), _py(C.liquidation_price)


def state_paths(root: str | Path, exchange: str, instance: str) -> tuple[Path, Path]:
    """(state file, history file) of one instance (its config name, `.paper` added for paper trading)."""
    folder = Path(root) / exchange
    return folder / f"{instance}.json", folder / f"{instance}.history.json"


def _finite(x: float) -> float | None:
    """JSON has no infinity (a position without balance has an infinite wallet exposure)."""
    return float(x) if math.isfinite(x) else None


def utc_day(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d")


class StateFile:
    """State file, history and notifications of one engine (`passivx.live.engine.Engine`)."""

    def __init__(self, engine, root: str | Path = "state", notifications: str | Path = "notifications.json"):
        from passivx.notify import Dispatcher, Watcher, load_settings

        settings = load_settings(notifications)
        self.e = engine
        self.paper = getattr(engine, "paper", None) is not None
        self.instance = engine.config.config_name + (".paper" if self.paper else "")
        self.path, self.history_path = state_paths(root, engine.ad.name, self.instance)
        self.started_ms = time.time() * 1000
        self.fills: deque[dict] = deque(maxlen=MAX_FILLS)
        self.recent: deque[dict] = deque()  # warnings and errors of the last hour
        self.reconnects = 0
        self.connected: set[str] = set()
        self.pos_price = {1: 0.0, -1: 0.0}  # last known position prices (a close's PnL when the push came first)
        self.pnl = {"day": utc_day(self.started_ms), "realized_today": 0.0, "fees_today": 0.0, "fills_today": 0,
                    "realized_total": 0.0, "fees_total": 0.0, "fills_total": 0}
        self.history: list[list[float]] = []
        self._resume()
        self.history_due = True
        self.history_dirty = False
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="passivx-state")
        self.task: asyncio.Task | None = None
        self.recorder = _Recorder(self, SecretFilter(tuple(engine.keys)))
        log.addHandler(self.recorder)
        self.watcher = None
        if settings.targets:
            name = f"{engine.ad.name} {self.instance}"
            self.watcher = Watcher(Dispatcher(settings.targets, log, settings.batch_seconds), settings, name)
            log.info("notifications to %s", ", ".join(t.label for t in settings.targets))

    def _resume(self) -> None:
        """Today's PnL and the last day's history from the files of a previous run."""
        try:
            old = json.loads(self.path.read_text(encoding="utf-8"))
            if old.get("version") == VERSION and old["pnl"]["day"] == self.pnl["day"]:
                for k in ("realized_today", "fees_today", "fills_today"):
                    self.pnl[k] = old["pnl"][k]
            points = json.loads(self.history_path.read_text(encoding="utf-8"))["points"]
            self.history = [p for p in points if p[0] >= self.started_ms - DAY_MS]
        except (OSError, ValueError, KeyError, TypeError):
            pass

    # ---- hooks ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start writing (call inside the running event loop)."""
        self.task = asyncio.get_running_loop().create_task(self._run())

    def fill(self, ev) -> None:
        """A fill of the bot's own order (`passivx.exchanges.base.Fill`): PnL, fees, last fills."""
        e, mkt = self.e, self.e.mkt
        self._remember_positions()
        kind, pos_side = O.kind_of(ev.client_id) or (L.K_ENTRY, ev.side)
        now = ev.ts_ms or time.time() * 1000
        pnl = fee = 0.0
        if mkt is not None:
            if kind != L.K_ENTRY:
                price = (e.state.long_price if pos_side > 0 else e.state.short_price) or self.pos_price[pos_side]
                pnl = _pnl(float(pos_side), price, ev.price, ev.qty, mkt) if price else 0.0
            market = kind == L.K_STOP_LOSS and e.mode == L.MODE_CLASSIC and e.cfg[L.C_MARKET_SL] != 0.0
            fee = _cost(ev.qty, ev.price, mkt) * (mkt[L.M_TAKER_FEE] if market else mkt[L.M_MAKER_FEE])
        self._roll(now)
        for period in ("today", "total"):
            self.pnl[f"realized_{period}"] += pnl
            self.pnl[f"fees_{period}"] += fee
            self.pnl[f"fills_{period}"] += 1
        rec = {"ts_ms": now, "side": "buy" if ev.side > 0 else "sell", "position_side": "long" if pos_side > 0
               else "short", "kind": L.KIND_NAMES[kind], "price": ev.price, "qty": ev.qty, "realized_pnl": pnl,
               "fee": fee, "client_id": ev.client_id}
        self.fills.append(rec)
        self.history_due = True
        if self.watcher:
            self.watcher.fill(rec)

    def stream(self, name: str, up: bool) -> None:
        """A stream connected (`up`) or dropped."""
        if up and name in self.connected:
            self.reconnects += 1
        self.connected.add(name)
        if self.watcher:
            self.watcher.stream(name, up, time.time() * 1000)

    def close(self) -> None:
        """The last state (`stopped_ms`, and the reason when an exception is on its way out), the stop
        notification; waits a few seconds at most."""
        if self.task:
            self.task.cancel()
        log.removeHandler(self.recorder)
        exc = sys.exc_info()[1]
        reason = "" if exc is None or isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError)) else str(exc)
        snap = self.snapshot()
        snap["stopped_ms"], snap["stop_reason"] = snap["heartbeat_ms"], reason
        self.pool.submit(self._write, snap, self._new_history())
        self.pool.shutdown(wait=True)
        if self.watcher:
            self.watcher.close(snap, reason)
            self.watcher.d.close(wait=3.0)

    # ---- writing --------------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        failed = False
        while True:
            try:
                snap = self.snapshot()
                if self.watcher:
                    self.watcher.observe(snap)
                await loop.run_in_executor(self.pool, self._write, snap, self._new_history())
            except Exception:  # a bug here must not touch trading (the heartbeat then goes stale)
                if not failed:
                    log.exception("state file update failed")
                failed = True
            await asyncio.sleep(EVERY_S)

    def _new_history(self) -> list | None:
        """The history points to write with the next state (None: unchanged)."""
        if not self.history_dirty:
            return None
        self.history_dirty = False
        return list(self.history)

    def _write(self, snap: dict, points: list | None = None) -> None:
        """The history first, so a reader who saw a state finds its history point."""
        try:
            if points is not None:
                write_json_atomic(self.history_path, {"schema": SCHEMA + ".history", "version": VERSION,
                                                      "points": points})
            write_json_atomic(self.path, snap)
        except OSError as e:
            log.warning("state file %s: %s", self.path, e)

    def _roll(self, now_ms: float) -> None:
        day = utc_day(now_ms)
        if day != self.pnl["day"]:
            self.pnl.update(day=day, realized_today=0.0, fees_today=0.0, fills_today=0)

    def snapshot(self) -> dict:
        """The state file's content now (see docs/state-schema.md)."""
        e, s, mkt = self.e, self.e.state, self.e.mkt
        now = time.time() * 1000
        self._roll(now)
        while self.recent and self.recent[0]["ts_ms"] < now - HOUR_MS:
            self.recent.popleft()
        recent = list(self.recent)  # the recorder may append from another thread
        self._remember_positions()
        bal, last = s.balance, s.last
        upnl = we_long = we_short = 0.0
        liq = dist = None
        sides = ((s.long_size, s.long_price), (s.short_size, s.short_price))
        if mkt is not None and last > 0 and all(price > 0 for size, price in sides if size):
            upnl = sum(_pnl(size, price, last, size, mkt) for size, price in sides if size)
            we_long, we_short = (_finite(_we(size, price, bal, mkt)) for size, price in sides)
            liq = _liq(bal, s.long_size, s.long_price, s.short_size, s.short_price, mkt) or None
            dist = abs(last - liq) / last if liq else None
        due = self.history_due or not self.history or now - self.history[-1][0] >= HISTORY_EVERY_MS
        if last > 0 and bal > 0 and due:
            self.history.append([now, last, bal + upnl, s.long_size, s.short_size])
            while self.history and self.history[0][0] < now - DAY_MS:
                self.history.pop(0)
            self.history_due, self.history_dirty = False, True
        errors = sum(r["level"] in ("ERROR", "CRITICAL") for r in recent)
        return {
            "schema": SCHEMA, "version": VERSION, "instance": self.instance, "exchange": e.ad.name,
            "config_name": e.config.config_name, "symbol": e.market, "strategy": e.config.mode,
            "mode": "paper" if self.paper else "live",
            "testnet": e.testnet, "pid": os.getpid(), "host": socket.gethostname(), "started_ms": self.started_ms,
            "heartbeat_ms": now, "stopped_ms": None, "stop_reason": "",
            "connection": {"public": e.up["public"], "private": e.up["private"], "trusted": e.trusted,
                           "trading": bool(e.trusted and all(e.up.values())),
                           "paused": "" if e.trusted else e.paused_why,
                           "reconnects": self.reconnects},
            "coin": e.ad.settle, "price": last, "best_bid": s.bid, "best_ask": s.ask, "balance": bal,
            "equity": bal + upnl, "unrealized_pnl": upnl,
            "positions": {"long": {"size": s.long_size, "price": s.long_price, "wallet_exposure": we_long},
                          "short": {"size": s.short_size, "price": s.short_price, "wallet_exposure": we_short}},
            "liquidation": {"price": liq, "distance": dist, "danger_distance": self.danger_distance()},
            "open_orders": sorted(({"side": "buy" if o.side > 0 else "sell",
                                    "position_side": "long" if o.pos_side > 0 else "short",
                                    "kind": L.KIND_NAMES[(O.kind_of(o.client_id) or (L.K_ENTRY, 0))[0]],
                                    "price": o.price, "qty": o.qty, "reduce_only": bool(o.reduce_only),
                                    "client_id": o.client_id} for o in e.orders.values()),
                                  key=lambda o: -o["price"]),
            "foreign_orders": e.foreign,
            "last_fills": list(self.fills),
            "pnl": dict(self.pnl),
            "errors": {"last_hour": errors, "warnings_last_hour": len(recent) - errors,
                       "recent": recent[-MAX_RECENT_ERRORS:]},
            "log_path": self.recorder.log_path(),
            "history_path": str(self.history_path.resolve()),
        }

    def _remember_positions(self) -> None:
        s = self.e.state
        for side, size, price in ((1, s.long_size, s.long_price), (-1, s.short_size, s.short_price)):
            if size:
                self.pos_price[side] = price

    def danger_distance(self) -> float:
        """Classic: the config's `stop_loss_liq_diff` (when > 0); otherwise `DEFAULT_DANGER_DISTANCE`."""
        d = self.e.config.data.get("stop_loss_liq_diff", 0.0) if self.e.config.mode == "classic" else 0.0
        return float(d) if d > 0 else DEFAULT_DANGER_DISTANCE


class _Recorder(logging.Handler):
    """Keeps the bot's warnings and errors (masked) for the state file; hands errors to notifications."""

    def __init__(self, owner: StateFile, mask: SecretFilter):
        super().__init__(logging.WARNING)
        self.owner = owner
        self.addFilter(mask)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().splitlines()[0][:300]
        self.owner.recent.append({"ts_ms": record.created * 1000, "level": record.levelname, "message": message})
        if record.levelno >= logging.ERROR and self.owner.watcher:
            self.owner.watcher.error(message)

    @staticmethod
    def log_path() -> str | None:
        """The bot's log file (its `passivx.live` file handler), absolute."""
        return next((h.baseFilename for h in log.handlers if isinstance(h, logging.FileHandler)), None)
