"""Wallet exposure limit under coarse exchange minimums: the grid stops rather than overshoot WEL."""
import json
import subprocess
import sys

CONFIG = "configs/live/binance/BTCUSDT_recursive_grid.json"
MARKET = "configs/markets/binance_BTCUSDT.json"


def long_entries(balance: float) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "passivx", "calc", CONFIG, "--price", "60000", "--balance", str(balance),
         "--market", MARKET, "--whole-grid"], capture_output=True, text=True, check=True)
    return [o for o in json.loads(out.stdout)["orders"] if o["position_side"] == "long" and o["kind"] == "entry"]


def test_coarse_min_cost_grid_never_passes_wel_by_more_than_one_percent():
    # min_cost 100 on a 1000 balance: each order is >= 10 % of WEL 1.0, so the crop cannot land within 1 %
    # on the nearest qty; it must step down rather than take WE to ~1.03.
    entries = long_entries(1000)
    assert len(entries) >= 3
    assert all(o["wallet_exposure_after"] <= 1.01 for o in entries)
    assert entries[-1]["wallet_exposure_after"] > 0.9  # the limit is still mostly used


def test_entry_dropped_when_even_the_minimum_order_passes_the_limit():
    # balance 90: one min-cost order (0.002 BTC = 120 USDT) alone is WE 1.33 > WEL 1.0: no entry at all
    assert long_entries(90) == []
