"""Paper trading (`passivx live EXCHANGE CONFIG --paper`) against the simulated exchange, as a subprocess:
no key file and no signed request or private stream, the backtester's fill rules and latency, the result
folder in the backtester's formats, and `--resume` continuing the account."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from passivx.calc.rows import FILL_COLUMNS, SAMPLE_COLUMNS
from passivx.results import read_fills
from passivx.sim import SimExchange, run_in_thread

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "main.py"


def start(work: Path, exchange: str, cfg: dict, env: dict, *extra: str) -> subprocess.Popen:
    (work / "c.json").write_text(json.dumps(cfg))
    out = open(work / f"out-{time.monotonic_ns()}.txt", "w")
    return subprocess.Popen([sys.executable, str(MAIN), "live", exchange, "c.json", "--paper", *extra], cwd=work,
                            env={**os.environ, "NUMBA_DISABLE_JIT": "1", **env}, stdout=out,
                            stderr=subprocess.STDOUT)


def log(work: Path) -> str:
    return "".join(p.read_text() for p in sorted(work.glob("out-*.txt")))


def wait_for(what: str, cond, proc, work: Path, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        if proc.poll() is not None:
            raise AssertionError(f"paper bot exited ({proc.returncode}) waiting for {what}:\n{log(work)[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n{log(work)[-3000:]}")


def stop(proc) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(15)


def classic() -> dict:
    cfg = json.loads((ROOT / "configs" / "live" / "binance" / "ETHUSDT_default.json").read_text())
    cfg.update(symbol="BTCUSDT", config_name="paper_test")
    return cfg


def test_paper_trades_without_keys_and_resumes(tmp_path):
    sim = SimExchange("binance", price=60000.0)
    with run_in_thread(sim) as s:
        s.trade(60000.0, 0.1, "buy")
        s.trade(59999.9, 0.1, "sell")
        proc = start(tmp_path, "binance", classic(), s.env(), "--balance", "2000", "--latency-ms", "300")
        try:
            wait_for("the first orders", lambda: "created entry buy" in log(tmp_path), proc, tmp_path, 120)
            bid = float(log(tmp_path).split("created entry buy ")[1].split(" @ ")[1].split()[0])
            assert not [c for c in s.conns if c.private], "paper opened a private stream"
            s.trade(bid, 0.1, "sell")  # at the bid: no fill (a bid fills only on a print below it)
            time.sleep(1.5)
            assert "fill:" not in log(tmp_path)
            s.trade(bid - 0.1, 0.1, "sell")
            wait_for("the fill", lambda: "fill: buy" in log(tmp_path), proc, tmp_path)
            wait_for("a take-profit", lambda: "created close sell" in log(tmp_path), proc, tmp_path)
            s.faults.drop_sockets()  # a disconnect: reconnect, resync from the paper account, trade on
            wait_for("the reconnect", lambda: log(tmp_path).count("state resynced: trading") >= 2, proc, tmp_path)
            assert log(tmp_path).count("public stream connected") >= 2
            assert stop(proc) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        assert s.requests and not any(signed for _, _, signed in s.requests), "paper made a signed request"
        assert {p for _, p, _ in s.requests} <= {"/fapi/v1/exchangeInfo", "/fapi/v1/time", "/fapi/v1/aggTrades",
                                                  "/fapi/v1/klines"}

        [folder] = list((tmp_path / "paper" / "binance" / "paper_test").iterdir())
        header = (folder / "fills.csv").read_text().splitlines()[0].split(",")
        assert header == ["time_utc", *FILL_COLUMNS]
        assert (folder / "equity.csv").read_text().splitlines()[0].split(",") == ["time_utc", *SAMPLE_COLUMNS]
        fills = read_fills(folder / "fills.csv")
        assert len(fills) == 1 and fills[0, 4] == bid and fills[0, 2] == 1.0  # at the order's price, a buy
        stats = json.loads((folder / "stats.json").read_text())
        maker_fee = 0.0002  # the simulated market's (the snapshot's) maker fee
        assert stats["fees_paid"] == pytest.approx(bid * fills[0, 5] * maker_fee)
        assert stats["final_balance"] == pytest.approx(2000.0 - stats["fees_paid"])
        assert stats["n_entries"] == 1 and stats["long_size"] == fills[0, 5]

        # resume: the same account (balance, position, fills) continues and its take-profit fills
        proc = start(tmp_path, "binance", classic(), s.env(), "--resume", str(folder), "--latency-ms", "300")
        try:
            wait_for("the resumed take-profit", lambda: "created close sell" in log(tmp_path).split("stopped")[-1],
                     proc, tmp_path, 120)
            tp = float(log(tmp_path).split("created close sell ")[-1].split(" @ ")[1].split()[0])
            time.sleep(0.6)  # the 300 ms latency: the order rests from then on
            s.trade(tp + 0.1, 0.1, "buy")
            wait_for("the close", lambda: "fill: sell" in log(tmp_path), proc, tmp_path)
            assert stop(proc) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        assert not any(signed for _, _, signed in s.requests)
    fills = read_fills(folder / "fills.csv")
    assert len(fills) == 2 and fills[1, 2] == -1.0 and fills[1, 4] == tp
    assert fills[1, 9] == 0.0  # flat after the close
    after = json.loads((folder / "stats.json").read_text())
    assert after["n_fills"] == 2 and after["final_balance"] == pytest.approx(fills[1, 8])
    assert after["final_balance"] > stats["final_balance"]


def test_paper_stats_have_the_backtest_keys(tmp_path):
    """stats.json of a paper run carries every key the backtester's `compute_stats` writes."""
    from passivx.backtest.context import new_context
    from passivx.backtest.stats import compute_stats
    from passivx.config.live import parse_live_config
    from passivx.live.paper import PaperAccount
    from passivx.markets import MarketSpec, snapshot_specs

    cfg = parse_live_config(classic())
    mkt = MarketSpec.from_dict(snapshot_specs("binance")["BTCUSDT"]).to_array()
    ctx = new_context(cfg.to_array(), mkt, 1000.0, 0.0, 86_400_000)
    ctx.trades(np.array([1, 2], np.int64), np.array([60000.0, 59990.0]), np.array([1, -1], np.int8))
    ctx.finish()
    keys = set(compute_stats(ctx.w, ctx.fill_rows(), 1000.0, 1.0))
    acct = PaperAccount.new(tmp_path, "binance", cfg, 1000.0, 0.0)
    acct.mkt = mkt
    acct.on_trade(1.0, 60000.0)
    assert keys <= set(acct.stats())


def test_balance_without_paper_is_refused(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps(classic()))
    r = subprocess.run([sys.executable, str(MAIN), "live", "binance", "c.json", "--balance", "100"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == ["error: --balance and --resume are options of paper trading; add --paper"]


def test_leverage_above_the_market_maximum_is_refused(tmp_path):
    """At start-up the engine checks the config's leverage against the market (`check_leverage`): one line."""
    cfg = json.loads((ROOT / "configs" / "live" / "bybit" / "BTCUSD_default.json").read_text())
    cfg["leverage"] = 120  # valid for a config (up to 125), but the simulated BTCUSD allows 100
    sim = SimExchange("bybit", price=60000.0)
    with run_in_thread(sim) as s:
        s.trade(60000.0, 1.0, "buy")
        proc = start(tmp_path, "bybit", cfg, s.env())
        assert proc.wait(120) == 1
        out = log(tmp_path)
    assert out.strip().splitlines()[-1] == ("error: c.json: key 'leverage': 120 is above the maximum leverage 100 of "
                                            "bybit BTCUSD; set it to 100 or less")
    assert "Traceback" not in out
