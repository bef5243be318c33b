"""Which events a running bot raises (passivx.notify.watch), driven by state-file snapshots with their own
clock: start, not trading for a while and back, a reconnect storm, the liquidation distance (once, re-armed
by hysteresis), a stop loss fill, the daily summary at the UTC day change, and the stop."""
from __future__ import annotations

import copy

from passivx.notify.config import Settings
from passivx.notify.watch import STORM_COUNT, Watcher
from test_status_statefile import engine, statefile  # noqa: F401 - the fixture

T0 = 1_767_225_000_000.0  # 2025-12-31 23:50 UTC


class Sent:
    """Records what the watcher hands the dispatcher."""

    def __init__(self):
        self.sent: list[tuple[str, str, str]] = []

    def send(self, event: str, title: str, body: str) -> None:
        self.sent.append((event, title, body))

    def take(self) -> list[tuple[str, str]]:
        out = [(e, t) for e, t, _ in self.sent]
        self.sent.clear()
        return out


def at(base: dict, seconds: float, trading: bool = True, distance: float | None = None, day: str = "2025-12-31",
       **pnl) -> dict:
    s = copy.deepcopy(base)
    s["heartbeat_ms"] = T0 + seconds * 1000
    s["connection"].update(trading=trading, paused="" if trading else "private stream down")
    s["liquidation"].update(distance=distance, price=None if distance is None else 50_000.0)
    s["pnl"].update(day=day, **pnl)
    return s


def test_events_of_a_day(statefile):  # noqa: F811
    base = statefile(engine()).snapshot()
    sent = Sent()
    w = Watcher(sent, Settings(untrusted_seconds=60, liquidation_distance=0.05), "bybit BTCUSD_default")
    w.observe(at(base, 0, trading=False))
    assert sent.take() == []  # starting: nothing yet
    w.observe(at(base, 5))
    assert sent.take() == [("start", "bybit BTCUSD_default: started")]
    w.observe(at(base, 10, trading=False))
    w.observe(at(base, 69, trading=False))
    assert sent.take() == []  # a short pause is normal
    w.observe(at(base, 71, trading=False))
    w.observe(at(base, 90, trading=False))
    (event, title, body), = sent.sent
    assert (event, title) == ("danger", "bybit BTCUSD_default: not placing orders") and "private stream down" in body
    sent.take()
    w.observe(at(base, 95))
    assert sent.take() == [("danger", "bybit BTCUSD_default: trading again")]

    w.observe(at(base, 100, distance=0.04))
    w.observe(at(base, 101, distance=0.03))
    w.observe(at(base, 102, distance=0.06))  # above the threshold but not past 1.5 x: not re-armed
    w.observe(at(base, 103, distance=0.04))
    assert sent.take() == [("danger", "bybit BTCUSD_default: liquidation 4.00% away")]
    w.observe(at(base, 104, distance=0.08))
    w.observe(at(base, 105, distance=0.045))
    assert sent.take() == [("danger", "bybit BTCUSD_default: liquidation 4.50% away")]

    for i in range(STORM_COUNT + 1):  # the first connection of each stream is no reconnect
        w.stream("public", True, T0 + 200_000 + i * 1000)
    w.stream("public", True, T0 + 300_000)
    assert sent.take() == [("danger", "bybit BTCUSD_default: reconnect storm")]

    w.fill({"side": "sell", "qty": 100.0, "price": 55_000.0, "kind": "stop_loss", "position_side": "long",
            "realized_pnl": -0.001})
    assert sent.take() == [("fills", "bybit BTCUSD_default: fills"),
                           ("danger", "bybit BTCUSD_default: stop loss filled")]

    w.observe(at(base, 500, realized_today=0.0123, fees_today=0.0004, fills_today=7))
    w.observe(at(base, 700, day="2026-01-01", realized_today=0.0, fees_today=0.0, fills_today=0))
    (event, title, body), = sent.sent
    assert (event, title) == ("summary", "bybit BTCUSD_default: daily summary 2025-12-31")
    assert "realised PnL 0.0123" in body and "7 fills" in body
    sent.take()
    w.close(at(base, 800), "")
    assert sent.take() == [("stop", "bybit BTCUSD_default: stopped")]


def test_the_instances_danger_distance_is_the_default_threshold(statefile):  # noqa: F811
    base = statefile(engine()).snapshot()  # classic: the config's stop_loss_liq_diff, 0.02
    sent = Sent()
    w = Watcher(sent, Settings(), "x")
    w.observe(at(base, 0, distance=0.03))
    w.observe(at(base, 1, distance=0.019))
    assert sent.take() == [("start", "x: started"), ("danger", "x: liquidation 1.90% away")]
