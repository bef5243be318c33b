"""The menu's Live entries, driven in a pseudo-terminal against the simulated exchange (`passivx.sim`, on
127.0.0.1 via the PASSIVX_* endpoint variables): configs without keys are named with the fix, the summary
shows what will run, only an explicit yes starts it, the bot trades until Ctrl-C and the menu comes back;
no key or secret ever reaches the terminal. No real exchange is contacted."""
from __future__ import annotations

import json
import math
import time

from menu_pty import Menu, work_dir
from passivx.cli.menu.commands import live_option
from passivx.sim import SimExchange, run_in_thread

KEY, SECRET = "simkey-menu-0001", "simsecret-menu-0123456789"
UNREACHABLE = {f"PASSIVX_{ex}_{what}": url for ex in ("BYBIT", "BINANCE")
               for what, url in (("REST_URL", "http://127.0.0.1:9"), ("WS_PUBLIC_URL", "ws://127.0.0.1:9/ws"),
                                 ("WS_PRIVATE_URL", "ws://127.0.0.1:9/ws"))}


def add_keys(work, exchange: str, name: str) -> None:
    path = work / "api_keys" / exchange / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([KEY, SECRET]))
    path.chmod(0o600)


def test_live_bybit_runs_after_an_explicit_yes_and_ctrl_c_returns_to_the_menu(tmp_path):
    work = work_dir(tmp_path)
    add_keys(work, "bybit", "BTCUSD_default")
    sim = SimExchange("bybit", api_key=KEY, api_secret=SECRET, price=60000.0)
    with run_in_thread(sim) as s:
        with Menu(work, env=s.env(), timeout=60) as m:
            m.expect("| Main Menu |")
            m.select("Live - Bybit")
            m.select("BTCUSD_default (classic, BTCUSD)")
            m.select("Live: real orders, real money")
            shown = m.expect("Start it? (yes/no)")
            cfg = json.loads((work / "configs" / "live" / "bybit" / "BTCUSD_default.json").read_text())
            for label, value in (("symbol", "BTCUSD"), ("strategy", "classic"),
                                 ("balance share", f"{cfg['balance_pct']:g} ({cfg['balance_pct'] * 100:g} % of the "
                                                   f"balance)"), ("leverage", f"{cfg['leverage']:g}"),
                                 ("mode", "LIVE: real orders, real money")):
                assert f"{label:<22} {value}\r\n" in shown, shown
            assert "command: passivx live bybit BTCUSD_default\r\n" in shown
            for bad in ("y", "ok", ""):
                m.child.sendline(bad)
                m.expect("type yes or no")
                m.expect("Start it? (yes/no)")
            assert s.requests == []  # nothing sent before the yes
            m.child.sendline("yes")
            end = time.monotonic() + 60
            while not [o for o in s.open_orders() if o["client_id"].startswith("passivx-")]:
                assert time.monotonic() < end, m.transcript[-3000:]
                assert m.child.isalive(), m.transcript[-3000:]
                s.trade(60000.0, 1.0, "buy")
                s.trade(59999.5, 1.0, "sell")
                time.sleep(0.3)
            m.child.sendintr()  # Ctrl-C stops the bot, not the menu
            m.expect("Press Enter to return to the menu")
            m.child.sendline("")
            m.expect("| Main Menu |")
            m.exit()
            assert (work / "logs" / "bybit" / "BTCUSD_default.log").exists()
            assert KEY not in m.transcript and SECRET not in m.transcript


