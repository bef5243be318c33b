"""Backtest engine on hand-built trade sequences with outcomes worked out by hand (STRATEGY.md §1-4).

The helpers at the top (simple configs, direct replays) are shared with the other backtest tests."""
from __future__ import annotations

import numpy as np
import pytest

from passivx.backtest import layout as B
from passivx.backtest.context import new_context
from passivx.config.live import parse_live_config
from passivx.markets import MarketSpec

LINEAR = dict(price_step=1.0, qty_step=0.001, min_qty=0.001, min_cost=0.0, c_mult=1.0, inverse=False,
              maker_fee=0.0002, taker_fee=0.0005, mm_rate=0.005, max_leverage=100.0)
INVERSE = dict(LINEAR, qty_step=1.0, min_qty=1.0, inverse=True)

_SIDE = dict(enabled=True, ema_span_0=1, ema_span_1=1, wallet_exposure_limit=1.0, min_markup=0.01,
             markup_range=0.0, n_close_orders=1, backwards_tp=False, initial_qty_pct=0.1,
             initial_eprice_ema_dist=0.0, ddown_factor=1.0, rentry_pprice_dist=0.5,
             rentry_pprice_dist_wallet_exposure_weighting=0.0, auto_unstuck_threshold=0.0,
             auto_unstuck_ema_dist=0.0, auto_unstuck_delay_minutes=0.0, auto_unstuck_qty_pct=0.0)

CLASSIC = {
    "balance_pct": 1.0, "config_name": "classic_test", "cross_mode": True, "entry_qty_pct": 0.01,
    "ddown_factor": 0.5,
    "indicator_settings": {"tick_ema": {"span": 1, "spread": 0.01}, "funding_fee_collect_mode": False,
                           "do_long": True, "do_shrt": True},
    "grid_coefficient": 0.0, "grid_spacing": 0.5, "stop_loss_liq_diff": 0.0, "stop_loss_pos_price_diff": 9.0,
    "stop_loss_pos_reduction": 0.0, "leverage": 10, "logging_level": 0, "min_markup": 0.01, "max_markup": 0.01,
    "min_close_qty_multiplier": 0.5, "market_stop_loss": False, "n_close_orders": 1, "n_entry_orders": 1,
    "symbol": "TEST",
}


def recursive_long(**long) -> dict:
    """A long-only recursive-grid config: initial entry of 10 % of balance x WEL at the EMA band (spans of
    one minute: the band is the previous minute's close), one take-profit at +1 %, re-entries 50 % away."""
    return {"mode": "recursive_grid", "config_name": "recursive_test", "symbol": "TEST",
            "long": {**_SIDE, **long}, "short": {**_SIDE, "enabled": False}}


def readonly(values, dtype) -> np.ndarray:
    """Arrays typed like the cache's memory maps (read-only), so every test shares one compiled engine."""
    a = np.ascontiguousarray(values, dtype=dtype)
    a.setflags(write=False)
    return a


def replay(config: dict, market: dict, trades: list[tuple], balance: float = 1000.0, latency: float = 0.0,
           exhaustive: bool = False, funding=None, end: float = -np.inf):
    """Replay (timestamp ms, price, taker side) rows (the data ending at `end`); return the finished
    context."""
    ts, price, side = zip(*trades)
    ctx = new_context(parse_live_config(config).to_array(), MarketSpec(**market).to_array(), balance, latency,
                      max(1, ts[-1] - ts[0]), funding, exhaustive)
    ctx.trades(readonly(ts, np.int64), readonly(price, np.float64), readonly(side, np.int8))
    ctx.finish(end)
    return ctx


def replay_candles(config: dict, market: dict, candles: list[tuple], balance: float = 1000.0,
                   latency: float = 0.0):
    """Replay (open time ms, open, high, low, close) rows; return the finished context."""
    ts, o, h, lo, c = zip(*candles)
    ctx = new_context(parse_live_config(config).to_array(), MarketSpec(**market).to_array(), balance, latency,
                      ts[-1] - ts[0] + 60_000)
    f = np.float64
    ctx.candles(readonly(ts, np.int64), readonly(o, f), readonly(h, f), readonly(lo, f), readonly(c, f))
    ctx.finish()
    return ctx


def fills(ctx) -> list[dict]:
    """The fills as dicts keyed like fills.csv."""
    return [dict(zip(B.FILL_COLUMNS, row)) for row in ctx.fill_rows()]


