"""Reading the state files under `state/` (`docs/state-schema.md`): each instance with its `status` and
what makes it dangerous. Shared by `passivx status`, the web page, `/api/instances` and `/metrics`.

Status by heartbeat: `stopped` when the bot recorded a clean stop or its heartbeat is older than
`STOPPED_AFTER_S`; `alive` when the heartbeat is at most `STALE_AFTER_S` old; `stale` in between (the bot
hangs, or died without stopping: look at it).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from passivx.live.statefile import SCHEMA, VERSION

STALE_AFTER_S = 10.0
STOPPED_AFTER_S = 300.0
LOG_TAIL_LINES = 60
_TAIL_BYTES = 32_768


def load(root: str | Path = "state", now_ms: float | None = None) -> tuple[list[dict], list[str]]:
    """(instances sorted by exchange and config name, problems: one line per unreadable file)."""
    now_ms = time.time() * 1000 if now_ms is None else now_ms
    found, problems = [], []
    for path in sorted(Path(root).glob("*/*.json")):
        if path.name.endswith(".history.json"):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            problems.append(f"{path}: unreadable ({e})")
            continue
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            continue
        if data.get("version") != VERSION:
            problems.append(f"{path}: state version {data.get('version')!r}, this passivx reads {VERSION}")
            continue
        found.append(annotate(data, now_ms))
    return found, problems


def annotate(state: dict, now_ms: float) -> dict:
    """The state with `status`, `heartbeat_age_s` and `dangers` (a list of short reasons) added."""
    age = max(0.0, (now_ms - state["heartbeat_ms"]) / 1000)
    if state.get("stopped_ms") or age > STOPPED_AFTER_S:
        status = "stopped"
    else:
        status = "alive" if age <= STALE_AFTER_S else "stale"
    dangers = []
    if status == "stale":
        dangers.append(f"no heartbeat for {age:.0f} s")
    if status != "stopped":
        liq = state["liquidation"]
        if liq["distance"] is not None and liq["distance"] < liq["danger_distance"]:
            dangers.append(f"liquidation {liq['distance']:.1%} away")
        if not state["connection"]["trading"]:
            dangers.append(f"not trading: {state['connection']['paused'] or 'starting'}")
    if state["errors"]["last_hour"]:
        dangers.append(f"{state['errors']['last_hour']} errors in the last hour")
    if state.get("stop_reason"):
        dangers.append(f"stopped: {state['stop_reason']}")
    return {**state, "status": status, "heartbeat_age_s": age, "dangers": dangers}


def key(state: dict) -> str:
    """`exchange/instance`, the instance's id in URLs (instance: the config name, `.paper` for paper)."""
    return f"{state['exchange']}/{state['instance']}"


def history(state: dict) -> list[list[float]]:
    """The instance's history points `[ts_ms, price, equity, long_size, short_size]` (empty if none)."""
    path = Path(state.get("history_path") or "")
    if path.name != f"{state['instance']}.history.json":
        return []
    try:
        return json.loads(path.read_text(encoding="utf-8"))["points"]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def log_tail(state: dict, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last lines of the instance's log (only an `{exchange}/{instance}.log` file; masked by the bot)."""
    path = Path(state.get("log_path") or "")
    if path.name != f"{state['instance']}.log" or path.parent.name != state["exchange"]:
        return []
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - _TAIL_BYTES))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]
