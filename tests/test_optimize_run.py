"""Jackrabbit end to end on the shipped real candles (7 days of Binance BTCUSDT): identical results with
1 or 2 local workers and on a Dask LocalCluster, best_settings.json as a live config that `passivx backtest
--config` accepts, the validation range beside the training one, the no-candidate case, one-line errors,
and a real SIGKILL (then Ctrl-C) of `passivx optimize` followed by --resume ending with the same best."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from passivx.config.backtest import load_backtest_settings
from passivx.config.live import load_live_config
from passivx.errors import ConfigError, PassivxError
from passivx.optimize import journal
from passivx.optimize.evaluate import TIMING_KEYS
from passivx.optimize.run import Options, run_optimizer

ROOT = Path(__file__).resolve().parents[1]
RANGES = {"long.wallet_exposure_limit": [0.3, 1.5], "long.rentry_pprice_dist": [0.002, 0.03, 0.001],
          "long.initial_qty_pct": [0.005, 0.05], "long.min_markup": [0.001, 0.01]}
CONSTRAINTS = {"max_drawdown": 0.2, "min_liquidation_distance": 0.1}
N = 24


@pytest.fixture(scope="module")
def settings_file(real_samples, tmp_path_factory) -> Path:
    """Training 2025-05-05..09, validation 05-10..11 of the shipped candles, a recursive grid's long side."""
    s = real_samples["candles"].settings(end_date="2025-05-09", validation_start_date="2025-05-10",
                                         validation_end_date="2025-05-11", ranges=RANGES, constraints=CONSTRAINTS,
                                         n_jackrabbit_iterations=N)
    path = tmp_path_factory.mktemp("opt") / "settings.hjson"
    path.write_text(json.dumps(s))
    return path


def optimize(settings_file: Path, out: Path, **opts) -> Path | None:
    opts.setdefault("batch", 4)
    return run_optimizer(load_backtest_settings(settings_file), Options(out=str(out), plots=False, progress=False,
                                                                        **opts))


def by_k(folder: Path) -> dict[int, tuple]:
    return {r["k"]: (r["params"], r["stats"], r["met_constraints"]) for r in journal.read_results(folder)}


@pytest.fixture(scope="module")
def reference(settings_file, tmp_path_factory) -> Path:
    """The run every other is compared with: 2 local workers."""
    out = tmp_path_factory.mktemp("ref") / "run"
    assert optimize(settings_file, out, workers=2) == out / "best_settings.json"
    return out