# ---- linear and inverse accounting, to the last digit ----------------------------------------------
def test_linear_entry_and_take_profit_pnl_and_fees():
    # t=0 seeds the book and the EMAs at 100; the long initial entry rests at min(best bid, band) = 100 with
    # qty 1000*1.0*0.1/100 = 1.0; a sell at 99 fills it; the take-profit rests at round_up(100*1.01) = 101;
    # a buy at 102 prints through it.
    ctx = replay(recursive_long(), LINEAR, [(0, 100.0, -1), (100, 99.0, -1), (200, 102.0, 1)])
    entry, close = fills(ctx)
    fee_entry = 1.0 * 100.0 * 1.0 * 0.0002  # qty * price * c_mult * maker fee
    pnl = 1.0 * 1.0 * (101.0 - 100.0)  # qty * c_mult * (close price - position price)
    fee_close = 1.0 * 101.0 * 1.0 * 0.0002
    assert (entry["kind"], entry["side"], entry["price"], entry["qty"], entry["fee"]) == (0, 1, 100.0, 1.0, fee_entry)
    assert (close["kind"], close["side"], close["price"], close["qty"]) == (1, -1, 101.0, 1.0)
    assert close["pnl"] == pnl and close["fee"] == fee_close
    balance = 1000.0 + (0.0 - fee_entry)
    assert entry["balance"] == balance
    balance += pnl - fee_close
    assert close["balance"] == balance == ctx.st[0]
    assert close["long_size"] == 0.0 and entry["long_size"] == 1.0 and entry["long_price"] == 100.0


def test_inverse_entry_and_take_profit_pnl_and_fees():
    # inverse: balance 1 BTC, qty in 1-USD contracts; initial cost 1*1.0*0.1 BTC at 10000 -> 1000 contracts
    ctx = replay(recursive_long(), INVERSE, [(0, 10000.0, -1), (100, 9999.0, -1), (200, 10200.0, 1)], balance=1.0)
    entry, close = fills(ctx)
    assert (entry["price"], entry["qty"], close["price"], close["qty"]) == (10000.0, 1000.0, 10100.0, 1000.0)
    fee_entry = 1000.0 * 1.0 / 10000.0 * 0.0002  # cost in coin = qty * c_mult / price
    pnl = 1000.0 * 1.0 * (1.0 / 10000.0 - 1.0 / 10100.0)  # qty * c_mult * (1/P - 1/p_close)
    fee_close = 1000.0 * 1.0 / 10100.0 * 0.0002
    assert entry["fee"] == fee_entry and close["pnl"] == pnl and close["fee"] == fee_close
    assert close["balance"] == (1.0 + (0.0 - fee_entry)) + (pnl - fee_close)


def test_inverse_position_price_is_the_harmonic_mean_of_its_fills():
    # ddown 1.0 and re-entries 1 % away: after the first fill a re-entry bid rests at round_dn(10000*0.99)
    # (qty max(|Q|*1.0, initial) = 1000, cropped to the exposure limit 2.0); a sweep to 9800 fills it too
    config = recursive_long(rentry_pprice_dist=0.01, wallet_exposure_limit=2.0, initial_qty_pct=0.05)
    ctx = replay(config, INVERSE, [(0, 10000.0, -1), (100, 9999.0, -1), (200, 9800.0, -1)], balance=1.0)
    first, second = fills(ctx)
    assert (first["price"], second["price"]) == (10000.0, 9900.0)
    q1, q2 = first["qty"], second["qty"]
    expected = (q1 + q2) / (q1 / 10000.0 + q2 / 9900.0)
    assert second["long_price"] == expected


# ---- latency and pace ---------------------------------------------------------------------------------
def test_orders_rest_only_after_the_latency():
    ctx = replay(recursive_long(), LINEAR, [
        (0, 100.0, -1),     # decision at 0: the bid at 100 reaches the exchange at 500
        (499, 99.0, -1),    # nothing rests yet
        (500, 99.0, -1),    # the bid is there: filled; the take-profit decided now rests from 1000
        (999, 102.0, 1),    # not yet
        (1000, 102.0, 1),   # filled
    ], latency=500.0)
    assert [(f["timestamp"], f["price"]) for f in fills(ctx)] == [(500, 100.0), (1000, 101.0)]


