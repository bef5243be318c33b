"""Monitoring end to end: `passivx live` (a subprocess) against the simulated exchange writes its state file;
`passivx status` reads it; `passivx monitor` serves it to a real headless Chromium, as JSON and as Prometheus
metrics, behind a token; notifications reach a local HTTP endpoint. A second bot whose notification target
never answers trades as quickly as ever.

The browser is Debian's `chromium` (installed by `.ci/run`). PASSIVX_UPDATE_SCREENSHOT=1 copies the
browser's screenshot to docs/monitor.png (the README's picture).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from passivx.sim import SimExchange, run_in_thread
from test_live_e2e import KEY, MAIN, ROOT, SECRET, Bot, bot_orders, clock_off_bot, config, quiet, wait_for
from test_notify_dispatch import BlackHole, Receiver

TOKEN = "monitor-token-0123456789"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def state(work: Path, exchange: str, name: str) -> dict:
    return json.loads((work / "state" / exchange / f"{name}.json").read_text())


def passivx(work: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(MAIN), *args], cwd=work, capture_output=True, text=True, timeout=60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, headers: dict | None = None, method: str = "GET") -> tuple[int, str, dict]:
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


def chromium(*args: str) -> str:
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--no-first-run", "--hide-scrollbars", "--virtual-time-budget=8000", *args],
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def check_state_while_trading(bot: Bot, s, work: Path) -> tuple[dict, dict]:
    """The state file follows the bot: orders, a fill, position, liquidation, PnL and fees (against the sim)."""
    st = wait_for("a trading state file with the first grid", lambda: (d := state(work, "bybit", bot.name))
                  ["connection"]["trading"] and d["open_orders"] and len(d["open_orders"]) == len(bot_orders(s)) and d,
                  bot)
    assert (st["schema"], st["version"], st["pid"], st["exchange"], st["instance"], st["config_name"], st["symbol"],
            st["mode"], st["strategy"]) == ("passivx.state", 1, bot.proc.pid, "bybit", "BTCUSD_default",
                                            "BTCUSD_default", "BTCUSD", "live", "classic")
    assert {(o["side"], o["price"], o["qty"]) for o in st["open_orders"]} == \
        {(o["side"], o["price"], o["qty"]) for o in bot_orders(s)}
    assert st["balance"] == pytest.approx(s.balance()) and st["positions"]["long"]["size"] == 0
    time.sleep(1.5)
    assert state(work, "bybit", bot.name)["heartbeat_ms"] > st["heartbeat_ms"]  # written about once a second

    entry = max((o for o in bot_orders(s) if o["side"] == "buy"), key=lambda o: o["price"])
    s.trade(entry["price"] - 0.5, entry["qty"] * 2, "sell")
    st = wait_for("the long position in the state file", lambda: (d := state(work, "bybit", bot.name))
                  ["positions"]["long"]["size"] == entry["qty"] and d["pnl"]["fills_total"] == 1 and d, bot)
    (fill,) = st["last_fills"]
    assert (fill["side"], fill["kind"], fill["position_side"], fill["price"], fill["qty"]) == \
        ("buy", "entry", "long", entry["price"], entry["qty"])
    spec = bot.state()["market"]  # fees are estimated at the market's rates (fills carry no fee)
    maker_fee = lambda f: f["qty"] * spec["c_mult"] / f["price"] * spec["maker_fee"]  # noqa: E731 (inverse)
    assert st["pnl"]["fees_total"] == pytest.approx(maker_fee(entry), rel=1e-9) and fill["fee"] > 0
    assert st["positions"]["long"]["price"] == pytest.approx(s.positions()["BOTH"][1])
    from passivx.calc.contracts import liquidation_price, pnl
    from passivx.markets import MarketSpec

    mkt = MarketSpec(**spec).to_array()
    pos = st["positions"]["long"]
    liq = liquidation_price(st["balance"], pos["size"], pos["price"], 0.0, 0.0, mkt)
    assert st["liquidation"]["price"] == pytest.approx(liq) and liq > 0
    assert st["liquidation"]["distance"] == pytest.approx(abs(st["price"] - liq) / st["price"])
    assert st["equity"] == pytest.approx(st["balance"] + pnl(pos["size"], pos["price"], st["price"], pos["size"], mkt))

    # a take-profit fills: realised PnL and fees as the exchange books them
    close = wait_for("take-profit orders", lambda: min((o for o in bot_orders(s) if o["reduce_only"]),
                                                       key=lambda o: o["price"], default=None), bot)
    s.trade(close["price"] + 0.5, close["qty"] * 2, "buy")
    st = wait_for("the close in the state file", lambda: (d := state(work, "bybit", bot.name))
                  ["pnl"]["fills_total"] == 2 and d, bot)
    sim_close = s.fills()[-1]
    assert st["last_fills"][-1]["kind"] == "close" and st["last_fills"][-1]["realized_pnl"] > 0
    assert st["pnl"]["realized_total"] == pytest.approx(sim_close["realized_pnl"], rel=1e-9)
    assert st["pnl"]["realized_today"] == st["pnl"]["realized_total"]
    assert st["pnl"]["fees_total"] == pytest.approx(maker_fee(entry) + maker_fee(close), rel=1e-9)
    hist = json.loads(Path(st["history_path"]).read_text())["points"]
    assert len(hist) >= 3 and any(p[3] == entry["qty"] for p in hist)
    # and a position again, for status and the page
    entry = max((o for o in bot_orders(s) if o["side"] == "buy"), key=lambda o: o["price"])
    s.trade(entry["price"] - 0.5, entry["qty"] * 2, "sell")
    st = wait_for("the new position", lambda: (d := state(work, "bybit", bot.name))["positions"]["long"]["size"]
                  == entry["qty"] and d["pnl"]["fills_total"] == 3 and d, bot)
    return st, entry


def check_status(work: Path, st: dict) -> None:
    r = passivx(work, "status", "--json")
    assert r.returncode == 0, r.stderr
    (inst,) = json.loads(r.stdout)
    assert inst["status"] == "alive" and inst["symbol"] == "BTCUSD" and inst["heartbeat_age_s"] < 5
    r = passivx(work, "status")
    header, line = r.stdout.splitlines()[:2]
    assert header.split()[:5] == ["STATUS", "EXCHANGE", "INSTANCE", "MODE", "SYMBOL"]
    assert line.split()[:5] == ["alive", "bybit", "BTCUSD_default", "live", "BTCUSD"]
    pos = st["positions"]["long"]
    if pos["size"]:
        assert f"long {pos['size']:g}@{pos['price']:g}" in line
    assert "\x1b[" not in r.stdout  # no colour codes when the output is not a terminal


def check_monitor(work: Path, st: dict, shots: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    mon = subprocess.Popen([sys.executable, str(MAIN), "monitor", "--port", str(port)], cwd=work, text=True,
                           env={**os.environ, "PASSIVX_MONITOR_TOKEN": TOKEN}, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + 30
        while True:
            try:
                get(base + "/metrics")
                break
            except OSError:
                assert time.monotonic() < end and mon.poll() is None, "the monitor did not start"
                time.sleep(0.2)
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        # the token is checked on every request, the JSON and the metrics included
        for path in ("/", "/app.js", "/api/instances", "/api/instances/bybit/BTCUSD_default", "/metrics"):
            assert get(base + path)[0] == 401
            assert get(base + path, {"Authorization": "Bearer wrong"})[0] == 401
            assert get(base + path + "?token=wrong")[0] == 401
            assert get(base + path, bearer)[0] == 200
        code, body, headers = get(base + "/metrics?token=" + TOKEN)
        assert code == 200 and "passivx_monitor=" in headers.get("Set-Cookie", "")
        assert get(base + "/api/instances", bearer, method="POST")[0] == 405  # read-only
        code, body, _ = get(base + "/api/instances", bearer)
        (inst,) = json.loads(body)
        assert inst["status"] == "alive" and inst["symbol"] == "BTCUSD"
        code, body, _ = get(base + "/api/instances/bybit/BTCUSD_default", bearer)
        detail = json.loads(body)
        assert detail["history"] and any("fill: buy" in line for line in detail["log_tail"])

        _, text, headers = get(base + "/metrics", bearer)
        assert headers["Content-Type"].startswith("text/plain")
        metrics = {(s.name, s.labels.get("side") or s.labels.get("period")): s.value
                   for fam in text_string_to_metric_families(text) for s in fam.samples}
        assert all(name.startswith("passivx_") for name, _ in metrics)
        now = state(work, "bybit", "BTCUSD_default")
        assert metrics[("passivx_up", None)] == 1.0 and metrics[("passivx_trading", None)] == 1.0
        assert metrics[("passivx_position_size", "long")] == now["positions"]["long"]["size"]
        assert metrics[("passivx_realized_pnl", "since_start")] == pytest.approx(now["pnl"]["realized_total"])
        assert metrics[("passivx_open_orders", None)] == len(now["open_orders"])
        dist = now["liquidation"]["distance"]  # exported only while there is a liquidation price
        assert metrics.get(("passivx_liquidation_distance_ratio", None)) == (dist and pytest.approx(dist, rel=0.05))

        # a real browser: ?token= once, then the cookie carries the page's own requests
        if CHROMIUM is None:
            pytest.fail("chromium is not installed (bash .ci/run installs it)")
        dom = chromium("--dump-dom", f"{base}/?token={TOKEN}")
        card = re.search(r'<section class="card[^"]*" data-instance="bybit/BTCUSD_default">.*?</section>', dom, re.S)
        assert card, dom[-3000:]
        text = re.sub(r"<[^>]+>", " ", card.group(0))
        assert "BTCUSD" in text and "alive" in text
        pos = now["positions"]["long"]
        shown = re.search(rf"Position\s+long {pos['size']:g} @ ([0-9.]+)", text)
        assert shown and float(shown.group(1)) == pytest.approx(pos["price"], rel=1e-7), text[:2000]
        assert TOKEN not in dom
        for leak in (KEY, SECRET):
            assert leak not in dom and leak not in text
        shot = shots / "monitor.png"
        chromium(f"--screenshot={shot}", "--window-size=1280,1100", f"{base}/?token={TOKEN}")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
        if os.environ.get("PASSIVX_UPDATE_SCREENSHOT") == "1":
            shutil.copy(shot, ROOT / "docs" / "monitor.png")
    finally:
        mon.send_signal(signal.SIGINT)
        try:
            mon.wait(10)
        except subprocess.TimeoutExpired:
            mon.kill()


def test_state_status_monitor_and_notifications(tmp_path):
    rx = Receiver()
    (tmp_path / "notifications.json").write_text(json.dumps({
        "urls": [{"url": rx.url("all"), "events": ["start", "stop", "fills", "errors", "danger", "summary"]},
                 rx.url("default")],
        "batch_seconds": 2}))
    sim = SimExchange("bybit", api_key=KEY, api_secret=SECRET, price=60000.0)
    try:
        with run_in_thread(sim) as s:
            quiet(s, 59999.5, 60000.0)
            bot = Bot(tmp_path, "bybit", config("bybit", "BTCUSD_default"), s.env())
            try:
                st, entry = check_state_while_trading(bot, s, tmp_path)
                check_status(tmp_path, st)
                check_monitor(tmp_path, st, tmp_path)
                assert bot.stop() == 0
            finally:
                if bot.proc.poll() is None:
                    bot.proc.kill()
        final = state(tmp_path, "bybit", "BTCUSD_default")
        assert final["stopped_ms"] and final["stop_reason"] == ""
        (inst,) = json.loads(passivx(tmp_path, "status", "--json").stdout)
        assert inst["status"] == "stopped"
        # notifications: start, the two fills (batched), stop; a URL without a choice gets no fills
        rx.wait(lambda: any("stopped" in t for t, _, _ in rx.at("all")))
        titles = [t for t, _, _ in rx.at("all")]
        assert titles[0] == "bybit BTCUSD_default: started" and titles[-1] == "bybit BTCUSD_default: stopped"
        fills = "\n".join(m for t, m, _ in rx.at("all") if ": fills" in t)
        assert f"buy {entry['qty']:g} @ {entry['price']:g} (entry long)" in fills and "(close long)" in fills
        assert [t for t, _, _ in rx.at("default")] == ["bybit BTCUSD_default: started", "bybit BTCUSD_default: stopped"]
        assert all(KEY not in m and SECRET not in m for _, _, m, _ in rx.got)
    finally:
        rx.close()


def test_a_dead_notification_target_does_not_slow_the_engine(tmp_path):
    hole = BlackHole()
    sim = SimExchange("bybit", api_key=KEY, api_secret=SECRET, price=60000.0)
    try:
        with run_in_thread(sim) as s:
            quiet(s, 59999.5, 60000.0)
            env = {**s.env(), "PASSIVX_NOTIFY_URLS": f"json://127.0.0.1:{hole.port}/hook,"
                                                     f"json://127.0.0.1:{hole.port}/other"}
            bot = Bot(tmp_path, "bybit", config("bybit", "BTCUSD_default"), env)
            try:
                wait_for("the first grid", lambda: state(tmp_path, "bybit", bot.name)["open_orders"], bot, 30)
                entry = max((o for o in bot_orders(s) if o["side"] == "buy"), key=lambda o: o["price"])
                t0 = time.monotonic()
                s.trade(entry["price"] - 0.5, entry["qty"] * 2, "sell")  # a fill: start and fill events queue up
                wait_for("take-profit orders", lambda: [o for o in bot_orders(s) if o["reduce_only"]], bot)
                assert time.monotonic() - t0 < 5.0  # a send to the dead target would take 10 s (its timeout)
                t0 = time.monotonic()
                assert bot.stop(timeout=8.0) == 0
                assert time.monotonic() - t0 < 6.0
            finally:
                if bot.proc.poll() is None:
                    bot.proc.kill()
        log = bot.log()
        assert log.count("notification to json://127.0.0.1") <= 2  # once per target at most
        assert "Traceback" not in bot.output()
    finally:
        hole.close()


def test_a_bot_that_cannot_start_records_why(tmp_path):
    clock_off_bot(tmp_path)
    st = state(tmp_path, "binance", "ETHUSDT_default")
    assert st["stopped_ms"] and st["stop_reason"].startswith("this machine's clock is 8.")
    (inst,) = json.loads(passivx(tmp_path, "status", "--json").stdout)
    assert inst["status"] == "stopped" and inst["dangers"] == [f"stopped: {st['stop_reason']}"]
