"""The `passivx` command line. Each command lives in its own module and imports heavy libraries
(numba, pandas, ccxt) only inside its function, so `passivx --help` starts fast."""
from __future__ import annotations

import sys

import click

from passivx import __version__
from passivx.errors import PassivxError

# command name -> "module:attribute"; loaded only when that command runs or help lists it
COMMANDS = {
    "calc": "passivx.cli.calc_cmd:calc",
    "download": "passivx.cli.data_cmd:download",
    "data": "passivx.cli.data_cmd:data",
    "backtest": "passivx.cli.backtest_cmd:backtest",
    "live": "passivx.cli.live_cmd:live",
    "doctor": "passivx.cli.doctor_cmd:doctor",
    "status": "passivx.cli.status_cmd:status",
    "monitor": "passivx.cli.monitor_cmd:monitor",
    "optimize": "passivx.cli.optimize_cmd:optimize",
}


class PassivxGroup(click.Group):
    """Lazily loaded subcommands; user errors print as one line and exit 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        module = __import__(module_name, fromlist=[attr])
        return getattr(module, attr)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PassivxError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=PassivxGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="passivx")
@click.pass_context
def main(ctx: click.Context) -> None:
    """passivx: market-making grid bot for crypto perpetual futures, with backtester and optimizer.

    Without a command, on a terminal: the interactive menu."""
    if ctx.invoked_subcommand is None:
        if sys.stdin.isatty() and sys.stdout.isatty():
            from passivx.cli.menu import run

            ctx.exit(run())
        click.echo(ctx.get_help())