def test_orders_move_no_faster_than_the_pace():
    # initial entry 5 % above the band: the bid sits on the best bid (last taker-sell price)
    ctx = replay(recursive_long(initial_eprice_ema_dist=-0.05), LINEAR, [
        (0, 100.0, -1),     # bid at 100 (latency 0)
        (300, 102.0, -1),   # best bid 102: the bot may move its bid only at 1000 (one second after 0)
        (600, 101.0, -1),   # a bid moved to 102 at once would fill here; the bid at 100 does not
        (1200, 100.0, -1),  # the decision at 1000 moved it to the best bid then, 101: filled
    ])
    assert [(f["timestamp"], f["price"]) for f in fills(ctx)] == [(1200, 101.0)]


def test_a_print_at_the_order_price_does_not_fill():
    ctx = replay(recursive_long(), LINEAR, [(0, 100.0, -1), (100, 100.0, -1), (200, 100.0, -1)])
    assert fills(ctx) == []


# ---- sweeps, take-profit ladder, one-way accounting --------------------------------------------------
def test_take_profit_ladder_fills_in_price_order_in_one_sweep():
    # three take-profits from +1 % to +3 %: 101, 102, 103 with qtys 0.333, 0.333, 0.334 (STRATEGY §3)
    config = recursive_long(n_close_orders=3, markup_range=0.02)
    ctx = replay(config, LINEAR, [(0, 100.0, -1), (100, 99.0, -1), (200, 104.0, 1)])
    closes = fills(ctx)[1:]
    assert [(f["price"], f["qty"]) for f in closes] == [(101.0, 0.333), (102.0, 0.333), (103.0, 0.334)]
    assert [f["pnl"] for f in closes] == [0.333 * 1.0 * 1.0, 0.333 * 1.0 * 2.0, 0.334 * 1.0 * 3.0]
    assert closes[-1]["long_size"] == 0.0


def test_take_profit_ladder_fills_one_step_at_a_time():
    config = recursive_long(n_close_orders=3, markup_range=0.02)
    ctx = replay(config, LINEAR, [(0, 100.0, -1), (100, 99.0, -1), (200, 101.5, 1), (300, 102.5, 1),
                                  (400, 103.5, 1)])
    assert [(f["timestamp"], f["price"], f["long_size"]) for f in fills(ctx)[1:]] == [
        (200, 101.0, 0.667), (300, 102.0, 0.334), (400, 103.0, 0.0)]


def test_classic_is_one_way_an_opposite_entry_reduces_the_position():
    # flat: bid round_dn(100*0.99) = 99 qty round_dn((1000/99)*10*0.01) = 1.010, ask 101 qty 0.990;
    # latency 500 keeps the ask resting after the bid fills, until the new orders land at 1100
    ctx = replay(CLASSIC, LINEAR, [(0, 100.0, -1), (600, 98.0, -1), (700, 102.0, 1)], latency=500.0)
    buy, sell = fills(ctx)
    assert (buy["price"], buy["qty"], sell["price"], sell["qty"]) == (99.0, 1.01, 101.0, 0.99)
    assert sell["pnl"] == 0.99 * 1.0 * (101.0 - 99.0)
    assert (sell["long_size"], sell["long_price"], sell["short_size"]) == (0.02, 99.0, 0.0)


# ---- liquidation ------------------------------------------------------------------------------------
def test_liquidation_closes_at_the_liquidation_price_with_taker_fee_and_stops():
    # balance 100, exposure limit 10: initial entry 100*10*0.5/100 = 5 contracts at 100
    config = recursive_long(wallet_exposure_limit=10.0, initial_qty_pct=0.5)
    trades = [(0, 100.0, -1), (100, 99.0, -1), (200, 85.0, -1), (300, 80.0, -1), (400, 100.0, 1)]
    ctx = replay(config, LINEAR, trades, balance=100.0, end=10_000)
    entry, liq = fills(ctx)
    balance = 100.0 + (0.0 - 5.0 * 100.0 * 1.0 * 0.0002)
    # equity = maintenance margin: W + Q*(p - P) = mm*Q*p  ->  p = (Q*P - W) / (Q - mm*Q)
    liq_price = (5.0 * 100.0 - balance) / (5.0 - 0.005 * 5.0)
    assert liq["kind"] == B.K_LIQUIDATION and liq["taker"] == 1.0 and liq["qty"] == 5.0
    assert liq["price"] == pytest.approx(liq_price, rel=1e-12)
    assert liq["pnl"] == pytest.approx(5.0 * (liq_price - 100.0), rel=1e-12)
    assert liq["fee"] == pytest.approx(5.0 * liq_price * 0.0005, rel=1e-12)
    assert ctx.st[0] == pytest.approx(balance + 5.0 * (liq_price - 100.0) - 5.0 * liq_price * 0.0005, rel=1e-12)
    assert ctx.stopped and ctx.w[B.E_N_TRADES] == 4  # the print at 400 is never replayed
    assert ctx.w[B.E_CLOSEST_LIQ] == 0.0
    assert ctx.w[B.E_MAX_GAP] == 10_000 - 300  # the rest of the data counts as flat, without fills


