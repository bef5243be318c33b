"""Backtests on the real samples in ../shared/data: the engine's shortcuts (recomputing orders only when
they can change) against the exhaustive reference (orders recomputed at every decision), fill for fill,
for every mode, on trades and on candles; and no look-ahead."""
from __future__ import annotations

import numpy as np
import pytest

from realdata import SHARED_DATA, needs_shared_data
from test_backtest_engine import CLASSIC, fills, readonly, recursive_long
from passivx.backtest import layout as B
from passivx.backtest.context import new_context
from passivx.config.live import parse_live_config
from passivx.markets import MarketSpec

DATA = SHARED_DATA
pytestmark = needs_shared_data  # skips without ../shared/data; fails instead in CI (see realdata.py)

BTC = dict(price_step=0.1, qty_step=0.001, min_qty=0.001, min_cost=5.0, c_mult=1.0, inverse=False,
           maker_fee=0.0002, taker_fee=0.0005, mm_rate=0.004, max_leverage=125.0)
JPY = dict(BTC, price_step=1.0, min_cost=0.0)
INVERSE_BTC = dict(BTC, qty_step=1.0, min_qty=1.0, min_cost=0.0, c_mult=100.0, inverse=True)

_COMMON = dict(enabled=True, ema_span_0=3, ema_span_1=20, wallet_exposure_limit=1.5, min_markup=0.0008,
               markup_range=0.002, n_close_orders=3, backwards_tp=False)
_UNSTUCK = dict(auto_unstuck_threshold=0.3, auto_unstuck_ema_dist=0.001, auto_unstuck_delay_minutes=20,
                auto_unstuck_qty_pct=0.05)
RECURSIVE = {**_COMMON, "initial_qty_pct": 0.05, "initial_eprice_ema_dist": 0.0005, "ddown_factor": 0.7,
             "rentry_pprice_dist": 0.002, "rentry_pprice_dist_wallet_exposure_weighting": 1.0, **_UNSTUCK}
NEAT = {**_COMMON, "initial_qty_pct": 0.05, "initial_eprice_ema_dist": 0.0005, "grid_span": 0.02,
        "eprice_exp_base": 1.2, "eqty_exp_base": 1.5, "max_n_entry_orders": 6, **_UNSTUCK}
CLOCK = {**_COMMON, "delay_between_fills_minutes_entry": 3, "delay_between_fills_minutes_close": 2,
         "delay_weight_entry": 5, "delay_weight_close": 5, "ema_dist_entry": 0.0005, "ema_dist_close": 0.0005,
         "qty_pct_entry": 0.05, "qty_pct_close": 0.1, "we_multiplier_entry": 0.5, "we_multiplier_close": 0.5}


def mode(name: str, side: dict, **short) -> dict:
    return {"mode": name, "config_name": name, "symbol": "BTC", "long": side, "short": {**side, **short}}


CONFIGS = {
    "classic": {**CLASSIC, "entry_qty_pct": 0.02, "indicator_settings": {
        **CLASSIC["indicator_settings"], "tick_ema": {"span": 2000, "spread": 0.0005}},
        "grid_spacing": 0.002, "grid_coefficient": 50.0, "min_markup": 0.0005, "max_markup": 0.003,
        "n_close_orders": 5, "n_entry_orders": 3, "stop_loss_pos_price_diff": 0.004,
        "stop_loss_liq_diff": 0.05, "stop_loss_pos_reduction": 0.1},
    "recursive_timed_unstuck": mode("recursive_grid", RECURSIVE, wallet_exposure_limit=1.0, backwards_tp=True),
    "recursive_legacy_unstuck": mode("recursive_grid", {**RECURSIVE, "auto_unstuck_delay_minutes": 0,
                                                        "auto_unstuck_qty_pct": 0}),
    "neat": mode("neat_grid", NEAT, wallet_exposure_limit=1.0),
    "clock": mode("clock", CLOCK, wallet_exposure_limit=1.0),
}
CONFIGS["classic_market_stop"] = {**CONFIGS["classic"], "market_stop_loss": True}


def _binance(name: str):
    import pandas as pd

    df = pd.read_csv(DATA / "trades" / name, usecols=["ts_ms", "price", "side"])
    return (df.ts_ms.to_numpy(), df.price.to_numpy(), np.where(df.side.to_numpy() == "buy", 1, -1))


@pytest.fixture(scope="module")
def bitflyer():
    import pandas as pd

    df = pd.read_csv(DATA / "trades" / "bitflyer_BTC_JPY_trades_2018-01-21_2018-01-30.csv.gz",
                     usecols=["ts_ms", "price", "side"], nrows=150_000)
    side = df.side.map({"buy": 1, "sell": -1}).fillna(0).to_numpy()
    return df.ts_ms.to_numpy(), df.price.to_numpy(), side


@pytest.fixture(scope="module")
def candles():
    import pandas as pd

    df = pd.read_csv(DATA / "candles_1m" / "binance-usdm_BTCUSDT_1m_2023-07-18_2023-08-17.csv", nrows=20_000)
    return tuple(df[c].to_numpy() for c in ("open_time_ms", "open", "high", "low", "close"))


