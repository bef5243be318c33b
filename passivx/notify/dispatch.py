"""Sending, off the caller's thread: one daemon worker per target, so a slow or dead target delays
nothing but itself. `send` only queues (bounded: the oldest message goes when `MAX_QUEUE` wait); each
delivery has apprise's connect and read timeouts set to `timeout` (unless the URL sets `cto` / `rto`).
Batched events (`fills`, `errors`) are gathered for `gather_seconds` and sent at most once per
`batch_seconds` as one message. A failing target is logged once, and once more when it works again."""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque

from passivx.notify.config import Target

BATCHED = ("fills", "errors")
MAX_QUEUE = 100
MAX_BATCH = 50  # lines per batched message; the rest are counted
logging.getLogger("apprise").addHandler(logging.NullHandler())  # apprise's own messages may name targets


class Dispatcher:
    """Routes each event to the targets that want it."""

    def __init__(self, targets: tuple[Target, ...] | list[Target], log: logging.Logger, batch_seconds: float = 60.0,
                 timeout: float = 10.0, gather_seconds: float = 2.0):
        self.workers = [_Worker(t, log, batch_seconds, timeout, gather_seconds) for t in targets]
        for w in self.workers:
            w.start()

    def send(self, event: str, title: str, body: str) -> None:
        """Queue one message; never blocks on a target."""
        for w in self.workers:
            if event in w.target.events:
                w.put(event, title, body)

    def close(self, wait: float = 3.0) -> None:
        """Send what is queued or batched now, waiting at most `wait` seconds in all."""
        end = time.monotonic() + wait
        for w in self.workers:
            w.finish()
        for w in self.workers:
            w.join(max(0.0, end - time.monotonic()))


class _Worker(threading.Thread):
    def __init__(self, target: Target, log: logging.Logger, batch_seconds: float, timeout: float, gather: float):
        super().__init__(daemon=True, name=f"passivx-notify-{target.label.split(':', 1)[0]}")
        self.target, self.log, self.timeout = target, log, timeout
        self.batch_seconds, self.gather = batch_seconds, gather
        self.cond = threading.Condition()
        self.queue: deque[tuple[str, str]] = deque(maxlen=MAX_QUEUE)
        self.batches: dict[str, tuple[str, list[str]]] = {}
        self.dropped = {e: 0 for e in BATCHED}
        self.last_sent = {e: -math.inf for e in BATCHED}
        self.due = {e: math.inf for e in BATCHED}
        self.closing = False
        self.failing = False

    def put(self, event: str, title: str, body: str) -> None:
        with self.cond:
            if event in BATCHED:
                lines = self.batches.setdefault(event, (title, []))[1]
                if not lines:
                    self.due[event] = max(time.monotonic() + self.gather, self.last_sent[event] + self.batch_seconds)
                if len(lines) < MAX_BATCH:
                    lines.append(body)
                else:
                    self.dropped[event] += 1
            else:
                self.queue.append((title, body))
            self.cond.notify()

    def finish(self) -> None:
        with self.cond:
            self.closing = True
            self.cond.notify()

    def run(self) -> None:
        import apprise

        # the plugin itself, called in this thread: apprise's own thread pools would hold the process at exit
        plugin = apprise.Apprise.instantiate(self.target.url)
        if "cto=" not in self.target.url and hasattr(plugin, "socket_connect_timeout"):
            plugin.socket_connect_timeout = self.timeout
        if "rto=" not in self.target.url and hasattr(plugin, "socket_read_timeout"):
            plugin.socket_read_timeout = self.timeout
        while True:
            with self.cond:
                while not (self.queue or self.closing or min(self.due.values()) <= time.monotonic()):
                    self.cond.wait(min(self.due.values()) - time.monotonic() if min(self.due.values()) < math.inf
                                   else None)
                items = list(self.queue)
                self.queue.clear()
                items += self._due_batches()
                closing = self.closing
            for title, body in items:
                self._deliver(plugin, title, body)
            if closing:
                return

    def _due_batches(self) -> list[tuple[str, str]]:
        out, now = [], time.monotonic()
        for event, (title, lines) in list(self.batches.items()):
            if lines and (self.closing or self.due[event] <= now):
                more = self.dropped[event]
                body = "\n".join(lines) + (f"\n... and {more} more" if more else "")
                out.append((f"{title} ({len(lines) + more})", body))
                del self.batches[event]
                self.dropped[event], self.last_sent[event], self.due[event] = 0, now, math.inf
        return out

    def _deliver(self, plugin, title: str, body: str) -> None:
        try:
            ok = bool(plugin.notify(body=body, title=title))
        except Exception:  # noqa: BLE001 - a notification must never take the bot down
            ok = False
        if ok and self.failing:
            self.log.info("notifications to %s work again", self.target.label)
        elif not ok and not self.failing:
            self.log.warning("notification to %s failed (not logged again until it works); trading goes on",
                             self.target.label)
        self.failing = not ok
