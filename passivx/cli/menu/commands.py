"""Running a passivx command from the menu: the same command line a user would type, in this process and
terminal (its progress bar and status line included)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import click

from passivx.cli.menu.prompts import say

RESULT_ROOTS = (Path("backtests"), Path("optimize"))  # where backtest and optimizer results go


def run_command(argv: Sequence[str]) -> int:
    """Run `passivx ARGV`; its exit code. Its errors print as on the command line (one `error:` line);
    Ctrl-C stops the command, not the menu."""
    from passivx.cli import main

    try:
        main.main(args=list(argv), prog_name="passivx", standalone_mode=False)
        return 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else int(e.code is not None)
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except (click.Abort, KeyboardInterrupt):
        say("interrupted")
        return 130


def live_option(name: str) -> bool:
    """Whether `passivx live` has the option `--name` (paper mode is newer than the live engine)."""
    from passivx.cli.live_cmd import live

    return any(p.name == name for p in live.params)


def new_plots(since: float) -> list[Path]:
    """The PNG plots of the newest result folder written since `since` (a time.time())."""
    found = [p for root in RESULT_ROOTS if root.is_dir() for p in root.rglob("*.png")
             if p.stat().st_mtime >= since]
    if not found:
        return []
    newest = max(found, key=lambda p: p.stat().st_mtime).parent
    return sorted(p for p in found if p.parent == newest)


def open_files(paths: Sequence[Path]) -> None:
    """Open each file in the desktop's viewer (xdg-open, open, start); say where they are if none works."""
    failed = [p for p in paths if click.launch(str(p), wait=True) != 0]
    if failed:
        say(f"could not open {len(failed)} file(s) (no viewer here?); they are in {failed[0].parent}")
