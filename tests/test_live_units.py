"""Live engine parts without an exchange: the order diff, the rate limiter, key files and secret masking,
and the state's EMA rules (the backtester's)."""
from __future__ import annotations

import asyncio
import json
import logging
import math
import os

import numpy as np
import pytest

from passivx.calc import layout as L
from passivx.calc.ema import band_alphas, ema_alpha, ema_update
from passivx.errors import AuthError
from passivx.exchanges.base import Order
from passivx.live import orders as O
from passivx.live.keys import SecretFilter, load_keys
from passivx.live.ratelimit import RateLimiter, backoff
from passivx.live.state import MarketState, Want


def want(side, price, qty, pos_side=None, ro=False, kind=L.K_ENTRY, market=False):
    return Want(side, pos_side if pos_side is not None else (side if not ro else -side), kind, price, qty, ro, market)


def have(side, price, qty, pos_side=None, ro=False, cid=None, oid=None):
    oid = oid or f"{side}-{price}-{qty}-{ro}"
    return Order(oid, cid if cid is not None else f"passivx-el-x-{oid}", side,
                 pos_side if pos_side is not None else (side if not ro else -side), price, qty, ro)


# ---- diff ---------------------------------------------------------------------------------------------
def test_diff_from_nothing_creates_everything_nearest_first():
    w = [want(1, 99.0, 1), want(1, 98.0, 2), want(-1, 100.5, 1, ro=True)]
    cancels, creates = O.diff(w, [], 100.0)
    assert cancels == []
    assert [c.price for c in creates] == [100.5, 99.0, 98.0]


def test_diff_keeps_orders_within_tolerance_and_replaces_the_rest():
    w = [want(1, 99.0, 1.0), want(1, 98.0, 2.0)]
    h = [have(1, 99.0 * (1 + O.PRICE_TOL / 2), 1.0), have(1, 98.0, 2.5)]
    cancels, creates = O.diff(w, h, 100.0)
    assert cancels == [h[1]] and creates == [w[1]]
    # a price move beyond the tolerance replaces the order
    cancels, creates = O.diff([want(1, 99.5, 1.0)], [have(1, 99.0, 1.0)], 100.0)
    assert len(cancels) == 1 and creates[0].price == 99.5


def test_diff_never_touches_foreign_orders_and_matches_reduce_only_and_position_side():
    manual = have(1, 99.0, 1.0, cid="my-manual-order")
    w = [want(-1, 101.0, 1.0, ro=True)]
    entry_at_same_price = have(-1, 101.0, 1.0)  # an entry is not a close
    cancels, creates = O.diff(w, [manual, entry_at_same_price], 100.0)
    assert manual not in cancels and entry_at_same_price in cancels
    assert creates == w  # created once the entry at that side and price is gone (cancels come first)


def test_diff_never_two_orders_at_one_side_and_price():
    # hedge mode: a long close and a short entry would both sell at 101
    w = [want(-1, 101.0, 1.0, pos_side=1, ro=True), want(-1, 101.0, 2.0, pos_side=-1)]
    _, creates = O.diff(w, [], 100.0)
    assert len(creates) == 1 and creates[0].pos_side == 1
    # an order that stays (cancel cap reached) blocks a create at its side and price
    h = [have(-1, 101.0, 5.0, oid="a"), have(-1, 102.0, 5.0, oid="b")]
    cancels, creates = O.diff([want(-1, 102.0, 1.0)], h, 100.0, max_cancels=1)
    assert cancels == [h[0]] and creates == []


def test_diff_caps_per_cycle_and_never_exceeds_the_grid():
    w = [want(1, 100.0 - i, 1.0) for i in range(1, 30)]
    cancels, creates = O.diff(w, [], 100.0, max_creates=5)
    assert [c.price for c in creates] == [99.0, 98.0, 97.0, 96.0, 95.0]
    h = [have(-1, 200.0 + i, 1.0) for i in range(20)]
    cancels, creates = O.diff(w[:3], h, 100.0, max_cancels=4)
    assert [c.price for c in cancels] == [200.0, 201.0, 202.0, 203.0]
    assert creates == []  # 16 stale orders stay this cycle: no room under the 3 the grid needs
    cancels, creates = O.diff(w[:3], h[:4], 100.0, max_cancels=4)
    assert len(cancels) == 4 and len(creates) == 3


def test_diff_sends_the_market_stop_loss_first():
    sl = want(-1, 99.0, 3.0, ro=True, kind=L.K_STOP_LOSS, market=True)
    _, creates = O.diff([want(-1, 101.0, 1.0, ro=True), sl], [], 100.0)
    assert creates[0] is sl and len(creates) == 2


