"""The backtester's shortcuts (orders recomputed only when they can change, `passivx.backtest.bounds`)
against the exhaustive reference (recomputed at every decision), fill for fill, on seeded random cases:
every mode, linear and inverse markets with coarse minimums, balances from under one minimum order to a
few hundred, latencies 0-5 s, funding on and off, trades and 1-minute candles.

A failing case prints its seed and description; `case(seed)` rebuilds it."""
from __future__ import annotations

import numpy as np
import pytest

from test_backtest_engine import CLASSIC, fills, readonly, recursive_long, replay
from passivx.backtest import layout as B
from passivx.backtest.context import new_context
from passivx.calc.layout import K_CLOSE, K_ENTRY, K_STOP_LOSS
from passivx.config.live import parse_live_config
from passivx.markets import MarketSpec

MODES = ("classic", "recursive_grid", "neat_grid", "clock")


def _market(rng: np.random.Generator, inverse: bool) -> dict:
    """A market at price ~100 (linear) or ~30000 (inverse), with a minimum order that may be coarse."""
    if inverse:
        c_mult = float(rng.choice([1.0, 100.0]))
        return dict(price_step=0.5, qty_step=1.0, min_qty=float(rng.choice([1.0, 1.0, 10.0, 100.0])), min_cost=0.0,
                    c_mult=c_mult, inverse=True, maker_fee=-0.00025, taker_fee=0.00075, mm_rate=0.005,
                    max_leverage=100.0)
    qty_step = float(rng.choice([0.001, 0.01, 0.1, 1.0]))
    return dict(price_step=0.01, qty_step=qty_step, min_qty=qty_step * float(rng.choice([1, 1, 7, 102])),
                min_cost=float(rng.choice([0.0, 0.0, 5.0, 20.0, 100.0])), c_mult=1.0, inverse=False,
                maker_fee=0.0002, taker_fee=0.0005, mm_rate=0.005, max_leverage=125.0)


def _side(rng: np.random.Generator, mode: str, enabled: bool) -> dict:
    """One side of a grid-mode config with orders near the price (minutes-scale data)."""
    s = dict(enabled=enabled, ema_span_0=float(rng.uniform(1, 5)), ema_span_1=float(rng.uniform(5, 30)),
             wallet_exposure_limit=float(rng.choice([0.3, 1.0, 2.5])), min_markup=float(rng.uniform(0.0005, 0.004)),
             markup_range=float(rng.choice([0.0, 0.003, 0.01])), n_close_orders=int(rng.integers(1, 6)),
             backwards_tp=bool(rng.integers(2)))
    if mode == "clock":
        s.update(delay_between_fills_minutes_entry=float(rng.uniform(0.5, 5)),
                 delay_between_fills_minutes_close=float(rng.uniform(0.5, 5)),
                 delay_weight_entry=float(rng.uniform(0, 10)), delay_weight_close=float(rng.uniform(0, 10)),
                 ema_dist_entry=float(rng.uniform(-0.001, 0.003)), ema_dist_close=float(rng.uniform(-0.001, 0.003)),
                 qty_pct_entry=float(rng.uniform(0.01, 0.2)), qty_pct_close=float(rng.uniform(0.01, 0.3)),
                 we_multiplier_entry=float(rng.uniform(0, 2)), we_multiplier_close=float(rng.uniform(0, 2)))
        return s
    s.update(initial_qty_pct=float(rng.choice([0.005, 0.02, 0.1])),
             initial_eprice_ema_dist=float(rng.uniform(-0.001, 0.003)))
    unstuck = int(rng.integers(3))  # none, timed, legacy
    s.update(auto_unstuck_threshold=0.0 if unstuck == 0 else float(rng.uniform(0.05, 0.5)),
             auto_unstuck_ema_dist=float(rng.uniform(0, 0.003)),
             auto_unstuck_delay_minutes=float(rng.uniform(1, 20)) if unstuck == 1 else 0.0,
             auto_unstuck_qty_pct=float(rng.uniform(0.01, 0.1)) if unstuck == 1 else 0.0)
    if mode == "recursive_grid":
        s.update(ddown_factor=float(rng.uniform(0.3, 2.0)), rentry_pprice_dist=float(rng.uniform(0.001, 0.02)),
                 rentry_pprice_dist_wallet_exposure_weighting=float(rng.choice([0.0, 1.0, 5.0])))
    else:
        s.update(grid_span=float(rng.uniform(0.01, 0.1)), eprice_exp_base=float(rng.uniform(1.0, 2.0)),
                 eqty_exp_base=float(rng.uniform(1.0, 2.5)), max_n_entry_orders=int(rng.integers(2, 10)))
    return s


