"""`passivx status [--json]`: every bot found under state/, one row each (passivx.monitor.instances)."""
from __future__ import annotations

import json

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="A JSON list of the instances (each with its status).")
@click.option("--state-dir", default="state", show_default=True, type=click.Path(file_okay=False),
              help="Where the bots write their state files.")
def status(as_json: bool, state_dir: str) -> None:
    """Show every passivx live or paper bot found under STATE_DIR: alive, stale or stopped (by heartbeat),
    price, position, balance, equity, wallet exposure, liquidation distance, orders, today's PnL, errors.
    Rows in danger (liquidation near, stale heartbeat, errors, not trading) are red on a terminal."""
    from passivx.monitor.instances import load

    found, problems = load(state_dir)
    for p in problems:
        click.echo(f"warning: {p}", err=True)
    if as_json:
        click.echo(json.dumps(found, indent=1))
        return
    if not found:
        click.echo(f"no bots under {state_dir}/ (a running `passivx live` writes {state_dir}/EXCHANGE/CONFIG.json)")
        return
    rows = [HEADER] + [row(s) for s in found]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    click.echo(click.style(_fmt(rows[0], widths), bold=True))
    for s, r in zip(found, rows[1:]):
        click.echo(click.style(_fmt(r, widths), fg=colour(s)))
        if s["dangers"]:
            click.echo(click.style("    ! " + "; ".join(s["dangers"]), fg=colour(s)))


HEADER = ("STATUS", "EXCHANGE", "INSTANCE", "MODE", "SYMBOL", "PRICE", "POSITION", "BALANCE", "EQUITY", "WE L/S",
          "LIQ DIST", "ORDERS", "PNL TODAY", "ERR 1H", "HEARTBEAT")


def row(s: dict) -> tuple[str, ...]:
    """One table row of an annotated state."""
    pos = [f"{side} {abs(p['size']):g}@{p['price']:g}" for side, p in s["positions"].items() if p["size"]]
    dist = s["liquidation"]["distance"]
    p = s["positions"]
    return (s["status"], s["exchange"], s["instance"], s["mode"], s["symbol"], f"{s['price']:g}",
            " ".join(pos) or "flat", f"{s['balance']:.6g} {s['coin']}", f"{s['equity']:.6g}",
            "/".join("-" if p[k]["wallet_exposure"] is None else f"{p[k]['wallet_exposure']:.2f}" for k in p),
            "-" if dist is None else f"{dist:.1%}", str(len(s["open_orders"])), f"{s['pnl']['realized_today']:.6g}",
            str(s["errors"]["last_hour"]), _age(s["heartbeat_age_s"]))


def colour(s: dict) -> str | None:
    if s["dangers"]:
        return "red"
    return "green" if s["status"] == "alive" else None


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.0f}h ago"


def _fmt(cells, widths) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
