"""Long-run robustness: `passivx live` (a subprocess) trades a grid mode in hedge mode against the simulated
exchange while 11 minutes of real market time (the shipped Binance BTCUSDT window played forward, then
backward) are replayed about seven times accelerated, with a fault every few seconds: dropped sockets,
rate limits (429), 5xx answers, post-only rejections, insufficient balance, slow answers, and once a kill
without warning and a restart. At the end: no duplicate or orphaned orders of the bot, its position and
balance equal to the exchange's, and its memory stable (RSS growth under 10 % after warm-up).

Runs about two minutes (marked slow; CI runs it with the rest).
"""
from __future__ import annotations

import itertools
import threading
import time
from collections import Counter

import pytest

from passivx.sim import SimExchange, read_trades, run_in_thread
from test_live_e2e import KEY, SECRET, Bot, _agree, assert_no_duplicates, bot_orders, config, wait_for
from test_parity_fills import GRID, SAMPLE

MARKET_MS = 11 * 60_000
RATE = 420.0  # prints a second: 42.6 k prints in about 100 s
FAULT_EVERY = 3.0
WARM_UP_S = 20.0
QUEUED = ("rate_limit", "server_error", "post_only_reject", "insufficient_balance", "delay")


def market(t0: int) -> list[tuple[int, float, float, str]]:
    """The sample forward then backward, restamped evenly over MARKET_MS from `t0`."""
    rows = list(read_trades(SAMPLE))
    path = rows + rows[::-1]
    step = MARKET_MS / len(path)
    return [(t0 + int(i * step), p, q, s) for i, (_, p, q, s) in enumerate(path)]


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


class Memory:
    """RSS of one bot process: the value when its warm-up ends and the highest after."""

    def __init__(self, bot: Bot):
        self.bot, self.start, self.base, self.peak = bot, time.monotonic(), 0, 0

    def sample(self) -> None:
        if self.bot.proc.poll() is not None or time.monotonic() - self.start < WARM_UP_S:
            return
        kb = rss_kb(self.bot.proc.pid)
        self.base = self.base or kb
        self.peak = max(self.peak, kb)

    def growth(self) -> float:
        return self.peak / self.base - 1.0


@pytest.mark.slow
def test_long_run_with_faults(tmp_path):
    cfg = config("binance", "BTCUSDT_recursive_grid", **GRID)
    trades = market(int(time.time() * 1000))
    sim = SimExchange("binance", api_key=KEY, api_secret=SECRET, price=trades[0][1])
    with run_in_thread(sim) as s:
        s.play(trades[:50])
        bot = Bot(tmp_path, "binance", cfg, s.env())
        try:
            wait_for("the first grid", lambda: bot_orders(s), bot, 120)
            player = threading.Thread(target=s.play, args=(trades[50:], RATE), daemon=True)
            player.start()
            faults = itertools.cycle([
                lambda: s.faults.drop_sockets(), lambda: s.faults.rate_limit(3), lambda: s.faults.server_error(2),
                lambda: s.faults.post_only_reject(2), lambda: s.faults.insufficient_balance(1),
                lambda: s.faults.delay(1500, 2), lambda: s.faults.drop_sockets(private=True)])
            memories = [Memory(bot)]
            restarted = False
            next_fault = time.monotonic() + FAULT_EVERY
            while player.is_alive():
                time.sleep(0.5)
                memories[-1].sample()
                # a fault every few seconds, once the previous one was met (queued request faults hit the next
                # requests whenever they come: piled up, they would hit every start-up try of the restart)
                if time.monotonic() >= next_fault and not any(s.faults.pending(k) for k in QUEUED):
                    next(faults)()
                    next_fault = time.monotonic() + FAULT_EVERY
                if not restarted and s.book.trades[-1].ts >= trades[len(trades) // 2][0]:
                    bot.proc.kill()  # without warning, mid-stream
                    bot.proc.wait(10)
                    bot = Bot(tmp_path, "binance", cfg, s.env())
                    memories.append(Memory(bot))
                    restarted = True
                assert bot.proc.poll() is None, f"the bot died:\n{bot.output()[-3000:]}"
            assert restarted and s.book.trades[-1].ts == trades[-1][0]

            # the market goes quiet: the bot converges on the exchange's state
            last = trades[-1][1]
            end = time.monotonic() + 60
            while not _agree(bot, s, True) and time.monotonic() < end:
                s.trade(last, 0.001, "buy")
                s.trade(round(last - 0.1, 1), 0.001, "sell")
                time.sleep(1.0)
            assert _agree(bot, s, True), f"the bot's view never matched the exchange's:\n{bot.output()[-4000:]}"
            mine = assert_no_duplicates(s, True)
            st = bot.state()
            assert len(mine) <= len(st["ideal"]), "more bot orders than the grid needs"
            assert st["balance"] == pytest.approx(s.balance(), rel=1e-9, abs=1e-8)
            fills = [f for f in s.fills() if f["client_id"].startswith("passivx-")]
            assert len(fills) >= 10, f"too little trading to test: {len(fills)} fills"
            log = bot.log()
            assert bot.stop() == 0
        finally:
            if bot.proc.poll() is None:
                bot.proc.kill()
        # every kind of fault was met and handled (none killed the engine)
        for seen in ("stream lost", "rate limited", "503", "state resynced: trading", "adopted"):
            assert seen in log, f"no sign of {seen!r} in the log"
        for m in memories:
            assert m.base and m.growth() < 0.10, f"RSS grew {m.growth():.1%} after warm-up ({m.base} -> {m.peak} kB)"
        kinds = Counter(f["client_id"].split("-")[1][0] for f in fills)
        print(f"\n{len(trades)} prints, {len(fills)} fills {dict(kinds)}, RSS growth "
              f"{', '.join(f'{m.base} -> {m.peak} kB ({m.growth():.1%})' for m in memories)}")


def test_start_up_rides_out_transient_errors(tmp_path):
    """5xx and rate-limit answers during start-up are tried again with back-off (a restart under load must
    not end the bot), not turned into an exit."""
    sim = SimExchange("bybit", api_key=KEY, api_secret=SECRET, price=60000.0)
    with run_in_thread(sim) as s:
        s.trade(60000.0, 1.0, "buy")
        s.trade(59999.5, 1.0, "sell")
        s.faults.server_error(2)
        s.faults.rate_limit(1)
        bot = Bot(tmp_path, "bybit", config("bybit", "BTCUSD_default"), s.env())
        try:
            wait_for("the first orders", lambda: bot_orders(s), bot, 120)
            log = bot.log()
            assert log.count("start-up: ") >= 2 and "retrying in" in log
            assert bot.stop() == 0
        finally:
            if bot.proc.poll() is None:
                bot.proc.kill()