# ---- candles ----------------------------------------------------------------------------------------
def test_candles_fill_through_low_and_high_only():
    m = 60_000
    ctx = replay_candles(recursive_long(), LINEAR, [
        (0, 100.0, 100.0, 100.0, 100.0),     # seeds; the bid at 100 rests from the end of this minute
        (m, 100.0, 100.5, 100.0, 100.0),     # low at the bid: no fill
        (2 * m, 100.0, 100.5, 99.0, 100.0),  # low below it: filled at 100; take-profit 101 from now on
        (3 * m, 100.0, 101.0, 100.0, 101.0),  # high at the take-profit: no fill
        (4 * m, 101.0, 101.5, 100.5, 101.0),  # high above it: filled
    ])
    assert [(f["timestamp"], f["price"]) for f in fills(ctx)] == [(3 * m - 1, 100.0), (5 * m - 1, 101.0)]


def test_a_candle_and_the_minute_it_closes_share_one_decision():
    m = 60_000
    ctx = replay_candles(recursive_long(), LINEAR, [
        (0, 100.0, 100.0, 100.0, 100.0),
        (m, 100.0, 110.0, 100.0, 110.0),      # the band EMA (one minute) takes this close: the bid goes to 110
        (2 * m, 110.0, 110.0, 109.0, 110.0),  # through it: filled at 110
    ])
    assert [(f["timestamp"], f["price"]) for f in fills(ctx)] == [(3 * m - 1, 110.0)]
    assert ctx.w[B.E_N_DECISIONS] == 2  # one per candle with its minute's EMA update (the last comes after the data)


# ---- conservation, funding --------------------------------------------------------------------------
def test_balance_is_start_plus_realised_pnl_minus_fees_plus_funding():
    rng = np.random.default_rng(7)
    n = 20_000
    ts = np.cumsum(rng.integers(1, 3_000, n))
    price = np.round(100.0 * np.exp(np.cumsum(rng.normal(0, 0.0015, n))), 0)
    side = np.where(rng.random(n) < 0.5, 1, -1)
    funding = (np.arange(ts[0] + 3_600_000, ts[-1], 3_600_000, dtype=np.float64), None)
    funding = (funding[0], np.where(np.arange(len(funding[0])) % 2, 0.001, -0.0005))
    config = {**recursive_long(rentry_pprice_dist=0.01, wallet_exposure_limit=2.0), "short": {
        **recursive_long(rentry_pprice_dist=0.01)["long"], "wallet_exposure_limit": 2.0}}
    ctx = replay(config, LINEAR, list(zip(ts, price, side)), funding=funding)
    rows = ctx.fill_rows()
    assert len(rows) > 50 and ctx.w[B.E_FUNDING] != 0.0
    realised, fees = rows[:, B.F_PNL].sum(), rows[:, B.F_FEE].sum()
    assert ctx.st[0] == pytest.approx(1000.0 + realised - fees + ctx.w[B.E_FUNDING], rel=1e-12, abs=1e-9)
    assert ctx.w[B.E_RPNL] == pytest.approx(realised) and ctx.w[B.E_FEES] == pytest.approx(fees)


def test_unowned_is_the_same_array_without_reference_counting():
    """`views.unowned`, which the replay applies to its arrays, keeps the data, shape and strides: a write
    through it shows in the original (without JIT it is the array itself)."""
    from numba import njit

    from passivx.backtest.views import unowned

    @njit
    def bump(a):
        b = unowned(a)
        b[1, 2] += 5.0
        return b.shape[0] * 100 + b.shape[1], b[1:, 1:].sum()

    a = np.arange(12.0).reshape(3, 4)
    shape, total = bump(a)
    assert shape == 304 and a[1, 2] == 11.0 and total == a[1:, 1:].sum()
