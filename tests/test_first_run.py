"""A new user's first hour: the first run says it compiles, the compiled-code cache survives edits of
files without jitted code, literal arguments do not multiply compiles, and bad input gives one line."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from passivx.cli import main

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs/live/binance/BTCUSDT_recursive_grid.json"
SETTINGS = ROOT / "configs/backtest/default.hjson"


def one_error_line(result, *words: str) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_the_cache_key_follows_jitted_sources_only(tmp_path):
    from passivx.calc.jit import _source_hash, compiled_sources

    package = tmp_path / "passivx"
    shutil.copytree(ROOT / "passivx", package, ignore=shutil.ignore_patterns("__pycache__"))
    names = {f"{p.parent.name}/{p.name}" for p in compiled_sources(package)}
    assert {"calc/entry.py", "calc/layout.py", "backtest/engine.py", "backtest/layout.py"} <= names
    assert not names & {"backtest/report.py", "backtest/stats.py", "backtest/plots.py", "backtest/runner.py"}
    before = _source_hash(package)
    (package / "backtest" / "report.py").write_text("# a report edit\n", encoding="utf-8")
    assert _source_hash(package) == before
    (package / "backtest" / "layout.py").write_text("# a constant edit\n", encoding="utf-8")
    assert _source_hash(package) != before


def test_literal_arguments_compile_one_specialisation(tmp_path):
    code = f"""
import os
os.environ["PASSIVX_NUMBA_CACHE"] = {str(tmp_path)!r}
from passivx.calc.jit import jit

@jit
def inner(side, x):
    return side * x

@jit
def outer(x):
    return inner(1, x) + inner(-1, x) + inner(True, x)