def test_client_ids_are_unique_prefixed_short_and_carry_the_kind():
    ids = {O.client_id(want(1, 99.0, 1.0, kind=k)) for k in (L.K_ENTRY, L.K_CLOSE, L.K_UNSTUCK) for _ in range(50)}
    assert len(ids) == 150
    for cid in ids:
        assert O.is_ours(cid) and len(cid) <= 36 and all(c.isalnum() or c == "-" for c in cid)
    assert O.kind_of(O.client_id(want(-1, 99.0, 1.0, pos_side=-1, kind=L.K_UNSTUCK))) == (L.K_UNSTUCK, -1)
    assert O.kind_of("someone-else") is None and not O.is_ours("passivxx-1")


# ---- rate limiter -------------------------------------------------------------------------------------
class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_rate_limiter_bursts_then_paces():
    clock = Clock()
    rl = RateLimiter(rate=10.0, burst=3, clock=clock)
    for _ in range(3):
        assert rl.wait_time() == 0.0
        rl.tokens -= 1.0
    assert rl.wait_time() == pytest.approx(0.1)
    clock.t = 0.05
    assert rl.wait_time() == pytest.approx(0.05)
    clock.t = 10.0
    assert rl.wait_time() == 0.0 and rl.tokens == 3.0


def test_rate_limiter_penalty_grows_and_resets():
    clock = Clock()
    rl = RateLimiter(rate=100.0, burst=10, base_pause=1.0, max_pause=8.0, clock=clock)
    pauses = [rl.penalize() for _ in range(6)]
    for i, p in enumerate(pauses):
        assert 0.75 * min(8.0, 2 ** i) <= p <= 1.25 * min(8.0, 2 ** i)
    assert rl.wait_time() >= pauses[-1] - 1e-9
    rl.ok()
    assert 0.75 <= rl.penalize() <= 1.25


def test_rate_limiter_acquire_waits_real_time():
    rl = RateLimiter(rate=50.0, burst=1)

    async def run():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for _ in range(4):
            await rl.acquire()
        return loop.time() - t0
    assert asyncio.run(run()) >= 3 / 50.0 * 0.9


def test_backoff_is_exponential_capped_and_jittered():
    for attempt in range(12):
        d = min(30.0, 0.5 * 2 ** attempt)
        samples = [backoff(attempt) for _ in range(20)]
        assert all(d / 2 <= x <= d for x in samples)
    assert len({backoff(3) for _ in range(20)}) > 1


# ---- keys ---------------------------------------------------------------------------------------------
def write_key(tmp_path, content, mode=0o600):
    p = tmp_path / "bybit" / "cfg.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(content)
    os.chmod(p, mode)
    return p


def test_keys_load(tmp_path):
    write_key(tmp_path, json.dumps(["K", "S3CRET"]))
    assert load_keys("bybit", "cfg", tmp_path) == ("K", "S3CRET")


@pytest.mark.parametrize("content,mode,expected", [
    (None, 0o600, "not found"),
    ('["K", "S"]', 0o640, "run `chmod 600"),
    ('["K", "S"]', 0o604, "mode 0604"),
    ('{"key": "K"}', 0o600, "two non-empty strings"),
    ('["K"]', 0o600, "two non-empty strings"),
    ('not json', 0o600, "two non-empty strings"),
])
def test_bad_key_files_are_one_line(tmp_path, content, mode, expected):
    if content is not None:
        write_key(tmp_path, content, mode)
    with pytest.raises(AuthError) as e:
        load_keys("bybit", "cfg", tmp_path)
    assert expected in str(e.value) and "\n" not in str(e.value)
    assert "S3CRET" not in str(e.value)


def test_secret_filter_masks_messages_arguments_and_tracebacks(tmp_path):
    path = tmp_path / "x.log"
    handler = logging.FileHandler(path)
    handler.addFilter(SecretFilter(("KEY123", "SECRET456")))
    logger = logging.getLogger("test.mask")
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning("sent %s with %s", "KEY123", {"secret": "SECRET456"})
    try:
        raise RuntimeError("signature of SECRET456 refused")
    except RuntimeError:
        logger.exception("failed for KEY123")
    handler.close()
    text = path.read_text()
    assert "KEY123" not in text and "SECRET456" not in text and "signature of *** refused" in text


