"""The Help screen: what each entry does, where files live, which README sections to read."""
from __future__ import annotations

from passivx.cli.menu.prompts import pause, say

TEXT = """
  Help
  __________________________________________________

  [1] / [2] Live: pick a config of that exchange that has an API key file, choose live, testnet (or
      paper, where this version has it), check the summary and type yes. Runs `passivx live EXCHANGE
      CONFIG`; Ctrl-C stops the bot.
  [3] Backtest: pick backtest settings and a live config, or none to run the Jackrabbit optimizer on the
      settings' ranges. Runs `passivx backtest SETTINGS --jit [--config CONFIG]` and offers to open the
      plots.
  [4] Settings: API keys (add by hidden input or from a JSON file, view masked, delete); live and
      backtesting configurations (list, view, import after validation, validate, delete).
  [5] Help: this page.   [6] Exit (Ctrl-C or Ctrl-D also leave, from any screen).

  Every action prints the command it equals: the same thing runs without the menu.

  Where files live (relative to the folder passivx runs in):
    configs/live/{binance,bybit}/NAME.json   live configs
    configs/backtest/NAME.hjson              backtest settings
    api_keys/{exchange}/NAME.json            ["KEY", "SECRET"], mode 0600; NAME is the config_name of the
                                             live config it belongs to
    backtests/, optimize/                    results; logs/{exchange}/ the live bot's logs

  README sections: "Menu", "Commands", "Configs", "Live trading", "API keys", "Data cache".
"""


def help_screen() -> None:
    say(TEXT)
    pause()
