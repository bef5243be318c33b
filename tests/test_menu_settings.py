"""Settings in the menu, driven in a pseudo-terminal: API keys (add typed or imported, refused names,
overwrite asked, masked view, delete) and live / backtest configurations (list, view, import validated,
validate, delete). Checks the files written, their content and mode, and that no secret is ever shown."""
from __future__ import annotations

import json
import stat
from pathlib import Path

from menu_pty import Menu, work_dir

KEY, SECRET = "AKIAkeyvalue0123", "topsecret-secret-456789"
KEY2, SECRET2 = "ZZZZotherkey987", "another-secret-000111"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def no_secret_shown(m: Menu, *pairs: tuple[str, str]) -> None:
    """Neither key nor secret, nor more than the key's first 4 characters, ever reached the terminal."""
    for key, secret in pairs:
        assert secret not in m.transcript and secret[:4] not in m.transcript
        assert key[:5] not in m.transcript


def to_keys(m: Menu) -> None:
    m.expect("| Main Menu |")
    m.select("Settings")
    m.select("API Keys")


def leave(m: Menu) -> None:
    """From a Settings screen back to the main menu, then Exit."""
    m.select("<- Back")
    m.select("<- Back")
    m.exit()


def asked(m: Menu, labels: tuple[str, ...], question: str, answer: str) -> str:
    """Select `labels` in turn and answer `question`; what the screen then showed before "Press Enter"."""
    for label in labels:
        m.select(label)
    m.answer(question, answer)
    return m.enter()


def import_live(m: Menu, source: Path) -> None:
    """Live Configurations -> Import a binance config from `source`."""
    m.select("Import")
    m.select("binance")
    m.answer("Path of the .json file to import:", str(source))


def test_add_typed_key_refuses_bad_names_and_writes_0600_atomically(tmp_path):
    work = work_dir(tmp_path)
    with Menu(work) as m:
        to_keys(m)
        m.select("Add API Key")
        m.refused("  > ", "x", "enter a number from 1 to 3")
        m.select("bybit")
        shown = m.expect("Name:")
        assert "configs on bybit without a key file: BTCUSD_default" in shown
        m.child.sendline("")
        m.expect("cannot be empty")
        for bad, reason in (("my key", "no spaces"), ("tab\tname", "no spaces"), ("a/b", "no path characters"),
                            ("..", "no path characters"), (".hidden", "no path characters"),
                            ("a\\b", "no path characters"), ("~x", "no path characters")):
            m.refused("Name:", bad, reason)
        m.answer("Name:", "BTCUSD_default.json")  # the .json a user may type is not doubled
        m.refused("  > ", "4", "enter a number from 1 to 3")
        m.select("Type them")
        m.refused("API key (hidden):", "", "cannot be empty")
        m.answer("API key (hidden):", KEY)
        m.refused("API secret (hidden):", "   ", "cannot be empty")
        m.answer("API secret (hidden):", SECRET)
        shown = m.enter()
        path = work / "api_keys" / "bybit" / "BTCUSD_default.json"
        assert f"wrote api_keys/bybit/BTCUSD_default.json (mode 0600): key {KEY[:4]}****, secret ****" in shown
        assert "command: printf '[\"KEY\", \"SECRET\"]' > api_keys/bybit/BTCUSD_default.json && chmod 600" in shown
        assert path.read_text() == json.dumps([KEY, SECRET]) and json.loads(path.read_text()) == [KEY, SECRET]
        assert mode(path) == 0o600 and mode(path.parent) == 0o700
        assert sorted(p.name for p in path.parent.iterdir()) == ["BTCUSD_default.json"]  # no temp file left
        leave(m)
        no_secret_shown(m, (KEY, SECRET))


