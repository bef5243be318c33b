"""The built-in SYNTHETIC default data: determinism, structure, labelling, idempotent caching."""
import datetime as dt
import json

import numpy as np
import pytest
from click.testing import CliRunner

from passivx.cli import main
from passivx.data import cache, synthetic
from passivx.data.candles import trades_to_candles
from passivx.markets import market_spec


@pytest.fixture(scope="module")
def week():
    return synthetic.generate_trades()


def test_same_seed_same_trades_other_seed_differs(week):
    again = synthetic.generate_trades(days=1)
    day_end = cache.day_start_ms(synthetic.START) + cache.DAY_MS
    n = int(np.searchsorted(again["ts"], day_end))
    assert n == len(again["ts"])
    other = synthetic.generate_trades(days=1, seed=7)
    assert len(other["ts"]) != n or not np.array_equal(other["price"], again["price"])
    twice = synthetic.generate_trades(days=1)
    for k in again:
        assert np.array_equal(again[k], twice[k])


def test_week_shape_grid_and_volume(week):
    ts, price, qty, side = week["ts"], week["price"], week["qty"], week["side"]
    t0 = cache.day_start_ms(dt.date(2024, 1, 1))
    assert (np.diff(ts) >= 0).all() and ts[0] >= t0 and ts[-1] < t0 + 7 * cache.DAY_MS
    per_day = np.bincount((ts - t0) // cache.DAY_MS, minlength=7)
    assert len(per_day) == 7 and per_day.min() > 200_000 and per_day.max() < 2_000_000
    assert np.allclose(np.round(price / 0.1), price / 0.1, atol=1e-6)  # on the 0.1 tick
    assert np.allclose(np.round(qty / 0.001), qty / 0.001, atol=1e-6) and qty.min() >= 0.001
    assert set(np.unique(side)) == {-1, 1} and 0.4 < (side > 0).mean() < 0.6
    assert 20_000 < price.min() and price.max() < 80_000


def test_structure_bursts_clustering_jumps_trends(week):
    ts, price = week["ts"], week["price"]
    counts = np.bincount((ts - ts[0]) // 1000)
    assert counts.var() / counts.mean() > 10  # bursty: far more dispersed than Poisson (ratio 1)
    c = trades_to_candles(ts, price, week["qty"])
    r = np.diff(np.log(c["close"]))
    a = np.abs(r - r.mean())
    assert np.corrcoef(a[:-30], a[30:])[0, 1] > 0.1  # volatility clustering: |returns| stay correlated
    assert ((r - r.mean()) ** 4).mean() / r.var() ** 2 > 6  # fat tails and jumps (normal: 3)
    hourly = np.log(c["close"][::60])
    moves = np.abs(hourly[8:] - hourly[:-8])  # 8-hour moves: some trend far, some stay in range
    assert moves.max() > 4 * np.median(moves)


def test_candles_are_derived_from_trades_by_minute(week):
    ts, price, qty = week["ts"][:50_000], week["price"][:50_000], week["qty"][:50_000]
    c = trades_to_candles(ts, price, qty)
    minute = ts[0] // 60_000 * 60_000
    sel = (ts >= minute) & (ts < minute + 60_000)
    assert c["ts"][0] == minute and c["open"][0] == price[sel][0] and c["close"][0] == price[sel][-1]
    assert c["high"][0] == price[sel].max() and c["low"][0] == price[sel].min()
    assert c["volume"][0] == pytest.approx(qty[sel].sum())
    assert c["volume"][:-1].sum() == pytest.approx(qty[ts < c["ts"][-1]].sum())


def test_ensure_default_data_writes_once_and_is_labelled(tmp_path):
    assert synthetic.ensure_default_data(tmp_path) == ("synthetic", "BTCUSDT")
    man = tmp_path / "trades" / "synthetic" / "BTCUSDT" / "manifest.json"
    first = man.read_bytes()
    assert synthetic.ensure_default_data(tmp_path) == ("synthetic", "BTCUSDT")
    assert man.read_bytes() == first  # nothing rewritten
    data = json.loads(first)
    assert data["synthetic"] is True and all("SYNTHETIC" in e["source"] for e in data["days"].values())
    days = cache.open_days("synthetic", "BTCUSDT", "2024-01-01", "2024-01-07", cache_dir=tmp_path)
    candles = cache.open_days("synthetic", "BTCUSDT", "2024-01-01", "2024-01-07", kind="candles", cache_dir=tmp_path)
    assert len(days) == 7 and all(d.rows > 100_000 for d in days) and all(c.rows == 1440 for c in candles)
    assert candles[0].open[0] == days[0].price[0] and candles[-1].close[-1] == days[-1].price[-1]
    r = CliRunner().invoke(main, ["data", "info", "--cache-dir", str(tmp_path)])
    assert r.exit_code == 0 and r.output.count("SYNTHETIC (generated, not market data)") == 2
    spec = market_spec("synthetic", "BTCUSDT", tmp_path)
    assert (spec.price_step, spec.qty_step, spec.min_qty, spec.min_cost, spec.inverse) == (0.1, 0.001, 0.001, 5.0, False)


def test_damaged_default_data_is_regenerated(tmp_path):
    synthetic.ensure_default_data(tmp_path)
    victim = sorted((tmp_path / "candles" / "synthetic" / "BTCUSDT").glob("*.pxd"))[3]
    victim.unlink()
    synthetic.ensure_default_data(tmp_path)
    assert len(cache.open_days("synthetic", "BTCUSDT", "2024-01-01", "2024-01-07", kind="candles", cache_dir=tmp_path)) == 7