# ---- state: the backtester's EMA rules ----------------------------------------------------------------
def classic_cfg(span=100.0):
    cfg = np.zeros(L.CFG_SIZE)
    cfg[L.C_MODE] = L.MODE_CLASSIC
    cfg[L.C_EMA_SPAN] = span
    return cfg


def test_tick_ema_moves_only_when_the_price_changes_and_book_follows_the_taker():
    s = MarketState(L.MODE_CLASSIC, classic_cfg())
    trades = [(1, 100.0, 1, 1), (2, 100.0, 1, -1), (3, 101.0, 1, 1), (4, 101.0, 1, 1), (5, 99.5, 1, -1)]
    s.warm_ticks(trades)
    a = ema_alpha(100.0)
    expect = ema_update(ema_update(100.0, a, 101.0), a, 99.5)
    assert s.tick_ema == expect and s.last == 99.5
    assert s.bid == 99.5 and s.ask == 101.0  # last taker sell / taker buy
    st = s.vector(1000.0)
    assert st[L.S_TICK_EMA] == expect and st[L.S_BEST_BID] == 99.5 and st[L.S_BEST_ASK] == 101.0
    assert st[L.S_NOW_MS] == 1000.0 and np.isneginf(st[L.S_LONG_LAST_ENTRY_MS])


def test_band_emas_warm_on_closed_candles_then_step_each_minute():
    cfg = np.zeros(L.CFG_SIZE)
    cfg[L.C_MODE] = L.MODE_RECURSIVE
    for base, spans in ((L.C_LONG, (10.0, 40.0)), (L.C_SHORT, (5.0, 20.0))):
        cfg[base + L.P_EMA_SPAN_0], cfg[base + L.P_EMA_SPAN_1] = spans
    s = MarketState(L.MODE_RECURSIVE, cfg)
    candles = [[m * 60_000, 100.0 + m, 0, 0, 101.0 + m, 0] for m in range(5)]
    s.warm_bands(candles, now_ms=4 * 60_000 + 30_000)  # the last candle is still open
    alphas = np.concatenate([band_alphas(10.0, 40.0), band_alphas(5.0, 20.0)])
    expect = np.full(6, 100.0)
    for c in candles[:4]:
        expect = np.array([ema_update(expect[j], alphas[j], c[4]) for j in range(6)])
    np.testing.assert_array_equal(s.bands, expect)
    s.warm_ticks([(4 * 60_000 + 40_000, 200.0, 1.0, 1)])
    assert s.minute(4 * 60_000 + 59_999) is False
    assert s.minute(6 * 60_000 + 1) is True  # two boundaries passed: two steps with the last price
    for _ in range(2):
        expect = np.array([ema_update(expect[j], alphas[j], 200.0) for j in range(6)])
    np.testing.assert_array_equal(s.bands, expect)


def test_positions_from_the_exchange():
    s = MarketState(L.MODE_CLASSIC, classic_cfg())
    s.set_position(0, -5.0, 100.0)
    assert (s.long_size, s.short_size, s.short_price) == (0.0, -5.0, 100.0)
    s.set_position(0, 3.0, 90.0)
    assert (s.long_size, s.long_price, s.short_size) == (3.0, 90.0, 0.0)
    s.set_position(-1, 2.0, 110.0)  # hedge: the short side, size given as a magnitude or signed
    assert (s.long_size, s.short_size, s.short_price) == (3.0, -2.0, 110.0)
    s.set_position(0, 0.0, 0.0)
    assert s.long_size == 0.0 and s.short_size == 0.0
    s.filled(L.K_CLOSE, -1, 1234.0)
    assert s.vector(0)[L.S_SHORT_LAST_CLOSE_MS] == 1234.0 and math.isinf(s.vector(0)[L.S_LONG_LAST_CLOSE_MS])


# ---- the engine's answers to order errors (a scripted adapter, no network) ----------------------------
class ScriptedAdapter:
    """Order requests answer from a script: an exception to raise, or None for success."""

    name, order_rate, order_burst, settle = "bybit", 1000.0, 100, "BTC"

    def __init__(self, creates=(), cancels=(), before_answer=None):
        self.creates, self.cancels, self.sent = list(creates), list(cancels), []
        self.before_answer = before_answer  # called with the order id before the create answers

    async def create_order(self, client, symbol, side, pos_side, price, qty, reduce_only, market, cid, hedge):
        self.sent.append(("create", price, cid))
        err = self.creates.pop(0) if self.creates else None
        if err:
            raise err
        if self.before_answer:
            self.before_answer(f"id-{cid}", cid, side, price, qty)
        return f"id-{cid}"

    async def cancel_order(self, client, symbol, oid):
        self.sent.append(("cancel", oid))
        err = self.cancels.pop(0) if self.cancels else None
        if err:
            raise err


