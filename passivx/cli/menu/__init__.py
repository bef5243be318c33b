"""The interactive menu: `passivx` (or `python3 main.py`) with no arguments, on a terminal.

Seed 000's main menu (Live on Binance or Bybit, Backtest, Settings, Help, Exit) over the commands: every
action prints and runs the equivalent `passivx ...` command. Modules: `prompts` (validated input, hidden
input, explicit yes/no), `files` (where files live, names, atomic writes), `keys` (API key files), `configs`
(live configs and backtest settings), `commands` (running a command in this terminal), `screens` (main menu,
Live, Backtest), `settings`, `help`."""
from __future__ import annotations


def run() -> int:
    """Show the menu until Exit (0), Ctrl-D (0) or Ctrl-C (130); no traceback either way."""
    from passivx.cli.menu.prompts import say
    from passivx.cli.menu.screens import main_menu

    try:
        main_menu()
    except EOFError:
        say()
        return 0
    except KeyboardInterrupt:
        say()
        return 130
    return 0
