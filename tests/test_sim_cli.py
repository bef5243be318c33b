"""`python3 -m passivx.sim`: prints the environment to export, replays a trades file, stops on Ctrl-C."""
import json
import signal
import subprocess
import sys
import time
import urllib.request


def test_cli_prints_env_replays_trades_and_stops_on_sigint(tmp_path):
    csv = tmp_path / "trades.csv"
    csv.write_text("ts_ms,price,qty,side\n1723161263732,61803.9,0.150,sell\n1723161263733,61804.0,0.020,buy\n")
    proc = subprocess.Popen([sys.executable, "-m", "passivx.sim", "binance", "--trades", str(csv), "--rate", "1000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        env = {}
        for line in proc.stdout:
            if line.startswith("export "):
                name, _, value = line[len("export "):].strip().partition("=")
                env[name] = value
            if line.startswith("# serving"):
                break
        assert set(env) == {"PASSIVX_BINANCE_REST_URL", "PASSIVX_BINANCE_WS_PUBLIC_URL", "PASSIVX_BINANCE_WS_PRIVATE_URL"}
        assert env["PASSIVX_BINANCE_REST_URL"].startswith("http://127.0.0.1:")
        url = env["PASSIVX_BINANCE_REST_URL"] + "/fapi/v1/aggTrades?symbol=BTCUSDT"
        deadline = time.monotonic() + 10
        while True:
            trades = json.loads(urllib.request.urlopen(url, timeout=5).read())
            if len(trades) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert [(t["p"], t["m"]) for t in trades] == [("61803.9", True), ("61804.0", False)]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_bad_trades_file_is_one_error_line():
    out = subprocess.run([sys.executable, "-m", "passivx.sim", "bybit", "--trades", "/nonexistent.csv"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stderr.startswith("error:") and len(out.stderr.strip().splitlines()) == 1