def engine_with(adapter, orders=()):
    from passivx.config import load_live_config
    from passivx.live.engine import Engine
    from passivx.markets import MarketSpec

    e = Engine(adapter, load_live_config("configs/live/bybit/BTCUSD_default.json"), ("k", "s"))
    e.spec = MarketSpec(price_step=0.5, qty_step=1.0, min_qty=1.0, c_mult=1.0, inverse=True)
    e.mkt, e.symbol, e.trusted, e.need_resync = e.spec.to_array(), "BTC/USD:BTC", True, False
    e.state.balance = 0.05
    e.state.trade(0.0, 60_000.0, 1.0, 1)
    e.orders = {o.id: o for o in orders}
    return e


def test_cancel_of_an_order_that_just_filled_resyncs_before_anything_else():
    import ccxt

    stale = have(-1, 70_000.0, 5.0, oid="old")
    ad = ScriptedAdapter(cancels=[ccxt.OrderNotFound("110001 order not exists or too late to cancel")])
    e = engine_with(ad, [stale])
    asyncio.run(e._cycle())
    assert ad.sent == [("cancel", "old")] and e.need_resync  # no create before the resync


def test_insufficient_balance_and_post_only_skip_that_order_only():
    import ccxt

    ad = ScriptedAdapter(creates=[ccxt.InsufficientFunds("110007"), None])
    e = engine_with(ad)
    asyncio.run(e._cycle())
    assert [s[0] for s in ad.sent] == ["create", "create"] and len(e.orders) == 1 and not e.need_resync
    assert not e.pending


def test_rate_limit_pauses_and_a_timed_out_create_is_looked_up_first():
    import ccxt

    ad = ScriptedAdapter(creates=[ccxt.RateLimitExceeded("10006")])
    e = engine_with(ad)
    asyncio.run(e._cycle())
    assert len(ad.sent) == 1 and e.need_resync and e.limiter.wait_time() > 0.5 and not e.pending
    ad = ScriptedAdapter(creates=[ccxt.RequestTimeout("timed out")])
    e = engine_with(ad)
    asyncio.run(e._cycle())
    assert len(ad.sent) == 1 and e.need_resync and e.pending == {ad.sent[0][2]}
    assert e.trusted  # the answer was unclear, not the state: resync, then go on


def test_live_never_imports_the_backtester_and_data_imports_no_markets():
    import subprocess
    import sys

    code = ("import sys, passivx.live.engine, passivx.cli.live_cmd; "
            "assert not [m for m in sys.modules if m.startswith('passivx.backtest')], 'backtest imported'; "
            "import passivx.data.cache, passivx.data.rest; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "ok", r.stderr
    r = subprocess.run([sys.executable, "-c", "import passivx.data.cache, sys; "
                        "assert 'passivx.markets' not in sys.modules; print('ok')"], capture_output=True, text=True,
                       timeout=120)
    assert r.stdout.strip() == "ok", r.stderr


def test_config_by_name_or_path(tmp_path, monkeypatch):
    from passivx.cli.live_cmd import config_path
    from passivx.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs" / "live" / "bybit").mkdir(parents=True)
    (tmp_path / "configs" / "live" / "bybit" / "mine.json").write_text("{}")
    (tmp_path / "other.json").write_text("{}")
    assert config_path("bybit", "mine") == tmp_path.joinpath("configs/live/bybit/mine.json").relative_to(tmp_path)
    assert str(config_path("bybit", "other.json")) == "other.json"
    with pytest.raises(ConfigError, match="neither a file nor configs/live/binance/mine.json"):
        config_path("binance", "mine")


def test_a_rejection_pushed_before_the_create_answers_leaves_no_phantom_order():
    """Bybit accepts a post-only order that would take, then cancels it on the order stream; the push can
    overtake the REST answer. The order must not be taken as open (it would block its price)."""
    from passivx.exchanges.base import OrderUpdate

    e = None

    def push(oid, cid, side, price, qty):
        e._order_update(OrderUpdate(oid, cid, side, side, price, qty, False, 0.0, "canceled",
                                    "EC_PostOnlyWillTakeLiquidity"))
    ad = ScriptedAdapter(before_answer=push)
    e = engine_with(ad)
    asyncio.run(e._cycle())
    assert len(ad.sent) == 2 and e.orders == {} and e.dirty