def test_testnet_summary_and_no_starts_nothing(tmp_path):
    work = work_dir(tmp_path)
    add_keys(work, "binance", "BTCUSDT_recursive_grid")
    with Menu(work, env=UNREACHABLE) as m:
        m.expect("| Main Menu |")
        m.select("Live - Binance")
        shown = m.expect("  > ")
        assert "without an API key file (api_keys/binance/NAME.json): BTCUSDT_clock, BTCUSDT_neat_grid" in shown
        assert "add one in Settings -> API Keys, named after the config" in shown
        m.child.sendline("x")
        m.expect("enter a number")
        m.select("BTCUSDT_recursive_grid (recursive_grid, BTCUSDT)")
        m.select("Testnet")
        shown = m.expect("Start it? (yes/no)")
        cfg = json.loads((work / "configs" / "live" / "binance" / "BTCUSDT_recursive_grid.json").read_text())
        we = [(side, cfg[side]["wallet_exposure_limit"]) for side in ("long", "short") if cfg[side]["enabled"]]
        assert "wallet exposure limit  " + ", ".join(f"{side} {x:g}" for side, x in we) + "\r\n" in shown
        assert f"leverage               {math.ceil(sum(x for _, x in we))} (the enabled limits summed" in shown
        assert "mode                   TESTNET" in shown
        assert "command: passivx live binance BTCUSDT_recursive_grid --testnet" in shown
        m.child.sendline("no")
        m.expect("not started")
        m.expect("| Main Menu |")
        m.exit()
        assert not (work / "logs").exists()  # the command never ran


def test_configs_without_keys_are_named_and_paper_mode_runs_without_them(tmp_path):
    """Without a key file a config is named with the fix; where `passivx live` has --paper it can still run
    on paper: public data from the simulated exchange, not one signed request."""
    work = work_dir(tmp_path)
    paper = live_option("paper")
    sim = SimExchange("bybit", api_key=KEY, api_secret=SECRET, price=60000.0)
    with run_in_thread(sim) as s:
        with Menu(work, env=s.env(), timeout=60) as m:
            m.expect("| Main Menu |")
            m.select("Live - Bybit")
            if not paper:
                shown = m.expect("Press Enter")
                assert "without an API key file (api_keys/bybit/NAME.json): BTCUSD_default" in shown
                assert "no config in configs/live/bybit/ has an API key file: nothing to run" in shown
                m.child.sendline("")
            else:
                shown = m.expect("which config?")
                assert "without an API key file (api_keys/bybit/NAME.json): BTCUSD_default" in shown
                assert "without keys a config can run in paper mode only" in shown
                m.select("BTCUSD_default (classic, BTCUSD): no key file, paper only")
                assert m.labels() == ["Paper: live market data, simulated fills, no keys used", "<- Back"]
                m.select("Paper")
                shown = m.expect("Start it? (yes/no)")
                assert "command: passivx live bybit BTCUSD_default --paper\r\n" in shown
                assert "mode                   paper" in shown
                m.child.sendline("yes")
                end = time.monotonic() + 60
                while not list((work / "paper").glob("bybit/*/*/")):
                    assert time.monotonic() < end and m.child.isalive(), m.transcript[-3000:]
                    s.trade(60000.0, 1.0, "buy")
                    time.sleep(0.3)
                m.child.sendintr()
                m.enter()
                assert not any(signed for _, _, signed in s.requests)
                assert "Traceback" not in m.transcript and "error:" not in m.transcript
            m.expect("| Main Menu |")
            m.exit()


def test_no_configs_and_invalid_configs_are_explained(tmp_path):
    work = tmp_path / "empty"
    (work / "configs" / "live" / "binance").mkdir(parents=True)
    (work / "configs" / "live" / "binance" / "broken.json").write_text('{"config_name": "broken"}')
    with Menu(work, env=UNREACHABLE) as m:
        m.expect("| Main Menu |")
        for exchange in ("Binance", "Bybit"):
            m.select(f"Live - {exchange}")
            shown = m.expect("Press Enter")
            assert f"no valid config in configs/live/{exchange.lower()}/ (of the folder passivx runs in): import " \
                   f"one in Settings -> Live Configurations" in shown
            assert ("not valid (fix or delete it in Settings -> Live Configurations): "
                    "configs/live/binance/broken.json: ") in shown if exchange == "Binance" else "not valid" not in shown
            m.child.sendline("")
        m.exit()