def passivx(*args: str, cwd: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_JIT"}
    return subprocess.Popen([sys.executable, "-m", "passivx", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_one_worker_gives_the_two_worker_result(settings_file, reference, tmp_path, capsys):
    out = tmp_path / "one"
    optimize(settings_file, out, workers=1)
    assert (out / "best_settings.json").read_bytes() == (reference / "best_settings.json").read_bytes()
    assert by_k(out) == by_k(reference) and len(by_k(out)) == N
    printed = capsys.readouterr().out
    assert "training" in printed and "validation" in printed and "best: candidate" in printed


def test_the_best_report_and_validation_beside_it(reference):
    records = by_k(reference)
    summary = json.loads((reference / "summary.json").read_text())
    best = summary["best"]["k"]
    params, stats, ok = records[best]
    assert ok and params == summary["best"]["params"]
    assert best == max((k for k in records if records[k][2]), key=lambda k: (records[k][1]["adg"], -k))
    report = json.loads((reference / "best" / "stats.json").read_text())
    # the workers' evaluation is the backtester's: the journal holds the best's stats.json, timing aside
    assert stats == {k: v for k, v in report.items() if k not in TIMING_KEYS}
    assert (report["start_date"], report["end_date"]) == ("2025-05-05", "2025-05-09")
    validation = json.loads((reference / "validation" / "stats.json").read_text())
    assert (validation["start_date"], validation["end_date"]) == ("2025-05-10", "2025-05-11")
    assert summary["validation"]["adg"] == validation["adg"] and summary["training"]["adg"] == report["adg"]
    assert (reference / "objective.png").stat().st_size > 1000


def test_best_settings_is_a_live_config_that_backtest_accepts_as_it_is(settings_file, reference, tmp_path):
    config = load_live_config(reference / "best_settings.json")
    assert config.mode == "recursive_grid" and config.symbol == "BTCUSDT"
    assert "jackrabbit" in config.config_name
    proc = passivx("backtest", str(settings_file), "--config", str(reference / "best_settings.json"), "--jit",
                   "--no-plots", "--out", str(tmp_path / "bt"), cwd=tmp_path)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    again = json.loads((tmp_path / "bt" / "stats.json").read_text())
    best = json.loads((reference / "best" / "stats.json").read_text())
    assert {k: v for k, v in again.items() if k not in TIMING_KEYS} == {
        k: v for k, v in best.items() if k not in TIMING_KEYS}


def test_a_dask_local_cluster_gives_the_local_result(settings_file, reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        out = tmp_path / "dask"
        optimize(settings_file, out, scheduler=cluster.scheduler_address)
    assert (out / "best_settings.json").read_bytes() == (reference / "best_settings.json").read_bytes()
    assert by_k(out) == by_k(reference)


def test_no_candidate_meets_the_constraints(settings_file, tmp_path, capsys):
    s = json.loads(settings_file.read_text())
    s["constraints"] = {"min_adg": 0.5, "max_drawdown": 0.2}
    path = tmp_path / "strict.hjson"
    path.write_text(json.dumps(s))
    out = tmp_path / "none"
    assert optimize(path, out, iterations=6, workers=1) is None
    assert not (out / "best_settings.json").exists() and not (out / "best").exists()
    printed = capsys.readouterr().out
    assert "No candidate met the constraints" in printed and "min_adg 0.5 (was" in printed
    closest = json.loads((out / "summary.json").read_text())["closest"]
    assert closest and all(any(b["constraint"] == "min_adg" for b in c["broken"]) for c in closest)
    assert len(journal.read_results(out)) == 6


def test_bad_input_is_one_clear_error(settings_file, reference, tmp_path):
    with pytest.raises(ConfigError, match="'long.rentry_pprice_dist' is not a parameter of mode clock"):
        optimize(settings_file, tmp_path / "a", mode="clock")
    with pytest.raises(PassivxError, match="holds an optimizer run already; continue it with --resume"):
        optimize(settings_file, reference)
    with pytest.raises(ConfigError, match="--seed 5: the run in .* uses 0"):
        optimize(settings_file, tmp_path / "b", resume=str(reference), seed=5)
    s = json.loads(settings_file.read_text())
    (tmp_path / "objective.hjson").write_text(json.dumps({**s, "objective": "mode"}))
    with pytest.raises(ConfigError, match="'objective': 'mode' is not a numeric statistic; one of final_balance"):
        optimize(tmp_path / "objective.hjson", tmp_path / "d")
    assert not (tmp_path / "d").exists()
    s["validation_start_date"] = "2025-05-09"
    path = tmp_path / "overlap.hjson"
    path.write_text(json.dumps(s))
    proc = passivx("optimize", str(path), "--out", str(tmp_path / "c"), cwd=tmp_path)
    assert proc.wait(timeout=600) == 1
    err = proc.stderr.read().strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "overlaps the training range" in err[0]


def _wait_for_lines(proc: subprocess.Popen, folder: Path, lines: int) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        path = folder / journal.RESULTS
        if path.exists() and path.read_bytes().count(b"\n") >= lines:
            assert proc.poll() is None, "the run ended before it could be interrupted"
            return
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    raise AssertionError("no progress")


def test_sigkill_then_ctrl_c_then_resume_ends_with_the_uninterrupted_best(settings_file, tmp_path):
    import psutil

    n = "150"
    # uninterrupted, through `passivx backtest SETTINGS` without --config (seed 000's usage)
    ref = passivx("backtest", str(settings_file), "--jit", "--no-plots", "--out", str(tmp_path / "ref"), cwd=tmp_path)
    assert ref.wait(timeout=600) == 0, ref.stderr.read()
    assert len(journal.read_results(tmp_path / "ref")) == N  # the settings' n_jackrabbit_iterations
    ref = passivx("optimize", str(settings_file), "--iterations", n, "--no-plots", "--out", str(tmp_path / "ref150"),
                  cwd=tmp_path)
    assert ref.wait(timeout=600) == 0, ref.stderr.read()

    out = tmp_path / "run"
    proc = passivx("optimize", str(settings_file), "--iterations", n, "--workers", "2", "--no-plots",
                   "--out", str(out), cwd=tmp_path)
    _wait_for_lines(proc, out, 20)
    workers = psutil.Process(proc.pid).children(recursive=True)
    assert workers
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, "worker processes outlived the killed optimizer"
    killed_at = len(journal.read_results(out))
    assert 20 <= killed_at < 150

    proc = passivx("optimize", str(settings_file), "--resume", str(out), "--workers", "1", "--no-plots", cwd=tmp_path)
    _wait_for_lines(proc, out, killed_at + 10)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    err = proc.stderr.read()
    assert f"--resume {out}" in err and "Traceback" not in err
    stopped_at = len(journal.read_results(out))
    assert killed_at < stopped_at < 150

    proc = passivx("optimize", str(settings_file), "--resume", str(out), "--no-plots", cwd=tmp_path)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    assert (out / "best_settings.json").read_bytes() == (tmp_path / "ref150" / "best_settings.json").read_bytes()
    assert by_k(out) == by_k(tmp_path / "ref150")


def test_plain_python_gives_the_compiled_result(settings_file, tmp_path):
    s = json.loads(settings_file.read_text())
    s.update(end_date="2025-05-05", validation_start_date=None, validation_end_date=None)
    path = tmp_path / "one_day.hjson"
    path.write_text(json.dumps(s))
    optimize(path, tmp_path / "jit", iterations=4, workers=1)
    proc = passivx("optimize", str(path), "--no-jit", "--iterations", "4", "--batch", "4", "--workers", "1",
                   "--no-plots", "--out", str(tmp_path / "plain"), cwd=tmp_path)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    assert by_k(tmp_path / "plain") == by_k(tmp_path / "jit")
    best = [(tmp_path / run / "best_settings.json").read_bytes() for run in ("plain", "jit")]
    assert best[0] == best[1]
