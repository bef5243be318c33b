"""The monitor's access rules: loopback by default, a token required elsewhere, the token on every request
(header, or once as ?token= then a cookie that is not the token), read-only, and only the bot's own log."""
from __future__ import annotations

import asyncio
import json
import socket

from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from passivx.cli import main
from passivx.monitor import instances as I
from passivx.monitor.server import make_app

TOKEN = "t0ken-for-tests-123"


def test_binding_beyond_loopback_needs_a_token(monkeypatch):
    monkeypatch.delenv("PASSIVX_MONITOR_TOKEN", raising=False)
    for host in ("0.0.0.0", "192.0.2.7", "myhost.example", "::"):
        r = CliRunner().invoke(main, ["monitor", "--host", host])
        assert r.exit_code == 1 and r.output.startswith(f"error: --host {host} makes the monitor reachable"), r.output


def test_a_short_token_is_refused(monkeypatch):
    monkeypatch.setenv("PASSIVX_MONITOR_TOKEN", "short")
    r = CliRunner().invoke(main, ["monitor"])
    assert r.exit_code == 1 and r.output.startswith("error: the monitor token must have at least 16 characters")
    assert "short" not in r.output  # the token itself is not echoed


def test_a_port_in_use_is_one_error_line():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = CliRunner().invoke(main, ["monitor", "--port", str(s.getsockname()[1])])
    assert r.exit_code == 1 and r.output.splitlines()[-1].startswith("error: cannot listen on 127.0.0.1:")


def test_token_cookie_and_read_only(tmp_path):
    async def go():
        async with TestClient(TestServer(make_app(tmp_path, TOKEN))) as c:
            assert (await c.get("/api/instances")).status == 401
            r = await c.get(f"/?token={TOKEN}&x=1", allow_redirects=False)
            assert r.status == 302 and r.headers["Location"] == "/?x=1"
            cookie = r.cookies["passivx_monitor"]
            assert TOKEN not in cookie.value and cookie["httponly"] and cookie["samesite"] == "Strict"
            r = await c.get("/api/instances")  # the client's cookie jar now carries it
            assert r.status == 200 and await r.json() == []
            assert (await c.post("/api/instances")).status == 405
            assert (await c.delete("/metrics")).status == 405
            c.session.cookie_jar.clear()
            assert (await c.get("/metrics")).status == 401
            r = await c.get("/", headers={"Authorization": f"bearer {TOKEN}"})
            assert r.status == 200 and "Content-Security-Policy" in r.headers
        async with TestClient(TestServer(make_app(tmp_path, None))) as c:  # no token: open (loopback only)
            assert (await c.get("/api/instances")).status == 200
    asyncio.run(go())


def test_only_the_bots_own_log_is_read(tmp_path):
    log = tmp_path / "logs" / "bybit" / "X.log"
    log.parent.mkdir(parents=True)
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    other = tmp_path / "secret.txt"
    other.write_text("do not show")
    state = {"exchange": "bybit", "instance": "X", "log_path": str(log)}
    assert I.log_tail(state) == [f"line {i}" for i in range(100 - I.LOG_TAIL_LINES, 100)]
    assert I.log_tail({**state, "log_path": str(other)}) == []
    assert I.history({**state, "history_path": str(other)}) == []
    json.dumps(I.log_tail(state))
