"""Prometheus metrics of every instance, read from the state files at each scrape (prometheus_client).
Every metric is named `passivx_*` and labelled `exchange`, `instance` (the config name, `.paper` added
for paper trading), `symbol`; per-side ones add `side`,
period ones `period` (`today`, `since_start`)."""
from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily

from passivx.monitor.instances import load

LABELS = ["exchange", "instance", "symbol"]
# name, help, value of an annotated state (None: not exported for it)
SIMPLE = (
    ("up", "1 when the bot's heartbeat is fresh (status alive), else 0", lambda s: float(s["status"] == "alive")),
    ("trading", "1 when the bot places orders (streams up, state trusted)",
     lambda s: float(s["connection"]["trading"] and s["status"] == "alive")),
    ("heartbeat_age_seconds", "Seconds since the bot last wrote its state", lambda s: s["heartbeat_age_s"]),
    ("start_time_seconds", "When the bot started (Unix time)", lambda s: s["started_ms"] / 1000),
    ("price", "Last traded price", lambda s: s["price"]),
    ("balance", "Wallet balance (quote, or coin for inverse)", lambda s: s["balance"]),
    ("equity", "Balance plus unrealised PnL", lambda s: s["equity"]),
    ("liquidation_price", "Cross-margin liquidation price", lambda s: s["liquidation"]["price"]),
    ("liquidation_distance_ratio", "Distance from the price to the liquidation price, over the price",
     lambda s: s["liquidation"]["distance"]),
    ("open_orders", "The bot's open orders", lambda s: len(s["open_orders"])),
    ("errors_last_hour", "Errors logged in the last hour", lambda s: s["errors"]["last_hour"]),
    ("warnings_last_hour", "Warnings logged in the last hour", lambda s: s["errors"]["warnings_last_hour"]),
    ("reconnects", "Stream reconnects since start", lambda s: s["connection"]["reconnects"]),
)
SIDES = (
    ("position_size", "Position size (long > 0, short < 0)", "size"),
    ("position_price", "Position entry price", "price"),
    ("wallet_exposure_ratio", "Position cost over balance", "wallet_exposure"),
)
PERIODS = (
    ("realized_pnl", "Realised PnL of the bot's fills", "realized"),
    ("fees", "Fees of the bot's fills (at the market's rates)", "fees"),
    ("fills", "Fills of the bot's orders", "fills"),
)


class StateCollector:
    """A prometheus_client collector over the state files under `root`."""

    def __init__(self, root: str | Path):
        self.root = root

    def collect(self):
        found, _ = load(self.root)
        fams = []
        for name, doc, get in SIMPLE:
            g = GaugeMetricFamily(f"passivx_{name}", doc, labels=LABELS)
            for s in found:
                value = get(s)
                if value is not None:
                    g.add_metric(_labels(s), float(value))
            fams.append(g)
        for name, doc, field in SIDES:
            g = GaugeMetricFamily(f"passivx_{name}", doc, labels=LABELS + ["side"])
            for s in found:
                for side in ("long", "short"):
                    if s["positions"][side][field] is not None:
                        g.add_metric(_labels(s) + [side], float(s["positions"][side][field]))
            fams.append(g)
        for name, doc, field in PERIODS:
            g = GaugeMetricFamily(f"passivx_{name}", doc, labels=LABELS + ["period"])
            for s in found:
                g.add_metric(_labels(s) + ["today"], float(s["pnl"][f"{field}_today"]))
                g.add_metric(_labels(s) + ["since_start"], float(s["pnl"][f"{field}_total"]))
            fams.append(g)
        info = GaugeMetricFamily("passivx_instance_info", "Always 1; labels: mode, strategy, status, coin",
                                 labels=LABELS + ["mode", "strategy", "status", "coin"])
        for s in found:
            info.add_metric(_labels(s) + [s["mode"], s["strategy"], s["status"], s["coin"]], 1.0)
        fams.append(info)
        return fams


def _labels(s: dict) -> list[str]:
    return [s["exchange"], s["instance"], s["symbol"]]


def registry(root: str | Path) -> CollectorRegistry:
    """A registry holding only the instances' metrics (render with `prometheus_client.generate_latest`)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(StateCollector(root))
    return reg