def _config(rng: np.random.Generator, mode: str) -> dict:
    if mode == "classic":
        return {**CLASSIC, "entry_qty_pct": float(rng.choice([0.005, 0.02, 0.1])),
                "ddown_factor": float(rng.uniform(0.2, 2.0)), "leverage": float(rng.choice([2, 10, 50, 100])),
                "indicator_settings": {"tick_ema": {"span": float(rng.uniform(10, 500)),
                                                    "spread": float(rng.uniform(0.0, 0.002))},
                                       "funding_fee_collect_mode": bool(rng.integers(4) == 0),
                                       "do_long": bool(rng.integers(4) > 0), "do_shrt": bool(rng.integers(4) > 0)},
                "grid_coefficient": float(rng.choice([0.0, 20.0, 200.0])),
                "grid_spacing": float(rng.uniform(0.001, 0.01)), "min_markup": float(rng.uniform(0.0005, 0.003)),
                "max_markup": float(rng.uniform(0.003, 0.01)), "n_close_orders": int(rng.integers(1, 8)),
                "n_entry_orders": int(rng.integers(1, 6)),
                "stop_loss_liq_diff": float(rng.choice([0.0, 0.02, 0.2])),
                "stop_loss_pos_price_diff": float(rng.choice([0.005, 0.02, 9.0])),
                "stop_loss_pos_reduction": float(rng.choice([0.0, 0.1, 0.5])),
                "market_stop_loss": bool(rng.integers(2)),
                "min_close_qty_multiplier": float(rng.uniform(0.1, 1.0))}
    both = rng.integers(3)  # long only, short only, both
    return {"mode": mode, "config_name": mode, "symbol": "TEST", "long": _side(rng, mode, bool(both != 1)),
            "short": _side(rng, mode, bool(both != 0))}