def test_existing_name_asks_before_overwriting_and_import_from_json(tmp_path):
    work = work_dir(tmp_path)
    path = work / "api_keys" / "binance" / "mine.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps([KEY, SECRET]))
    path.chmod(0o600)
    source = tmp_path / "downloaded.json"
    source.write_text(json.dumps([KEY2, SECRET2]))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"key": KEY2, "secret": SECRET2}))
    with Menu(work) as m:
        to_keys(m)
        m.select("Add API Key")
        m.select("binance")
        m.answer("Name:", "mine")
        m.refused("Overwrite it? (yes/no)", "y", "type yes or no")
        m.answer("Overwrite it? (yes/no)", "no")
        m.expect("kept as it is")
        assert json.loads(path.read_text()) == [KEY, SECRET]

        m.select("Add API Key")
        m.select("binance")
        m.answer("Name:", "mine")
        m.answer("Overwrite it? (yes/no)", "YES")
        m.select("Import from a JSON file")
        m.refused("Path of the JSON file:", str(tmp_path / "nope.json"), "file not found")
        m.refused("Path of the JSON file:", str(broken), 'expected a JSON file holding a list of two non-empty strings')
        m.refused("Path of the JSON file:", "", "cannot be empty")
        m.answer("Path of the JSON file:", str(source))
        shown = m.enter()
        assert f"key {KEY2[:4]}****, secret ****" in shown and "still holds the secret" in shown
        assert json.loads(path.read_text()) == [KEY2, SECRET2] and mode(path) == 0o600
        leave(m)
        no_secret_shown(m, (KEY, SECRET), (KEY2, SECRET2))


def test_view_shows_masked_keys_and_problems_and_delete_asks(tmp_path):
    work = work_dir(tmp_path)
    good = work / "api_keys" / "bybit" / "BTCUSD_default.json"
    loose = work / "api_keys" / "binance" / "loose.json"
    for path, pair, perm in ((good, [KEY, SECRET], 0o600), (loose, [KEY2, SECRET2], 0o644)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(pair))
        path.chmod(perm)
    with Menu(work) as m:
        to_keys(m)
        shown = m.visit("View Keys")
        assert f"bybit    BTCUSD_default: key {KEY[:4]}****, secret **** (config found)" in shown
        assert "binance  loose: unusable:" in shown and "chmod 600 api_keys/binance/loose.json" in shown
        assert "no config of that name" in shown
        m.select("Delete API Key")
        assert m.labels() == ["binance/loose", "bybit/BTCUSD_default", "<- Back"]
        m.select("bybit/BTCUSD_default")
        m.refused("Delete api_keys/bybit/BTCUSD_default.json? (yes/no)", "sure", "type yes or no")
        m.answer("(yes/no)", "n")
        m.expect("kept")
        assert good.exists()
        m.enter()
        shown = asked(m, ("Delete API Key", "bybit/BTCUSD_default"), "(yes/no)", "yes")
        assert "deleted api_keys/bybit/BTCUSD_default.json" in shown
        assert "command: rm api_keys/bybit/BTCUSD_default.json" in shown
        assert not good.exists() and loose.exists()
        leave(m)
        no_secret_shown(m, (KEY, SECRET), (KEY2, SECRET2))


