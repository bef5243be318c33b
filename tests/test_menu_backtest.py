"""The menu's Backtest entry, driven in a pseudo-terminal on the shipped real-data sample: pick settings and a
live config, the backtest runs in the same terminal, its summary and result folder are shown, the plots open
on request; with no config the optimizer path runs (or says it is not available) and the menu carries on."""
from __future__ import annotations

import json
import os
import re
import shutil

import realdata
from menu_pty import Menu, work_dir

RANGES = {"grid_spacing": [0.001, 0.01], "min_markup": [0.0001, 0.002], "max_markup": [0.002, 0.02]}


def setup(tmp_path):
    """A work folder with the sample's settings as configs/backtest/sample.hjson and a fake desktop viewer
    (xdg-open / open) that records what it was asked to open."""
    work = work_dir(tmp_path)
    sample = realdata.import_sample("usdm_fast", tmp_path / "cache")
    settings = sample.settings(n_jackrabbit_iterations=2, ranges=RANGES)
    (work / "configs" / "backtest" / "sample.hjson").write_text(json.dumps(settings, indent=2))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("xdg-open", "open"):
        viewer = bin_dir / name
        viewer.write_text(f'#!/bin/sh\necho "$1" >> {tmp_path / "opened.txt"}\n')
        viewer.chmod(0o755)
    return work, {"PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_backtest_a_config_shows_the_results_and_opens_the_plots(tmp_path):
    work, env = setup(tmp_path)
    with Menu(work, env=env, timeout=300) as m:
        m.expect("| Main Menu |")
        m.select("Backtest")
        assert m.labels() == ["default", "sample", "<- Back"]
        m.select("sample")
        m.select("binance/BTCUSDT_recursive_grid")
        shown = m.expect("plots in ")
        assert ("command: passivx backtest configs/backtest/sample.hjson --jit --config "
                "configs/live/binance/BTCUSDT_recursive_grid.json\r\n") in shown
        (dest,) = re.findall(r"results: (\S+)", shown)
        assert "gain" in shown and (work / dest / "stats.json").exists()
        plots = sorted(str(work / dest / p.name) for p in (work / dest).glob("*.png"))
        assert plots and f"Open the {len(plots)} plots in {dest}?" in m.transcript.replace(str(work) + "/", "")
        m.refused("(yes/no)", "sure", "type yes or no")
        m.answer("(yes/no)", "yes")
        m.enter()
        opened = sorted(str(work / p) if not p.startswith("/") else p
                        for p in (tmp_path / "opened.txt").read_text().split())
        assert opened == plots
        m.exit()


def test_backtest_without_a_config_runs_the_optimizer_or_says_it_is_not_available(tmp_path):
    work, env = setup(tmp_path)
    with Menu(work, env=env, timeout=600) as m:
        m.expect("| Main Menu |")
        m.select("Backtest")
        m.select("sample")
        m.select("none: optimize")
        if m.child.expect_exact(["  Press Enter", "plots in "], timeout=600) == 1:  # the optimizer ran
            assert "optimize/binance-sample/BTCUSDT/" in m.child.before + m.child.after + m.child.buffer
            m.answer("(yes/no)", "no")
            m.expect("  Press Enter")
            assert not (tmp_path / "opened.txt").exists()
        assert "command: passivx backtest configs/backtest/sample.hjson --jit\r\n" in m.transcript
        errors = [line for line in m.transcript.splitlines() if line.startswith("error:")]
        assert not errors or (len(errors) == 1 and "not available" in errors[0]), m.transcript
        m.child.sendline("")
        m.expect("| Main Menu |")
        m.exit()


def test_backtest_without_settings_says_where_to_add_them(tmp_path):
    work = work_dir(tmp_path)
    shutil.rmtree(work / "configs" / "backtest")
    with Menu(work) as m:
        m.expect("| Main Menu |")
        m.select("Backtest")
        shown = m.expect("Press Enter")
        assert "no backtest settings in configs/backtest/: import some in Settings -> Backtesting Configurations" in shown
        m.child.sendline("")
        m.exit()
