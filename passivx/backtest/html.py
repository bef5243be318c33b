"""`report.html`: one self-contained page (no external files or scripts) with a backtest's summary, its
daily table and the plots embedded as base64 PNGs, so it opens in any browser and can be mailed."""
from __future__ import annotations

import base64
import html
from pathlib import Path

from passivx.backtest.runner import BacktestResult

PLOTS = ("price.png", "balance_equity.png", "position.png", "drawdown.png")
_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
pre{background:#f6f6f6;padding:1em;overflow-x:auto}
table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
.liq{color:#c00;font-weight:bold}img{max-width:100%;display:block;margin:1em 0}"""


def _daily_rows(daily: list[dict]) -> str:
    head = "<tr><th>date</th><th>pnl</th><th>fees</th><th>fills</th><th>equity</th><th>drawdown</th></tr>"
    body = "".join(
        f"<tr><td>{r['date']}</td><td>{r['pnl']:.8g}</td><td>{r['fees']:.8g}</td><td>{r['fills']}</td>"
        f"<td>{r['equity']:.8g}</td><td>{r['drawdown']:.2%}</td></tr>" for r in daily)
    return f"<table>{head}{body}</table>"


def write_html(path: Path, result: BacktestResult, summary_text: str) -> None:
    """Write `path` from the summary text, the daily table and whichever plots exist beside it."""
    s = result.stats
    title = f"passivx backtest {s['exchange']} {s['symbol']} {s['config_name']}"
    text = html.escape(summary_text).replace("LIQUIDATED", '<span class="liq">LIQUIDATED</span>')
    images = "".join(
        f'<img alt="{name}" src="data:image/png;base64,{base64.b64encode((path.parent / name).read_bytes()).decode()}">'
        for name in PLOTS if (path.parent / name).exists())
    page = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1><pre>{text}</pre>"
            f"<h2>Daily</h2>{_daily_rows(result.daily)}{'<h2>Plots</h2>' + images if images else ''}"
            f"<p>Full figures: stats.json, fills.csv, equity.csv, daily.csv beside this file.</p></body></html>\n")
    path.write_text(page, encoding="utf-8")
