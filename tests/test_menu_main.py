"""The interactive menu's frame, driven in a pseudo-terminal: banner and main menu, bad input re-prompts,
Help, Exit, Ctrl-C and Ctrl-D from every screen (no traceback), and plain help without a terminal."""
from __future__ import annotations

import subprocess
import sys

import pytest

from menu_pty import MAIN, Menu, work_dir

MAIN_ITEMS = ["Live - Binance USDT-M perpetual futures", "Live - Bybit inverse perpetual futures", "Backtest",
              "Settings", "Help", "Exit"]


def test_without_a_terminal_no_arguments_print_help_and_exit_0(tmp_path):
    r = subprocess.run([sys.executable, str(MAIN)], cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0
    assert r.stdout.startswith("Usage:") and "backtest" in r.stdout and "Main Menu" not in r.stdout


def test_banner_main_menu_bad_input_help_and_exit(tmp_path):
    with Menu(work_dir(tmp_path)) as m:
        m.expect(r"\______   \____")  # seed 000's banner
        m.expect("| Main Menu |")
        assert m.labels() == MAIN_ITEMS
        for bad in ("", "0", "7", "abc", "1.5", "-1", "²"):
            m.refused("  > ", bad, "enter a number from 1 to 6")
        m.select("Help")
        shown = m.expect("Press Enter")
        for text in ("configs/live/{binance,bybit}/NAME.json", "configs/backtest/NAME.hjson",
                     "api_keys/{exchange}/NAME.json", "mode 0600", "passivx live EXCHANGE", "passivx backtest",
                     '"Menu"', '"Live trading"', "Ctrl-C or Ctrl-D"):
            assert text in shown
        m.child.sendline("")
        m.exit()


def _key_file(work, exchange="bybit", name="BTCUSD_default"):
    path = work / "api_keys" / exchange / f"{name}.json"
    path.parent.mkdir(parents=True)
    path.write_text('["k3yk3yk3y", "s3cr3ts3cr3t"]')
    path.chmod(0o600)


# screen name -> how to reach it from the start (after the main menu is shown)
SCREENS = {
    "main menu": [],
    "live: config choice": [("select", "Live - Bybit")],
    "live: how to run": [("select", "Live - Bybit"), ("select", "BTCUSD_default")],
    "live: start? yes/no": [("select", "Live - Bybit"), ("select", "BTCUSD_default"), ("select", "Live:"),
                            ("expect", "Start it?")],
    "backtest: settings choice": [("select", "Backtest")],
    "backtest: live config choice": [("select", "Backtest"), ("select", "default")],
    "settings": [("select", "Settings")],
    "api keys": [("select", "Settings"), ("select", "API Keys")],
    "api keys: name": [("select", "Settings"), ("select", "API Keys"), ("select", "Add"), ("select", "bybit"),
                       ("expect", "Name:")],
    "api keys: overwrite? yes/no": [("select", "Settings"), ("select", "API Keys"), ("select", "Add"),
                                    ("select", "bybit"), ("answer", "Name:", "BTCUSD_default"),
                                    ("expect", "Overwrite it?")],
    "api keys: hidden key": [("select", "Settings"), ("select", "API Keys"), ("select", "Add"), ("select", "bybit"),
                             ("answer", "Name:", "other"), ("select", "Type them"), ("expect", "API key (hidden):")],
    "api keys: hidden secret": [("select", "Settings"), ("select", "API Keys"), ("select", "Add"),
                                ("select", "bybit"), ("answer", "Name:", "other"), ("select", "Type them"),
                                ("answer", "API key (hidden):", "abcdefgh"), ("expect", "API secret (hidden):")],
    "api keys: view, press Enter": [("select", "Settings"), ("select", "API Keys"), ("select", "View"),
                                    ("expect", "Press Enter")],
    "configs: import path": [("select", "Settings"), ("select", "Backtesting"), ("select", "Import"),
                             ("expect", "Path of the .hjson file to import:")],
    "configs: delete? yes/no": [("select", "Settings"), ("select", "Live Configurations"), ("select", "Delete"),
                                ("select", "bybit/BTCUSD_default"), ("expect", "Delete configs/live/bybit")],
    "help": [("select", "Help"), ("expect", "Press Enter")],
}


@pytest.mark.parametrize("key", ["c", "d"])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_ctrl_c_and_ctrl_d_leave_cleanly_from_every_screen(tmp_path, screen, key):
    work = work_dir(tmp_path)
    _key_file(work)
    with Menu(work) as m:
        m.expect("| Main Menu |")
        steps = SCREENS[screen]
        for action, *args in steps:
            getattr(m, action)(*args)
        if not steps or steps[-1][0] == "select":
            m.expect("  > ")  # the screen reached is a menu: wait for its prompt
        m.child.sendcontrol(key)
        assert m.finish() == (130 if key == "c" else 0)
        assert "s3cr3ts3cr3t" not in m.transcript and "k3yk3yk3y" not in m.transcript
