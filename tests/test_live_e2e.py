"""End to end: `passivx live` as a subprocess against the simulated exchange (`passivx.sim`), pointed at it
by the PASSIVX_* endpoint variables, on both exchanges, classic and a grid mode. Checked: the first grid
equals `passivx calc` for the state the bot used; fills move the position and take-profits follow; after
dropped sockets, rate limits, 5xx answers, post-only rejections, insufficient balance, a create whose answer
times out and a kill-and-restart there are no duplicate or orphaned orders; at the end the bot's view of
position and orders equals the exchange's.

The bot runs with NUMBA_DISABLE_JIT=1 (identical results by the calculator's contract) so the tests do not
wait for a compile; `passivx calc` is run the same way.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from passivx.sim import SimExchange, run_in_thread

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "main.py"
KEY, SECRET = "simkey", "simsecret-0123456789"


def write_keys(work: Path, exchange: str, name: str, mode: int = 0o600) -> None:
    """`work`/api_keys/`exchange`/`name`.json holding KEY and SECRET, with permissions `mode`."""
    keys = work / "api_keys" / exchange / f"{name}.json"
    keys.parent.mkdir(parents=True, exist_ok=True)
    keys.write_text(json.dumps([KEY, SECRET]))
    os.chmod(keys, mode)


def live_unreachable(work: Path, cfg: dict, key_mode: int = 0o600) -> subprocess.CompletedProcess:
    """`passivx live bybit c.json` in `work` (config `cfg`, its key file with permissions `key_mode`) against an
    unreachable REST endpoint, run to its end."""
    (work / "c.json").write_text(json.dumps(cfg))
    write_keys(work, "bybit", cfg["config_name"], key_mode)
    return subprocess.run([sys.executable, str(MAIN), "live", "bybit", "c.json"], cwd=work, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PASSIVX_BYBIT_REST_URL": "http://127.0.0.1:9"})


def clock_off_bot(work: Path) -> tuple["Bot", list[dict]]:
    """`passivx live binance` in `work` against a simulated exchange whose clock is 8 s behind this machine's,
    run until it stops (exit code 1): the bot, and its orders the exchange holds."""
    sim = SimExchange("binance", api_key=KEY, api_secret=SECRET, price=60000.0)
    with run_in_thread(sim) as s:
        s.faults.clock_skew(-8_000)
        bot = Bot(work, "binance", config("binance", "ETHUSDT_default", symbol="BTCUSDT"), s.env())
        assert bot.proc.wait(60) == 1
        return bot, bot_orders(s)


class Bot:
    """`passivx live EXCHANGE CONFIG` in `work`, its output collected in a file."""

    def __init__(self, work: Path, exchange: str, config: dict, env: dict, *extra: str):
        self.work, self.exchange, self.name = work, exchange, config["config_name"]
        self.config_path = work / f"{self.name}.json"
        self.config_path.write_text(json.dumps(config))
        write_keys(work, exchange, self.name)
        self.out = open(work / f"out-{time.monotonic_ns()}.txt", "w+")
        self.proc = subprocess.Popen([sys.executable, str(MAIN), "live", exchange, str(self.config_path),
                                      *extra], cwd=work, env={**os.environ, "NUMBA_DISABLE_JIT": "1", **env},
                                     stdout=self.out, stderr=subprocess.STDOUT, text=True)

    def output(self) -> str:
        return Path(self.out.name).read_text()

    def log(self) -> str:
        path = self.work / "logs" / self.exchange / f"{self.name}.log"
        return path.read_text() if path.exists() else ""

    def state(self) -> dict:
        return json.loads((self.work / "logs" / self.exchange / f"{self.name}.state.json").read_text())

    def stop(self, sig=signal.SIGTERM, timeout: float = 8.0) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"the bot did not stop within {timeout} s:\n{self.output()[-3000:]}")


def wait_for(what: str, cond, bot: Bot, timeout: float = 20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            got = cond()
        except (FileNotFoundError, ValueError, KeyError):
            got = None
        if got:
            return got
        if bot.proc.poll() is not None:
            raise AssertionError(f"the bot exited ({bot.proc.returncode}) waiting for {what}:\n{bot.output()[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n{bot.output()[-4000:]}")


def bot_orders(sim) -> list[dict]:
    return [o for o in sim.open_orders() if o["client_id"].startswith("passivx-")]


def key(o: dict, hedge: bool) -> tuple:
    return (o["side"], o["position_side"].lower() if hedge else "", round(o["price"], 8), round(o["qty"], 8))


def calc_orders(bot: Bot, st: dict) -> list[dict]:
    """`passivx calc` (batch mode) for the inputs the bot logged, with the market spec it used."""
    req = {"config": str(bot.config_path), "market": st["market"], **st["inputs"]}
    r = subprocess.run([sys.executable, str(MAIN), "calc", str(bot.config_path), "--batch", "-"],
                       input=json.dumps(req) + "\n", capture_output=True, text=True, cwd=bot.work,
                       env={**os.environ, "NUMBA_DISABLE_JIT": "1"}, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["orders"]


def assert_no_duplicates(sim, hedge: bool) -> list[dict]:
    mine = bot_orders(sim)
    at = Counter((o["side"], o["price"]) for o in mine)
    assert max(at.values(), default=0) == 1, f"two bot orders at one side and price: {mine}"
    return mine


def assert_views_agree(bot: Bot, sim, hedge: bool) -> None:
    """The bot's last written view equals the exchange's: open bot orders and position."""
    st = bot.state()
    assert Counter(key(o, hedge) for o in st["open"]) == Counter(key(o, hedge) for o in bot_orders(sim))
    pos = sim.positions()
    if hedge:
        assert st["position"]["long"][0] == pytest.approx(pos.get("LONG", (0.0, 0.0))[0])
        assert st["position"]["short"][0] == pytest.approx(pos.get("SHORT", (0.0, 0.0))[0])
    else:
        signed = st["position"]["long"][0] + st["position"]["short"][0]
        assert signed == pytest.approx(pos["BOTH"][0])


def first_grid_equals_calc(bot: Bot, sim, hedge: bool) -> dict:
    """Wait for the first grid; it equals the calculator's answer for the bot's inputs, and the exchange's."""
    st = wait_for("the first grid", lambda: (s := bot.state())["ideal"] and len(bot_orders(sim)) == len(s["ideal"])
                  and s, bot)
    calc = calc_orders(bot, st)
    want = Counter(key(o, hedge) for o in calc)
    assert want == Counter(key(o, hedge) for o in st["ideal"])
    assert want == Counter(key(o, hedge) for o in bot_orders(sim))
    assert all(o["post_only"] for o in bot_orders(sim))
    return st