def test_live_configurations_list_view_import_validate_delete(tmp_path):
    work = work_dir(tmp_path)
    shipped = json.loads((work / "configs" / "live" / "binance" / "ETHUSDT_default.json").read_text())
    valid = tmp_path / "incoming.json"
    valid.write_text(json.dumps({**shipped, "config_name": "my_eth"}, indent=2))
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({**shipped, "config_name": "bad_eth", "grid_spacing": 2.0}))
    spaced = tmp_path / "spaced.json"
    spaced.write_text(json.dumps({**shipped, "config_name": "my eth"}))
    (work / "configs" / "live" / "bybit" / "broken.json").write_text("{not json")
    with Menu(work) as m:
        m.expect("| Main Menu |")
        shown = m.visit("Settings", "Live Configurations", "List")
        assert "binance/ETHUSDT_default: ETHUSDT_default: classic, ETHUSDT (no API key file)" in shown
        assert "binance/BTCUSDT_neat_grid: BTCUSDT_neat_grid: neat_grid, BTCUSDT" in shown
        assert "bybit/broken: NOT VALID: configs/live/bybit/broken.json: not valid JSON" in shown

        shown = m.visit("View", "bybit/BTCUSD_default")
        assert '"grid_coefficient"' in shown and "command: cat configs/live/bybit/BTCUSD_default.json" in shown

        m.select("Import")
        m.select("binance")
        m.refused("Path of the .json file to import:", str(tmp_path / "missing.json"), "no such file")
        m.answer("Path of the .json file to import:", str(invalid))
        shown = m.enter()
        assert f"refused: {invalid}: key 'grid_spacing'" in shown
        assert not (work / "configs" / "live" / "binance" / "bad_eth.json").exists()
        import_live(m, spaced)
        assert "config_name 'my eth' cannot name a file: no spaces" in m.enter()

        import_live(m, valid)
        shown = m.enter()
        dest = work / "configs" / "live" / "binance" / "my_eth.json"
        assert "imported configs/live/binance/my_eth.json: my_eth: classic, ETHUSDT" in shown
        assert "add api_keys/binance/my_eth.json in Settings -> API Keys" in shown
        assert f"command: cp {valid} configs/live/binance/my_eth.json" in shown
        assert dest.read_bytes() == valid.read_bytes()
        valid.write_text(json.dumps({**shipped, "config_name": "my_eth", "leverage": 7}))
        import_live(m, valid)
        m.answer("configs/live/binance/my_eth.json exists. Overwrite it? (yes/no)", "no")
        m.expect("kept as it is")
        assert json.loads(dest.read_text())["leverage"] == shipped["leverage"]
        m.enter()
        import_live(m, valid)
        m.answer("Overwrite it? (yes/no)", "yes")
        m.expect("imported")
        assert json.loads(dest.read_text())["leverage"] == 7
        m.enter()

        assert "error: configs/live/bybit/broken.json: not valid JSON" in m.visit("Validate", "bybit/broken")
        assert "ok: my_eth: classic, ETHUSDT (no API key file)" in m.visit("Validate", "binance/my_eth")

        shown = asked(m, ("Delete", "binance/my_eth"), "Delete configs/live/binance/my_eth.json? (yes/no)", "no")
        assert "kept" in shown and dest.exists()
        shown = asked(m, ("Delete", "binance/my_eth"), "(yes/no)", "yes")
        assert "command: rm configs/live/binance/my_eth.json" in shown and not dest.exists()
        leave(m)


def test_backtesting_configurations_import_validate_delete(tmp_path):
    work = work_dir(tmp_path)
    good = tmp_path / "week.hjson"
    good.write_text("{\n  # one week\n  exchange: synthetic\n  symbol: BTCUSDT\n  start_date: 2024-01-01\n"
                    "  end_date: 2024-01-07\n  starting_balance: 500\n}\n")
    bad = tmp_path / "late.hjson"
    bad.write_text(good.read_text().replace("start_date: 2024-01-01", "start_date: 2024-01-08"))
    with Menu(work) as m:
        m.expect("| Main Menu |")
        m.select("Settings")
        m.select("Backtesting Configurations")
        m.select("Import")
        m.answer("Path of the .hjson file to import:", str(bad))
        assert f"refused: {bad}: key 'end_date': 2024-01-07 is before start_date 2024-01-08" in m.enter()
        assert not (work / "configs" / "backtest" / "late.hjson").exists()
        m.select("Import")
        m.answer("Path of the .hjson file to import:", str(good))
        shown = m.enter()
        assert "imported configs/backtest/week.hjson: synthetic BTCUSDT 2024-01-01..2024-01-07" in shown
        assert (work / "configs" / "backtest" / "week.hjson").read_bytes() == good.read_bytes()  # comments kept
        shown = m.visit("List")
        assert "default: synthetic BTCUSDT 2024-01-01..2024-01-07, trades, starting balance 1000" in shown
        assert "week: synthetic BTCUSDT" in shown and "command: ls configs/backtest/" in shown
        shown = m.visit("Validate", "week")
        assert "ok: synthetic BTCUSDT 2024-01-01..2024-01-07, trades, starting balance 500" in shown
        assert "deleted" in asked(m, ("Delete", "week"), "Delete configs/backtest/week.hjson? (yes/no)", "yes")
        assert not (work / "configs" / "backtest" / "week.hjson").exists()
        leave(m)
