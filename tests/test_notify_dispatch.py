"""Notifications sent through apprise to a local HTTP endpoint (`json://127.0.0.1:PORT/...`): routing by
event, batching and throttling of fills, and a dead target that never blocks the sender."""
from __future__ import annotations

import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from passivx.notify.config import DEFAULT_EVENTS, Target
from passivx.notify.dispatch import Dispatcher


class Receiver:
    """A local HTTP endpoint recording what apprise's json:// posts: (path, title, message, time)."""

    def __init__(self):
        self.got: list[tuple[str, str, str, float]] = []
        lock, got = threading.Lock(), self.got

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    got.append((self.path, body["title"], body["message"], time.monotonic()))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def at(self, path: str) -> list[tuple[str, str, float]]:
        return [g[1:] for g in list(self.got) if g[0] == "/" + path]

    def wait(self, cond, timeout: float = 10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return True
            time.sleep(0.05)
        raise AssertionError(f"timed out; received {self.got}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class BlackHole:
    """A TCP endpoint that accepts connections and never answers (a hung notification service)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def target(url: str, events=DEFAULT_EVENTS) -> Target:
    return Target(url, frozenset(events), url)


def test_events_go_only_to_the_targets_that_want_them(receiver):
    d = Dispatcher([target(receiver.url("all"), {"start", "fills", "stop"}), target(receiver.url("default"))],
                   logging.getLogger("test"), batch_seconds=0.5, gather_seconds=0.1)
    d.send("start", "bot: started", "trading")
    d.send("fills", "bot: fills", "buy 1 @ 100")
    d.send("stop", "bot: stopped", "bye")
    d.close(5)
    assert sorted(t for t, _, _ in receiver.at("all")) == ["bot: fills (1)", "bot: started", "bot: stopped"]
    assert [t for t, _, _ in receiver.at("default")] == ["bot: started", "bot: stopped"]


def test_fills_are_batched_and_throttled(receiver):
    d = Dispatcher([target(receiver.url("f"), {"fills"})], logging.getLogger("test"), batch_seconds=1.5,
                   gather_seconds=0.3)
    for i in range(10):
        d.send("fills", "bot: fills", f"fill {i}")
    receiver.wait(lambda: len(receiver.at("f")) == 1)
    for i in range(10, 15):
        d.send("fills", "bot: fills", f"fill {i}")
    receiver.wait(lambda: len(receiver.at("f")) == 2)
    (t1, m1, at1), (t2, m2, at2) = receiver.at("f")
    assert (t1, t2) == ("bot: fills (10)", "bot: fills (5)")
    assert m1.splitlines() == [f"fill {i}" for i in range(10)]
    assert m2.splitlines() == [f"fill {i}" for i in range(10, 15)]
    assert at2 - at1 >= 1.4  # the second batch waited for the throttle interval
    d.close(2)


def test_a_dead_target_never_blocks_the_sender_and_is_logged_once(receiver, caplog):
    hole = BlackHole()
    log = logging.getLogger("passivx.test.notify")
    try:
        d = Dispatcher([target(f"json://127.0.0.1:{hole.port}/x"), target(receiver.url("ok"))], log,
                       timeout=0.5, gather_seconds=0.1)
        t0 = time.monotonic()
        for i in range(50):
            d.send("errors", "bot: errors", f"error {i}")
            d.send("start", "bot: started", f"start {i}")
        assert time.monotonic() - t0 < 0.1  # sending only queues
        receiver.wait(lambda: len(receiver.at("ok")) >= 51)  # the live target is not held up by the dead one
        with caplog.at_level(logging.INFO, logger="passivx.test.notify"):
            time.sleep(2.0)  # several deliveries to the dead target time out meanwhile
        t0 = time.monotonic()
        d.close(1.0)
        assert time.monotonic() - t0 < 1.5
        failed = [r for r in caplog.records if "failed" in r.getMessage()]
        assert len(failed) == 1 and f"127.0.0.1:{hole.port}" in failed[0].getMessage()
    finally:
        hole.close()
