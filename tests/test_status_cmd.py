"""`passivx status`: every state file under state/ as a table row (red when in danger) or as JSON, with
the status by heartbeat: alive, stale or stopped."""
from __future__ import annotations

import json
import time

from click.testing import CliRunner

from passivx.cli import main
from test_status_statefile import engine, statefile  # noqa: F401 - the fixture


def write(root, snap: dict, name: str, **changes) -> None:
    snap = {**snap, "instance": name, **changes}
    path = root / snap["exchange"] / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(snap))


def test_status_by_heartbeat_and_danger(statefile, tmp_path):  # noqa: F811
    root = tmp_path / "state"
    calm = statefile(engine(long=(100.0, 60_000.0), price=60_000.0)).snapshot()
    risky = statefile(engine(balance=0.0005, long=(1000.0, 60_000.0), price=59_000.0)).snapshot()
    assert calm["liquidation"]["distance"] > 0.5 and 0 < risky["liquidation"]["distance"] < 0.02
    now = time.time() * 1000
    write(root, calm, "a_alive")
    write(root, risky, "b_near_liquidation")
    write(root, calm, "c_stale", heartbeat_ms=now - 30_000)
    write(root, calm, "d_stopped", stopped_ms=now - 1000)
    write(root, calm, "e_gone", heartbeat_ms=now - 3_600_000)
    (root / "bybit" / "f_broken.json").write_text("{not json")
    (root / "bybit" / "a_alive.history.json").write_text('{"points": []}')

    r = CliRunner().invoke(main, ["status", "--json", "--state-dir", str(root)])
    assert r.exit_code == 0
    got = {s["instance"]: s for s in json.loads(r.stdout)}
    assert {k: s["status"] for k, s in got.items()} == {"a_alive": "alive", "b_near_liquidation": "alive",
                                                        "c_stale": "stale", "d_stopped": "stopped", "e_gone": "stopped"}
    assert got["a_alive"]["dangers"] == [] and got["c_stale"]["dangers"] == ["no heartbeat for 30 s"]
    assert got["b_near_liquidation"]["dangers"][0].startswith("liquidation 0.8% away")
    assert "f_broken.json: unreadable" in r.stderr

    r = CliRunner().invoke(main, ["status", "--state-dir", str(root)], color=True)
    lines = {line.split()[2]: line for line in r.stdout.splitlines() if line.startswith("\x1b[3")}
    assert lines["a_alive"].startswith("\x1b[32m")  # green
    assert lines["b_near_liquidation"].startswith("\x1b[31m") and lines["c_stale"].startswith("\x1b[31m")  # red
    assert "d_stopped" in r.stdout and "e_gone" in r.stdout
    assert "long 100@60000" in lines["a_alive"] and "0.05 BTC" in lines["a_alive"]


def test_no_bots(tmp_path):
    r = CliRunner().invoke(main, ["status", "--state-dir", str(tmp_path / "state")])
    assert r.exit_code == 0 and r.stdout.startswith("no bots under")
    r = CliRunner().invoke(main, ["status", "--json", "--state-dir", str(tmp_path / "state")])
    assert json.loads(r.stdout) == []