result = outer(2.0)
typed = getattr(inner, "linked", inner)  # the link-only twin, or the function itself without linking
print(result, len(typed.signatures), [str(t) for t in typed.signatures[0]])
"""
    script = tmp_path / "literals.py"  # numba caches only functions defined in a file
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.split(maxsplit=2)
    assert out[0] == "2.0" and out[1] == "2"  # int64 and bool, not one per value (1, -1, True)
    assert "Literal" not in out[2]


def test_first_run_notice_only_when_the_cache_lacks_the_code(tmp_path, monkeypatch):
    from passivx import firstrun

    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    monkeypatch.setattr("passivx.calc.jit.cache_dir", lambda: tmp_path / "hash")
    assert firstrun.needs_compile(firstrun.CALCULATOR[0])
    (tmp_path / "hash" / "calc_x").mkdir(parents=True)
    (tmp_path / "hash" / "calc_x" / "entry.ideal_orders-9.py311.nbi").write_bytes(b"")
    assert not firstrun.needs_compile(firstrun.CALCULATOR[0]) and firstrun.needs_compile(firstrun.BACKTEST[0])
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    assert not firstrun.needs_compile(firstrun.BACKTEST[0])


def test_first_calc_says_it_compiles_and_the_second_does_not(tmp_path):
    env = {**os.environ, "PASSIVX_NUMBA_CACHE": str(tmp_path / "numba"), "PASSIVX_CACHE_DIR": str(tmp_path / "c")}
    env.pop("NUMBA_DISABLE_JIT", None)
    args = [sys.executable, "-m", "passivx", "calc", str(CONFIG), "--price", "60000", "--balance", "1000",
            "--exchange", "binance"]
    first = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert first.returncode == 0, first.stderr
    assert first.stderr.startswith("compiling the calculator, first run only, about ")
    second = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert second.returncode == 0 and second.stderr == "" and second.stdout == first.stdout


def test_ctrl_c_while_compiling_stops_at_once(tmp_path):
    import signal
    import time

    env = {**os.environ, "PASSIVX_NUMBA_CACHE": str(tmp_path / "numba"), "PASSIVX_CACHE_DIR": str(tmp_path / "c")}
    env.pop("NUMBA_DISABLE_JIT", None)
    proc = subprocess.Popen([sys.executable, "-m", "passivx", "calc", str(CONFIG), "--price", "1", "--balance",
                             "1", "--exchange", "binance"], stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    assert proc.stderr.readline().startswith("compiling the calculator")
    time.sleep(2)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGINT and time.monotonic() - sent < 5


@pytest.mark.parametrize("content,words", [
    (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), ("not a text file",)),
    (b"{\n starting_balance: 1e999\n}\n", ("not valid hjson", "too large")),
])
def test_unusable_settings_files_name_the_file(tmp_path, content, words):
    bad = tmp_path / "bad.hjson"
    bad.write_bytes(content)
    one_error_line(CliRunner().invoke(main, ["backtest", str(bad), "--config", str(CONFIG)]), str(bad), *words)
    one_error_line(CliRunner().invoke(main, ["backtest", str(SETTINGS), "--config", str(bad)]), str(bad),
                   "not a text file" if b"ELF" in content else "not valid JSON")


def test_dates_from_options_are_named_as_options(tmp_path):
    r = CliRunner().invoke(main, ["backtest", str(SETTINGS), "--config", str(CONFIG), "--start", "2024-01-05",
                                  "--end", "2024-01-02"])
    assert one_error_line(r) == "error: --end 2024-01-02 is before --start 2024-01-05; give --start on or before --end"
    r = CliRunner().invoke(main, ["backtest", str(SETTINGS), "--config", str(CONFIG), "--start", "2024-01-09"])
    one_error_line(r, "end_date 2024-01-07 of", "is before --start 2024-01-09")


def test_cache_dir_that_is_a_file_says_so(tmp_path, monkeypatch):
    afile = tmp_path / "cache"
    afile.write_text("")
    monkeypatch.setenv("PASSIVX_CACHE_DIR", str(afile))
    one_error_line(CliRunner().invoke(main, ["data", "info"]), "PASSIVX_CACHE_DIR", "is a file, not a folder")


def test_unknown_exchange_and_symbol_fail_before_any_download(tmp_path):
    cache = tmp_path / "cache"
    r = CliRunner().invoke(main, ["download", "binance", "BTCUSDX", "--start", "2024-01-01", "--end", "2024-01-01",
                                  "--cache-dir", str(cache)])
    one_error_line(r, "unknown symbol BTCUSDX on binance", "similar: BTCUSDT", "--force")
    r = CliRunner().invoke(main, ["download", "kraken", "BTCUSD", "--start", "2024-01-01", "--end", "2024-01-01",
                                  "--cache-dir", str(cache)])
    one_error_line(r, "binance, bybit")
    assert not cache.exists()
    r = CliRunner().invoke(main, ["calc", str(CONFIG), "--price", "1", "--balance", "1", "--exchange", "kraken"])
    one_error_line(r, "unknown exchange 'kraken'; known: binance, bybit")


def test_a_config_for_another_symbol_is_refused_unless_force(tmp_path):
    settings = tmp_path / "s.hjson"
    settings.write_text(json.dumps({"exchange": "binance", "symbol": "ETHUSDT", "start_date": "2024-01-01",
                                    "end_date": "2024-01-01", "starting_balance": 100,
                                    "cache_dir": str(tmp_path / "c")}))
    r = CliRunner().invoke(main, ["backtest", str(settings), "--config", str(CONFIG)])
    one_error_line(r, "is for BTCUSDT, the data is binance ETHUSDT", "--force")


def test_corrupt_synthetic_day_is_regenerated(tmp_path):
    from passivx.data import cache, synthetic

    synthetic.ensure_default_data(tmp_path)
    (day,) = (tmp_path / "trades" / "synthetic" / "BTCUSDT").glob("2024-01-03.*.pxd")
    data = bytearray(day.read_bytes())
    data[-64] ^= 0xFF
    day.write_bytes(bytes(data))  # same size, new mtime
    synthetic.ensure_default_data(tmp_path)
    days = cache.open_days("synthetic", "BTCUSDT", "2024-01-01", "2024-01-07", "trades", tmp_path)
    assert len(days) == 7 and np.all(np.diff(days[2].ts) >= 0)


def test_click_usage_errors_keep_clicks_format_and_the_readme_says_so():
    r = CliRunner().invoke(main, ["backtest"])
    assert r.exit_code == 2 and "Usage: " in r.stderr and "Error: Missing argument" in r.stderr
    readme = (ROOT / "README.md").read_text()
    assert "exit code 2" in readme and "Usage:" in readme