def _run(config: dict, market: dict, data: tuple, balance: float, exhaustive: bool, candle_rows: bool = False):
    ctx = new_context(parse_live_config(config).to_array(), MarketSpec(**market).to_array(), balance, 1000.0,
                      float(data[0][-1] - data[0][0] + 60_000), None, exhaustive)
    ts = readonly(data[0], np.int64)
    if candle_rows:
        ctx.candles(ts, *(readonly(c, np.float64) for c in data[1:]))
    else:
        ctx.trades(ts, readonly(data[1], np.float64), readonly(data[2], np.int8))
    ctx.finish()
    return ctx


def _same_run(config: dict, market: dict, data: tuple, balance: float, candle_rows: bool = False,
              min_fills: int = 20) -> None:
    fast = _run(config, market, data, balance, False, candle_rows)
    slow = _run(config, market, data, balance, True, candle_rows)
    a, b = fast.fill_rows(), slow.fill_rows()
    assert len(a) >= min_fills, f"the config should trade actively here, got {len(a)} fills"
    assert a.shape == b.shape and np.array_equal(a, b)
    keep = np.r_[B.E_PEAK:B.E_N_LIQ + 1, B.E_FEES:B.E_LIQUIDATED + 1]
    assert np.array_equal(fast.w[keep], slow.w[keep])
    assert np.array_equal(fast.samples(), slow.samples())
    assert fast.w[B.E_N_CALLS] < slow.w[B.E_N_CALLS] / 2  # the shortcuts do skip recomputations


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_shortcuts_match_the_exhaustive_replay_on_bitflyer_trades(name, bitflyer):
    _same_run(CONFIGS[name], JPY, bitflyer, 10_000_000.0)


@pytest.mark.parametrize("balance", [10_000.0, 100.0])  # 100: a few minimum orders (issue 8)
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_shortcuts_match_the_exhaustive_replay_on_candles(name, candles, balance):
    _same_run(CONFIGS[name], BTC, candles, balance, candle_rows=True)


def _tight(config: dict) -> dict:
    """The config with orders close to the price (for minutes-long windows)."""
    if "mode" not in config:
        return {**config, "indicator_settings": {**config["indicator_settings"], "tick_ema": {"span": 300,
                                                                                              "spread": 0.0002}},
                "min_markup": 0.0002, "grid_spacing": 0.0005}
    near = {"ema_span_0": 1, "ema_span_1": 2, "min_markup": 0.0003, "markup_range": 0.0005}
    if config["mode"] == "clock":
        near.update(delay_between_fills_minutes_entry=1, delay_between_fills_minutes_close=1)
    elif config["mode"] == "recursive_grid":
        near.update(rentry_pprice_dist=0.0008)
    else:
        near.update(grid_span=0.005)
    return {**config, "long": {**config["long"], **near}, "short": {**config["short"], **near}}


@pytest.mark.parametrize("name", ["classic", "recursive_timed_unstuck", "neat", "clock"])
def test_shortcuts_match_the_exhaustive_replay_on_a_fast_binance_window(name):
    data = _binance("binance-usdm_BTCUSDT_trades_2023-04-04_2358Z.csv")
    _same_run(_tight(CONFIGS[name]), BTC, data, 10_000.0, min_fills=2)


def test_inverse_replay_matches_the_exhaustive_replay():
    data = _binance("binance-coinm_BTCUSD_PERP_trades_2024-08-08.csv")
    config = recursive_long(min_markup=0.0003, rentry_pprice_dist=0.0005, initial_qty_pct=0.1, ema_span_0=1,
                            ema_span_1=2)
    fast = _run(config, INVERSE_BTC, data, 0.1, False)
    slow = _run(config, INVERSE_BTC, data, 0.1, True)
    assert len(fast.fill_rows()) >= 3 and np.array_equal(fast.fill_rows(), slow.fill_rows())


def test_no_look_ahead():
    """Changing what happens after a moment changes no fill before it."""
    ts, price, side = _binance("binance-usdm_BTCUSDT_trades_2024-08-08.csv")
    config = mode("recursive_grid", {**RECURSIVE, "ema_span_0": 1, "ema_span_1": 2, "min_markup": 0.0002,
                                     "markup_range": 0.0003, "rentry_pprice_dist": 0.0005})
    base = _run(config, BTC, (ts, price, side), 10_000.0, False).fill_rows()
    k = len(ts) // 2
    future = price.copy()
    future[k:] *= 1.004  # a jump at trade k, and everything after it moved
    changed = _run(config, BTC, (ts, future, side), 10_000.0, False).fill_rows()
    before = base[:, B.F_T] < ts[k]
    assert before.sum() >= 5 and len(base) > before.sum()
    assert np.array_equal(base[before], changed[changed[:, B.F_T] < ts[k]])
    assert not np.array_equal(base, changed)


def test_classic_uses_one_tick_ema_update_per_price_change():
    """The tick EMA moves only when the price differs from the previous trade's: repeating a trade at
    the same price changes nothing."""
    ts, price, side = _binance("binance-usdm_BTCUSDT_trades_2024-08-08.csv")
    repeated = np.repeat(np.arange(len(ts)), 2)
    base = _run(CONFIGS["classic"], BTC, (ts, price, side), 10_000.0, False)
    twice = _run(CONFIGS["classic"], BTC, (ts[repeated], price[repeated], side[repeated]), 10_000.0, False)
    assert len(fills(base)) >= 3
    assert np.array_equal(base.fill_rows(), twice.fill_rows())
    assert base.st[0] == twice.st[0]
