"""Events from what the live engine does. `observe` gets the state-file snapshot (`docs/state-schema.md`)
about once a second; `fill`, `error` and `stream` are called as those happen; `close` when the bot stops.
Times come from the snapshots (`heartbeat_ms`), so tests can drive a day in a few calls.

- start: the first time the bot trades (streams up and state trusted);
- danger: not trading for `untrusted_seconds` after it had traded (and once more when it resumes);
  `STORM_COUNT` reconnects within `STORM_WINDOW_S` (at most once per window); the liquidation distance
  below the threshold (again only after it rose past 1.5 x the threshold or the position closed);
  a stop loss or auto-unstuck close filled;
- summary: at the first snapshot of a new UTC day, the previous day's realised PnL, fees and fills;
- fills, errors: one line each, batched by the dispatcher.
"""
from __future__ import annotations

import math
from collections import deque

from passivx.notify.config import Settings
from passivx.notify.dispatch import Dispatcher

STORM_COUNT = 5
STORM_WINDOW_S = 600.0
REARM = 1.5


class Watcher:
    def __init__(self, dispatcher: Dispatcher, settings: Settings, name: str):
        self.d, self.settings, self.name = dispatcher, settings, name
        self.started = False
        self.untrusted_since: float | None = None
        self.untrusted_told = False
        self.liq_told = False
        self.connected: set[str] = set()
        self.reconnects: deque[float] = deque()
        self.storm_told = -math.inf
        self.last: dict | None = None

    def observe(self, snap: dict) -> None:
        now = snap["heartbeat_ms"]
        conn = snap["connection"]
        if conn["trading"]:
            if not self.started:
                self.started = True
                self.d.send("start", f"{self.name}: started", f"trading. {summary_line(snap)}")
            elif self.untrusted_told:
                self.d.send("danger", f"{self.name}: trading again", summary_line(snap))
            self.untrusted_since, self.untrusted_told = None, False
        elif self.started:
            if self.untrusted_since is None:
                self.untrusted_since = now
            if not self.untrusted_told and now - self.untrusted_since >= self.settings.untrusted_seconds * 1000:
                self.untrusted_told = True
                self.d.send("danger", f"{self.name}: not placing orders",
                            f"for {(now - self.untrusted_since) / 1000:.0f} s: {conn['paused'] or 'state not trusted'}")
        self._liquidation(snap)
        if self.last is not None and self.last["pnl"]["day"] != snap["pnl"]["day"]:
            p = self.last["pnl"]
            self.d.send("summary", f"{self.name}: daily summary {p['day']}",
                        f"realised PnL {p['realized_today']:.8g} {snap['coin']}, fees {p['fees_today']:.8g}, "
                        f"{p['fills_today']} fills. Now: {summary_line(snap)}")
        self.last = snap

    def _liquidation(self, snap: dict) -> None:
        liq = snap["liquidation"]
        limit = self.settings.liquidation_distance or liq["danger_distance"]
        dist = liq["distance"]
        if dist is not None and dist < limit and not self.liq_told:
            self.liq_told = True
            self.d.send("danger", f"{self.name}: liquidation {dist:.2%} away",
                        f"liquidation price {liq['price']:g}, below the {limit:.2%} threshold. {summary_line(snap)}")
        elif dist is None or dist > REARM * limit:
            self.liq_told = False

    def fill(self, rec: dict) -> None:
        """One fill of the bot's (a `last_fills` row of the state file)."""
        line = (f"{rec['side']} {rec['qty']:g} @ {rec['price']:g} ({rec['kind']} {rec['position_side']})"
                + (f", PnL {rec['realized_pnl']:.8g}" if rec["realized_pnl"] else ""))
        self.d.send("fills", f"{self.name}: fills", line)
        if rec["kind"] in ("stop_loss", "unstuck"):
            what = "stop loss" if rec["kind"] == "stop_loss" else "auto-unstuck close"
            self.d.send("danger", f"{self.name}: {what} filled", line)

    def error(self, message: str) -> None:
        self.d.send("errors", f"{self.name}: errors", message)

    def stream(self, name: str, up: bool, now_ms: float) -> None:
        if not up:
            return
        if name not in self.connected:
            self.connected.add(name)
            return
        self.reconnects.append(now_ms)
        while self.reconnects and self.reconnects[0] < now_ms - STORM_WINDOW_S * 1000:
            self.reconnects.popleft()
        if len(self.reconnects) >= STORM_COUNT and now_ms - self.storm_told >= STORM_WINDOW_S * 1000:
            self.storm_told = now_ms
            self.d.send("danger", f"{self.name}: reconnect storm",
                        f"{len(self.reconnects)} stream reconnects in the last {STORM_WINDOW_S / 60:.0f} min")

    def close(self, snap: dict | None, reason: str = "") -> None:
        body = (reason + ". " if reason else "") + (summary_line(snap) if snap else "")
        self.d.send("stop", f"{self.name}: stopped", body.strip() or "stopped")


def summary_line(s: dict) -> str:
    """Price, positions, balance, equity, liquidation and today's PnL in one line."""
    pos = [f"{side} {p['size']:g} @ {p['price']:g}" for side, p in s["positions"].items() if p["size"]]
    liq = s["liquidation"]
    return (f"{s['symbol']} {s['price']:g} | {', '.join(pos) or 'flat'} | balance {s['balance']:.8g} {s['coin']}, "
            f"equity {s['equity']:.8g}" + (f" | liquidation {liq['price']:g} ({liq['distance']:.1%})"
                                           if liq["distance"] is not None else "")
            + f" | PnL today {s['pnl']['realized_today']:.8g}")