def _walk(rng: np.random.Generator, n: int, start: float, step: float) -> np.ndarray:
    """Prices of a random walk with trending stretches and jumps, rounded to `step`."""
    drift = np.repeat(rng.normal(0, 0.0004, n // 200 + 1), 200)[:n]
    shocks = rng.normal(0, 0.0008, n) * np.where(rng.random(n) < 0.01, 8.0, 1.0)
    p = start * np.exp(np.cumsum(drift + shocks))
    return np.maximum(step, np.round(p / step) * step)


def case(seed: int, candles: bool):
    """(config, market, balance, latency, funding, data) of one random case."""
    rng = np.random.default_rng(seed)
    mode = MODES[seed % 4]
    inverse = bool(rng.integers(3) == 0)
    market = _market(rng, inverse)
    config = _config(rng, mode)
    start = 30000.0 if inverse else 100.0
    # the balance buys between 0.8 and a few hundred minimum orders at the wallet exposure limit
    spec = MarketSpec(**market)
    min_cost = max(spec.min_qty * (spec.c_mult / start if inverse else start), spec.min_cost)
    we = config["leverage"] * 0.1 if mode == "classic" else config["long"]["wallet_exposure_limit"]
    balance = float(min_cost * np.exp(rng.uniform(np.log(0.8), np.log(300))) / max(we, 0.05))
    latency = float(rng.choice([0.0, 0.0, 200.0, 1000.0, 5000.0]))
    n = 3000
    if candles:
        t = np.arange(n, dtype=np.int64) * 60_000
        close = _walk(rng, n, start, market["price_step"])
        opening = np.r_[start, close[:-1]]
        wick = np.abs(rng.normal(0, 0.0015, (2, n))) * close
        hi = np.maximum(opening, close) + np.round(wick[0] / market["price_step"]) * market["price_step"]
        lo = np.maximum(market["price_step"], np.minimum(opening, close)
                        - np.round(wick[1] / market["price_step"]) * market["price_step"])
        data = (t, opening, hi, lo, close)
    else:
        t = np.cumsum(rng.exponential(rng.choice([300.0, 2000.0]), n)).astype(np.int64)
        data = (t, _walk(rng, n, start, market["price_step"]), rng.choice(np.array([1, -1, 1, -1, 0]), n))
    funding = None
    if rng.integers(2):
        times = np.arange(t[0] + 3_600_000, t[-1] + 60_000, 4 * 3_600_000, dtype=np.float64)
        funding = (times, rng.normal(0.0001, 0.0003, len(times)))
    return config, market, balance, latency, funding, data


def _run(seed: int, candles: bool, exhaustive: bool):
    config, market, balance, latency, funding, data = case(seed, candles)
    t = data[0]
    ctx = new_context(parse_live_config(config).to_array(), MarketSpec(**market).to_array(), balance, latency,
                      float(t[-1] - t[0] + 60_000), funding, exhaustive)
    if candles:
        ctx.candles(readonly(t, np.int64), *(readonly(c, np.float64) for c in data[1:]))
    else:
        ctx.trades(readonly(t, np.int64), readonly(data[1], np.float64), readonly(data[2], np.int8))
    ctx.finish()
    return ctx


def _check(seed: int, candles: bool) -> int:
    fast, slow = _run(seed, candles, False), _run(seed, candles, True)
    a, b = fast.fill_rows(), slow.fill_rows()
    what = f"seed {seed}, candles={candles}: {case(seed, candles)[:4]}"
    assert a.shape == b.shape, f"{len(a)} fills with the shortcuts, {len(b)} exhaustive; {what}"
    assert np.array_equal(a, b), f"fills differ; {what}"
    keep = np.r_[B.E_PEAK:B.E_N_LIQ + 1, B.E_FEES:B.E_LIQUIDATED + 1]
    assert np.array_equal(fast.w[keep], slow.w[keep]), what
    return len(a)


@pytest.mark.parametrize("block", range(4))
def test_shortcuts_match_the_exhaustive_replay_on_random_trades(block):
    counts = [_check(seed, False) for seed in range(block * 40, block * 40 + 40)]
    assert sum(c > 0 for c in counts) >= 20, "most cases should trade"


@pytest.mark.parametrize("block", range(2))
def test_shortcuts_match_the_exhaustive_replay_on_random_candles(block):
    counts = [_check(seed, True) for seed in range(1000 + block * 40, 1000 + block * 40 + 40)]
    assert sum(c > 0 for c in counts) >= 20, "most cases should trade"


def test_an_entry_past_the_exposure_limit_comes_back_when_the_bid_falls():
    # issue 8's case: the minimum order (1.02) costs 102 at 100, past 1.01 x (WEL 1 x balance 100); at 99.0
    # it costs 100.98 and fits, so the bid comes back at the best bid 99.0 and the sell at 98.9 fills it
    market = dict(price_step=0.01, qty_step=0.001, min_qty=1.02, min_cost=0.0, c_mult=1.0, inverse=False,
                  maker_fee=0.0002, taker_fee=0.0005, mm_rate=0.005, max_leverage=100.0)
    config = recursive_long(wallet_exposure_limit=1.0, initial_qty_pct=0.01, ddown_factor=1.0,
                            rentry_pprice_dist=0.5)
    trades = [(0, 100.0, -1), (2000, 99.5, -1), (4000, 99.0, -1), (6000, 98.9, -1), (8000, 98.5, -1)]
    for exhaustive in (False, True):
        (entry,) = fills(replay(config, market, trades, balance=100.0, exhaustive=exhaustive))
        assert (entry["timestamp"], entry["price"], entry["qty"]) == (6000.0, 99.0, 1.02)


def test_a_neat_position_turns_dust_when_the_bid_clamps_its_initial_entry_price():
    # seed 498's case: min_cost 100 on a qty step of 1 makes one contract a minimum order at 100 or more and
    # two under 100. The initial entry at round_dn(100.5*(1-0.001)) = 100.39 fills on a print of unknown
    # side (the best bid stays 100.5): 1 @ 100.39 is no dust (1 >= 0.9 x 1) and its grid's next node is far
    # below. A sell at 99.95 clamps the initial entry price to that bid, where 1 < 0.9 x 2 is dust: the
    # initial entry comes back at 99.95 (qty max(2, q0 2 - 1)) and the sell at 99.9 fills it
    market = dict(price_step=0.01, qty_step=1.0, min_qty=1.0, min_cost=100.0, c_mult=1.0, inverse=False,
                  maker_fee=0.0002, taker_fee=0.0005, mm_rate=0.005, max_leverage=100.0)
    side = dict(enabled=True, ema_span_0=1, ema_span_1=1, wallet_exposure_limit=1.0, min_markup=0.01,
                markup_range=0.0, n_close_orders=1, backwards_tp=False, initial_qty_pct=0.01,
                initial_eprice_ema_dist=0.001, auto_unstuck_threshold=0.0, auto_unstuck_ema_dist=0.0,
                auto_unstuck_delay_minutes=0.0, auto_unstuck_qty_pct=0.0, grid_span=0.2, eprice_exp_base=1.0,
                eqty_exp_base=1.0, max_n_entry_orders=3)
    config = {"mode": "neat_grid", "config_name": "neat_test", "symbol": "TEST", "long": side,
              "short": {**side, "enabled": False}}
    trades = [(0, 100.5, 0), (2000, 100.3, 0), (4000, 99.95, -1), (6000, 99.9, -1)]
    for exhaustive in (False, True):
        entries = fills(replay(config, market, trades, exhaustive=exhaustive))
        assert [(f["timestamp"], f["price"], f["qty"]) for f in entries] == [(2000.0, 100.39, 1.0),
                                                                              (6000.0, 99.95, 2.0)]


def test_a_reduce_only_order_that_found_no_position_comes_back_with_the_next_landing():
    # seed 416's case, latency 5 s: the long entry at 99 fills at 6000; the decisions at 7000 and 8000, same
    # position, print over 99 x 1.005, add a market stop loss of half of it (0.505). The take-profit at 100
    # (decided at 6000) closes all at 11200; the 7000 decision lands at 12000 and at 12200 its stop loss finds
    # no position (nothing filled, no fill to drop from a later decision) while its re-entry at 98.41 fills.
    # The 8000 decision, landing at 13000, brings the stop loss back: it sells the new position at 13200
    market = dict(price_step=0.01, qty_step=0.001, min_qty=0.001, min_cost=0.0, c_mult=1.0, inverse=False,
                  maker_fee=0.0002, taker_fee=0.0005, mm_rate=0.005, max_leverage=100.0)
    config = {**CLASSIC, "indicator_settings": {**CLASSIC["indicator_settings"], "do_shrt": False},
              "grid_spacing": 0.005, "n_entry_orders": 2, "stop_loss_pos_price_diff": 0.005,
              "stop_loss_pos_reduction": 0.5, "market_stop_loss": True}
    trades = [(0, 100.0, -1), (6000, 98.9, -1), (7000, 100.5, 1), (8000, 100.5, 1), (11200, 100.5, 1),
              (12200, 98.4, -1), (13200, 98.4, -1)]
    for exhaustive in (False, True):
        rows = fills(replay(config, market, trades, latency=5000.0, exhaustive=exhaustive))
        assert [(f["timestamp"], f["kind"], f["price"], f["qty"]) for f in rows] == [
            (6000.0, K_ENTRY, 99.0, 1.01), (11200.0, K_CLOSE, 100.0, 1.01), (12200.0, K_ENTRY, 98.41, 0.505),
            (13200.0, K_STOP_LOSS, 98.4, 0.505)]


# ---- the shipped real sample (tests/data): never skipped ---------------------------------------------
def _sample_configs() -> dict:
    from test_backtest_real import CONFIGS, _tight

    return {name: _tight(CONFIGS[name]) for name in ("classic", "recursive_timed_unstuck",
                                                      "recursive_legacy_unstuck", "neat", "clock")}


@pytest.mark.parametrize("sample", ["usdm_fast", "coinm", "candles"])
@pytest.mark.parametrize("scale", [1.0, 0.05])
def test_shortcuts_match_the_exhaustive_replay_on_the_shipped_sample(real_samples, sample, scale):
    """Each mode on real trades and candles, at the sample's balance and at 5 % of it (a few minimum
    orders): `run_backtest` and `run_backtest(..., exhaustive=True)` give the same fills and stats."""
    from passivx.backtest.runner import run_backtest
    from passivx.config.backtest import parse_backtest_settings

    s = real_samples[sample]
    settings = parse_backtest_settings(s.settings(starting_balance=s.balance * scale, latency_simulation_ms=1000))
    traded = 0
    for name, config in _sample_configs().items():
        live = parse_live_config({**config, "symbol": s.symbol})
        fast = run_backtest(settings, live, progress=False)
        slow = run_backtest(settings, live, progress=False, exhaustive=True)
        assert np.array_equal(fast.fills, slow.fills), f"{name} on {sample} at {scale:g} x balance"
        timing = {"seconds", "rows_per_second", "n_ideal_orders_calls", "exhaustive"}
        assert {k: v for k, v in fast.stats.items() if k not in timing} == \
            {k: v for k, v in slow.stats.items() if k not in timing}, name
        traded += len(fast.fills) > 0
    assert traded >= 3