def quiet(sim, bid: float, ask: float, n: int = 1) -> None:
    """Trades at the book's two sides that fill nothing of the bot's (keeps the bot recomputing)."""
    for _ in range(n):
        sim.trade(ask, 1.0, "buy")
        sim.trade(bid, 1.0, "sell")


def settle(bot: Bot, sim, hedge: bool, bid: float, ask: float, seconds: float = 2.5) -> None:
    """Let the bot converge (a resync and a cycle) while the market stays quiet."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        quiet(sim, bid, ask)
        time.sleep(0.3)
    wait_for("the bot's view to match the exchange's", lambda: _agree(bot, sim, hedge), bot, 15)


def _agree(bot, sim, hedge) -> bool:
    try:
        assert_views_agree(bot, sim, hedge)
        return True
    except AssertionError:
        return False


def run_scenario(tmp_path: Path, exchange: str, config: dict, price: float, hedge: bool, tick: float,
                 stop_signal: int, faults: bool = True) -> None:
    sim = SimExchange(exchange, api_key=KEY, api_secret=SECRET, price=price)
    with run_in_thread(sim) as s:
        bid, ask = price - tick, price
        quiet(s, bid, ask)
        bot = Bot(tmp_path, exchange, config, s.env())
        try:
            first_grid_equals_calc(bot, s, hedge)
            # a fill of the nearest long entry: the position moves, take-profits follow
            entry = max((o for o in bot_orders(s) if o["side"] == "buy"), key=lambda o: o["price"])
            s.trade(entry["price"] - tick, entry["qty"] * 2, "sell")
            pos = lambda: s.positions().get("LONG" if hedge else "BOTH", (0.0, 0.0))  # noqa: E731
            wait_for("the long position", lambda: pos()[0] > 0, bot)
            assert pos()[0] == pytest.approx(entry["qty"])
            bid, ask = entry["price"] - tick, entry["price"]
            wait_for("take-profit orders", lambda: [o for o in bot_orders(s) if o["reduce_only"] or
                                                   (hedge and o["side"] == "sell" and o["position_side"] == "LONG")],
                     bot)
            settle(bot, s, hedge, bid, ask)
            closes = [o for o in bot_orders(s) if o["side"] == "sell" and (o["reduce_only"] or hedge and
                                                                           o["position_side"] == "LONG")]
            assert closes and all(o["price"] > entry["price"] for o in closes)
            assert sum(o["qty"] for o in closes) == pytest.approx(entry["qty"])
            assert "fill: buy" in bot.log()
            if not faults:
                assert_views_agree(bot, s, hedge)
                assert bot.stop(stop_signal) == 0
                return

            # faults: dropped sockets, rate limits, 5xx, a post-only rejection, insufficient balance
            s.faults.drop_sockets()
            s.faults.rate_limit(2)
            s.faults.server_error(2)
            wait_for("reconnects", lambda: bot.log().count("private stream connected") >= 2, bot)
            wait_for("trading again after a resync", lambda: bot.log().count("state resynced: trading") >= 2, bot)
            log = bot.log()
            assert ("RateLimitExceeded" in log or "DDoSProtection" in log) and "503" in log
            # a post-only rejection and an insufficient balance: logged, skipped, recomputed
            s.faults.post_only_reject(1)
            s.faults.insufficient_balance(1)
            gone = min(bot_orders(s), key=lambda o: abs(o["price"] - entry["price"]))
            s.call(lambda: s.book.cancel(s.book.find(order_id=gone["id"])))  # by hand: the bot places it again
            wait_for("the rejections", lambda: "InsufficientFunds" in bot.log() and (
                "would have taken liquidity" in bot.log() or "OrderNotFillable" in bot.log()), bot)
            settle(bot, s, hedge, bid, ask)
            assert (gone["side"], gone["price"]) in {(o["side"], o["price"]) for o in assert_no_duplicates(s, hedge)}

            # kill without warning, restart: the new bot adopts the old orders, creates no duplicates
            bot.proc.kill()
            bot.proc.wait(10)
            before = {o["client_id"] for o in bot_orders(s)}
            bot = Bot(tmp_path, exchange, config, s.env())
            wait_for("adoption", lambda: "adopted" in bot.log().split("stopped")[-1] or not before, bot)
            settle(bot, s, hedge, bid, ask)
            mine = assert_no_duplicates(s, hedge)
            assert len(mine) <= len(bot.state()["ideal"])
            assert before & {o["client_id"] for o in mine}, "the restarted bot replaced orders it should adopt"
            assert_views_agree(bot, s, hedge)
            assert bot.stop(stop_signal) == 0
            assert KEY not in bot.output() + bot.log() and SECRET not in bot.output() + bot.log()
        finally:
            if bot.proc.poll() is None:
                bot.proc.kill()


def config(exchange: str, name: str, **changes) -> dict:
    data = json.loads((ROOT / "configs" / "live" / exchange / f"{name}.json").read_text())
    for k, v in changes.items():
        node = data
        *parents, leaf = k.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = v
    return data


def test_bybit_classic(tmp_path):
    run_scenario(tmp_path, "bybit", config("bybit", "BTCUSD_default"), 60000.0, hedge=False, tick=0.5,
                 stop_signal=signal.SIGINT)


def test_binance_recursive_grid_hedge_mode(tmp_path):
    run_scenario(tmp_path, "binance", config("binance", "BTCUSDT_recursive_grid"), 60000.0, hedge=True, tick=0.1,
                 stop_signal=signal.SIGTERM)


def test_bybit_grid_mode_runs_one_enabled_side_one_way(tmp_path):
    cfg = config("binance", "BTCUSDT_recursive_grid", symbol="BTCUSD", config_name="BTCUSD_long_grid")
    cfg["short"]["enabled"] = False
    cfg["long"]["wallet_exposure_limit"] = 0.5
    run_scenario(tmp_path, "bybit", cfg, 60000.0, hedge=False, tick=0.5, stop_signal=signal.SIGTERM, faults=False)


def test_create_answer_lost_is_looked_up_not_resent(tmp_path):
    """The first create is applied but its answer comes after the client's timeout: the bot finds the
    order by its client id instead of sending it again."""
    sim = SimExchange("bybit", api_key=KEY, api_secret=SECRET, price=60000.0)
    with run_in_thread(sim) as s:
        quiet(s, 59999.5, 60000.0)
        s.faults.timeout_after_apply(1, ms=12_000)
        bot = Bot(tmp_path, "bybit", config("bybit", "BTCUSD_default"), s.env())
        try:
            wait_for("the unanswered create to be looked up", lambda: "found open on the exchange" in bot.log(),
                     bot, 40)
            settle(bot, s, False, 59999.5, 60000.0)
            mine = assert_no_duplicates(s, False)
            assert len(mine) == len(bot.state()["ideal"])
            assert bot.stop() == 0
        finally:
            if bot.proc.poll() is None:
                bot.proc.kill()


def test_clock_off_the_exchange_stops_with_one_line(tmp_path):
    bot, orders = clock_off_bot(tmp_path)
    last = bot.output().strip().splitlines()[-1]
    assert last.startswith("error: this machine's clock is 8.") and "ahead of the binance server's" in last
    assert not orders


def test_bybit_mode_with_both_sides_is_refused(tmp_path):
    bot = Bot(tmp_path, "bybit", config("binance", "BTCUSDT_recursive_grid", symbol="BTCUSD"),
              {"PASSIVX_BYBIT_REST_URL": "http://127.0.0.1:9", "PASSIVX_BYBIT_WS_PUBLIC_URL": "ws://127.0.0.1:9/x",
               "PASSIVX_BYBIT_WS_PRIVATE_URL": "ws://127.0.0.1:9/y"})
    assert bot.proc.wait(60) == 1
    lines = bot.output().strip().splitlines()
    assert lines[-1].startswith("error:") and "no hedge mode" in lines[-1] and "enabled" in lines[-1]
    assert "Traceback" not in bot.output()


def test_key_file_readable_by_others_is_refused(tmp_path):
    cfg = config("bybit", "BTCUSD_default")
    r = live_unreachable(tmp_path, cfg, key_mode=0o644)
    assert r.returncode == 1
    path = f"api_keys/bybit/{cfg['config_name']}.json"
    assert r.stderr.strip().splitlines() == [f"error: {path}: the key file can be read by others (mode 0644); "
                                             f"run `chmod 600 {path}`"]
    assert SECRET not in r.stdout + r.stderr
