"""`passivx monitor`: a local web page of every bot under state/, with /api/instances and /metrics."""
from __future__ import annotations

import click

from passivx.errors import ConfigError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; other than loopback it needs a token.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535))
@click.option("--token", envvar="PASSIVX_MONITOR_TOKEN", default=None,
              help="Require this token (16+ characters) on every request. Prefer $PASSIVX_MONITOR_TOKEN: "
                   "a command line can be seen by other users.")
@click.option("--state-dir", default="state", show_default=True, type=click.Path(file_okay=False),
              help="Where the bots write their state files.")
def monitor(host: str, port: int, token: str | None, state_dir: str) -> None:
    """Serve a page showing every passivx bot (status, position, balance, liquidation, PnL, charts, orders,
    fills, log tail; refreshes by itself), JSON at /api/instances and Prometheus metrics at /metrics.
    Read-only. With a token, requests need `Authorization: Bearer TOKEN`, or open /?token=TOKEN once in a
    browser (a cookie keeps it). Stop with Ctrl-C."""
    from aiohttp import web

    from passivx.monitor.server import check_bind, make_app

    token = token or None
    check_bind(host, token)
    app = make_app(state_dir, token)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"passivx monitor on http://{shown}:{port}/" + (" (token required)" if token else "")
               + f", reading {state_dir}/; Ctrl-C stops it")
    try:
        web.run_app(app, host=host, port=port, print=None, access_log=None)
    except OSError as e:
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
