"""`passivx doctor EXCHANGE CONFIG` against the simulated exchange: one line per check, exit 1 when any fails
(a key file others can read, a clock off the exchange, a balance too small for the market's minimums)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from passivx.sim import SimExchange, run_in_thread

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "main.py"
KEY, SECRET = "simkey", "simsecret-doctor-0123"
CHECKS = ["python", "packages", "config", "keys", "exchange", "clock", "leverage", "balance", "minimums"]


def setup(work: Path, mode: int = 0o600) -> None:
    cfg = json.loads((ROOT / "configs" / "live" / "binance" / "ETHUSDT_default.json").read_text())
    cfg.update(symbol="BTCUSDT", config_name="doc")
    (work / "c.json").write_text(json.dumps(cfg))
    keys = work / "api_keys" / "binance" / "doc.json"
    keys.parent.mkdir(parents=True, exist_ok=True)
    keys.write_text(json.dumps([KEY, SECRET]))
    os.chmod(keys, mode)


def doctor(work: Path, env: dict, *extra: str) -> tuple[int, dict[str, tuple[str, str]]]:
    r = subprocess.run([sys.executable, str(MAIN), "doctor", "binance", "c.json", *extra], cwd=work,
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, "NUMBA_DISABLE_JIT": "1", **env})
    assert "Traceback" not in r.stdout + r.stderr and SECRET not in r.stdout + r.stderr
    lines = {}
    for line in r.stdout.splitlines():
        status, what, detail = line.split(None, 2)
        lines[what] = (status, detail)
    return r.returncode, lines


def test_doctor_passes_a_good_setup_and_fails_each_problem(tmp_path):
    setup(tmp_path)
    sim = SimExchange("binance", api_key=KEY, api_secret=SECRET, balance=5000.0, price=60000.0)
    with run_in_thread(sim) as s:
        s.trade(60000.0, 0.1, "buy")
        s.trade(59999.9, 0.1, "sell")
        rc, lines = doctor(tmp_path, s.env())
        assert list(lines) == CHECKS
        assert rc == 0 and all(st in ("ok", "warn") for st, _ in lines.values()), lines
        assert lines["balance"][1].startswith("5000 USDT")

        # too small a balance for the 100 USDT minimum order: fails at the minimums line
        rc, lines = doctor(tmp_path, s.env(), "--balance", "20")
        assert rc == 1 and lines["minimums"][0] == "FAIL", lines

        # the clock 5 s off the exchange's
        s.faults.clock_skew(5000)
        rc, lines = doctor(tmp_path, s.env())
        assert rc == 1 and lines["clock"][0] == "FAIL" and "NTP" in lines["clock"][1]
        s.faults.clock_skew(0)

        # a key file others can read
        os.chmod(tmp_path / "api_keys" / "binance" / "doc.json", 0o644)
        rc, lines = doctor(tmp_path, s.env())
        assert rc == 1 and lines["keys"][0] == "FAIL" and "chmod 600" in lines["keys"][1]
        rc, lines = doctor(tmp_path, s.env(), "--paper", "--balance", "5000")
        assert rc == 0 and lines["keys"][0] == "ok"


def test_doctor_exchange_unreachable(tmp_path):
    setup(tmp_path)
    env = {"PASSIVX_BINANCE_REST_URL": "http://127.0.0.1:9"}
    rc, lines = doctor(tmp_path, env)
    assert rc == 1 and lines["exchange"][0] == "FAIL" and "not reachable" in lines["exchange"][1]
