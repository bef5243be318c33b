"""The main menu and its Live and Backtest entries (Settings: `settings.py`, Help: `help.py`)."""
from __future__ import annotations

import time

from passivx.cli.menu import settings
from passivx.cli.menu.help import help_screen
from passivx.cli.menu.configs import BACKTEST, LIVE, label, live_configs, live_summary
from passivx.cli.menu.files import BACKTEST_DIR, KEYS_DIR, LIVE_DIR
from passivx.cli.menu.prompts import choose, command, confirm, pause, say
from passivx.cli.menu.commands import live_option, new_plots, open_files, run_command

BANNER = r"""
  ____________________________________________________

  __________                      __       ____  __
  \______   \____    ______ ________|__  __\   \/ /
    |     ___/__  \  /  ___//  ___/  |  \/ / \    /
    |    |    / __ \_\___ \ \___ \|  |\   /  /    \
    |____|   (____  /____  \____  \__| \_/  /___/\ \
                  \/     \/     \/                \/

  ____________________________________________________
"""
LIVE_TITLES = {"binance": "Live - Binance USDT-M perpetual futures", "bybit": "Live - Bybit inverse perpetual futures"}


def main_menu() -> None:
    """The main menu until Exit (Ctrl-C / Ctrl-D propagate to the caller)."""
    entries = [(LIVE_TITLES["binance"], lambda: live_screen("binance")),
               (LIVE_TITLES["bybit"], lambda: live_screen("bybit")), ("Backtest", backtest_screen),
               ("Settings", settings.settings_screen), ("Help", help_screen)]
    say(BANNER)
    while True:
        i = choose("| Main Menu |", [title for title, _ in entries], back="Exit")
        if i is None:
            return
        entries[i][1]()


def live_screen(exchange: str) -> None:
    """Pick a config of `exchange` that has its API key file (any, for paper mode), how to run it, see what
    will run, confirm with an explicit yes, run `passivx live`."""
    paper = live_option("paper")
    rows, broken = live_configs(exchange)
    say()
    lacking = [cfg.config_name for _, cfg, has in rows if not has]
    if lacking:
        say(f"  without an API key file ({KEYS_DIR}/{exchange}/NAME.json): {', '.join(lacking)}")
        say("  add one in Settings -> API Keys, named after the config"
            + ("; without keys a config can run in paper mode only" if paper else ""))
    for e in broken:
        say(f"  not valid (fix or delete it in Settings -> Live Configurations): {e}")
    usable = [r for r in rows if r[2] or paper]
    if not rows:
        say(f"  no valid config in {LIVE_DIR / exchange}/ (of the folder passivx runs in): import one in "
            f"Settings -> Live Configurations")
    elif not usable:
        say(f"  no config in {LIVE_DIR / exchange}/ has an API key file: nothing to run")
    if not usable:
        pause()
        return
    i = choose(f"{LIVE_TITLES[exchange]}: which config?",
               [f"{cfg.config_name} ({cfg.mode}, {cfg.symbol})" + ("" if has else ": no key file, paper only")
                for _, cfg, has in usable])
    if i is None:
        return
    path, cfg, has = usable[i]
    ways = [("Live: real orders, real money", []), ("Testnet: the exchange's test environment", ["--testnet"])]
    ways = (ways if has else []) + ([("Paper: live market data, simulated fills, no keys used", ["--paper"])]
                                    if paper else [])
    j = choose("How should it run?", [w[0] for w in ways])
    if j is None:
        return
    flags = ways[j][1]
    argv = ["live", exchange, path.stem, *flags]  # a name in configs/live/EXCHANGE/
    say()
    for line in live_summary(cfg, exchange, testnet="--testnet" in flags, paper="--paper" in flags):
        say(f"  {line}")
    say(f"  Ctrl-C stops it; results in paper/{exchange}/{cfg.config_name}/" if "--paper" in flags else
        "  Ctrl-C stops the bot; its orders stay on the exchange (add --cancel-on-exit to cancel them)")
    command(argv)
    if not confirm("Start it?"):
        say("not started")
        return
    run_command(argv)
    pause()


def backtest_screen() -> None:
    """Pick settings and a live config (or none: the optimizer), run `passivx backtest`, offer the plots."""
    settings_files = BACKTEST.files()
    if not settings_files:
        say(f"  no backtest settings in {BACKTEST_DIR}/: import some in Settings -> Backtesting Configurations")
        pause()
        return
    i = choose("Backtest: which settings?", [label(p) for p in settings_files])
    if i is None:
        return
    live_files = LIVE.files()
    j = choose("Backtest which live config?", ["none: optimize (Jackrabbit searches the settings' ranges)",
                                               *(label(p) for p in live_files)])
    if j is None:
        return
    argv = ["backtest", str(settings_files[i]), "--jit"] + (["--config", str(live_files[j - 1])] if j else [])
    command(argv)
    started = time.time() - 1
    if run_command(argv) == 0:
        plots = new_plots(started)
        if plots and confirm(f"Open the {len(plots)} plots in {plots[0].parent}?"):
            open_files(plots)
    pause()
