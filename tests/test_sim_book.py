"""The simulator's matching and accounting (no network): the backtester's fill rule and formulas."""
import itertools

import pytest

from passivx.markets import MarketSpec
from passivx.sim.book import (DUPLICATE_ID, INSUFFICIENT, MIN_NOTIONAL, POST_ONLY, PRICE_STEP, QTY_STEP,
                              REDUCE_ONLY, Book, Order, Reject, fmt)

INVERSE = MarketSpec(price_step=0.5, qty_step=1, min_qty=1, c_mult=1, inverse=True, maker_fee=0.0002,
                     taker_fee=0.00055)
LINEAR = MarketSpec(price_step=0.1, qty_step=0.001, min_qty=0.001, min_cost=100, maker_fee=0.0002, taker_fee=0.0005)


def make_book(spec, balance, price=60000.0):
    ids = itertools.count(1)
    events = []
    book = Book(spec=spec, balance=balance, price=price, now_ms=lambda: 1_700_000_000_000,
                new_order_id=lambda: str(next(ids)), on_event=lambda k, p: events.append(k))
    return book, events


def order(book, side, price, qty, **kw):
    return Order(id=book.new_order_id(), client_id=kw.pop("cid", ""), side=side, type=kw.pop("type", "limit"),
                 price=price, qty=qty, **kw)


def test_bid_fills_only_on_a_trade_strictly_below_whole_at_its_price_with_maker_fee():
    book, events = make_book(INVERSE, 0.05)
    bid = book.place(order(book, "buy", 59000.0, 100, post_only=True))
    book.trade(59000.0, 5, "sell")
    assert bid.is_open and book.positions["BOTH"] == [0.0, 0.0]
    book.trade(58999.5, 1, "sell")  # a 1-contract print fills the whole 100 (backtester rule)
    assert bid.status == "filled" and bid.filled == 100
    assert book.positions["BOTH"] == [100.0, 59000.0]
    fee = 100 / 59000.0 * 0.0002
    assert book.balance == pytest.approx(0.05 - fee, rel=1e-12)
    assert events.count("fill") == 1 and "position" in events and "wallet" in events


def test_inverse_close_realises_coin_pnl_and_entry_is_harmonic_mean():
    book, _ = make_book(INVERSE, 0.05)
    book.place(order(book, "buy", 59000.0, 100))
    book.place(order(book, "buy", 58000.0, 200))
    book.trade(57999.5, 1, "sell")
    size, price = book.positions["BOTH"]
    assert size == 300 and price == pytest.approx(300 / (100 / 59000 + 200 / 58000), rel=1e-12)
    before = book.balance
    tp = book.place(order(book, "sell", 60000.0, 300, reduce_only=True))
    book.trade(60000.0, 1, "buy")
    assert tp.is_open  # not strictly above
    book.trade(60000.5, 1, "buy")
    pnl = 300 * (1 / price - 1 / 60000.0)
    fee = 300 / 60000.0 * 0.0002
    assert book.positions["BOTH"] == [0.0, 0.0]
    assert book.balance == pytest.approx(before + pnl - fee, rel=1e-12)
    assert book.fills[-1].realized_pnl == pytest.approx(pnl, rel=1e-12)


def test_linear_market_order_fills_at_last_price_with_taker_fee():
    book, _ = make_book(LINEAR, 10_000.0)
    book.trade(60010.0, 0.1, "buy")
    mo = book.place(order(book, "sell", 0.0, 0.01, type="market"))
    assert mo.status == "filled" and mo.avg_price == 60010.0
    assert book.positions["BOTH"] == [-0.01, 60010.0]
    assert book.balance == pytest.approx(10_000.0 - 0.01 * 60010.0 * 0.0005)


def test_post_only_that_would_take_liquidity_is_rejected_against_the_derived_book():
    book, _ = make_book(LINEAR, 10_000.0)
    book.trade(60000.0, 0.1, "buy")  # ask 60000.0, bid 59999.9
    with pytest.raises(Reject) as e:
        book.place(order(book, "buy", 60000.0, 0.01, post_only=True))
    assert e.value.reason == POST_ONLY
    with pytest.raises(Reject):
        book.place(order(book, "sell", 59999.9, 0.01, post_only=True))
    assert book.place(order(book, "buy", 59999.9, 0.01, post_only=True)).is_open
    assert book.place(order(book, "sell", 60000.0, 0.01, post_only=True)).is_open


def test_refusals_steps_minimums_duplicates_reduce_only_and_margin():
    book, _ = make_book(LINEAR, 1000.0)
    cases = [(dict(side="buy", price=50000.0, qty=0.0015), QTY_STEP),
             (dict(side="buy", price=50000.05, qty=0.01), PRICE_STEP),
             (dict(side="buy", price=50000.0, qty=0.001), MIN_NOTIONAL),
             (dict(side="sell", price=61000.0, qty=0.01, reduce_only=True), REDUCE_ONLY),
             (dict(side="buy", price=50000.0, qty=0.3), INSUFFICIENT)]  # 15000 notional / 10x > 1000
    for kw, reason in cases:
        with pytest.raises(Reject) as e:
            book.place(order(book, kw.pop("side"), kw.pop("price"), kw.pop("qty"), **kw))
        assert e.value.reason == reason, kw
    book.place(order(book, "buy", 50000.0, 0.01, cid="px-a"))
    with pytest.raises(Reject) as e:
        book.place(order(book, "buy", 49000.0, 0.01, cid="px-a"))
    assert e.value.reason == DUPLICATE_ID
    assert len(book.open_orders()) == 1


def test_client_ids_unique_forever_on_bybit_among_open_orders_on_binance():
    for reusable in (False, True):
        book, _ = make_book(LINEAR, 10_000.0)
        book.client_ids_reusable = reusable
        first = book.cancel(book.place(order(book, "buy", 50000.0, 0.01, cid="px-r")))
        if reusable:
            again = book.place(order(book, "buy", 50000.0, 0.01, cid="px-r"))
            assert book.find(client_id="px-r") is again and book.find(order_id=first.id) is first
        else:
            with pytest.raises(Reject):
                book.place(order(book, "buy", 50000.0, 0.01, cid="px-r"))


def test_reduce_only_fill_is_clipped_to_the_position():
    book, _ = make_book(LINEAR, 10_000.0)
    book.place(order(book, "buy", 59000.0, 0.01))
    book.trade(58990.0, 1, "sell")
    tp = book.place(order(book, "sell", 61000.0, 0.01, reduce_only=True))
    book.place(order(book, "sell", 0.0, 0.004, type="market", reduce_only=True))
    book.trade(61000.1, 1, "buy")
    assert tp.filled == pytest.approx(0.006) and tp.status == "canceled"
    assert book.positions["BOTH"] == [0.0, 0.0]


def test_hedge_mode_holds_both_sides_and_closes_by_position_side():
    book, _ = make_book(LINEAR, 10_000.0)
    book.set_hedge(True)
    book.place(order(book, "buy", 59000.0, 0.01, position_side="LONG"))
    book.place(order(book, "sell", 61000.0, 0.02, position_side="SHORT"))
    book.trade(58999.0, 1, "sell")
    book.trade(61001.0, 1, "buy")
    assert book.positions == {"LONG": [0.01, 59000.0], "SHORT": [-0.02, 61000.0]}
    close = book.place(order(book, "sell", 62000.0, 0.01, position_side="LONG"))  # hedge close: reduces LONG
    book.trade(62000.5, 1, "buy")
    assert close.status == "filled" and book.positions["LONG"] == [0.0, 0.0]
    assert book.positions["SHORT"] == [-0.02, 61000.0]


def test_candles_aggregate_trades_and_fill_gaps_flat():
    book, _ = make_book(LINEAR, 1000.0, price=100.0)
    t0 = 1_700_000_040_000 // 60_000 * 60_000
    for ts, p in [(t0 + 1000, 101.0), (t0 + 2000, 99.0), (t0 + 3000, 100.5), (t0 + 121_000, 102.0)]:
        book.trade(p, 1.0, "buy", ts)
    c = book.candles(t0 - 60_000, 4)
    assert [row[0] for row in c] == [t0 - 60_000, t0, t0 + 60_000, t0 + 120_000]
    assert c[0][1:5] == (100.0, 100.0, 100.0, 100.0) and c[0][5] == 0.0  # before the first trade: initial price
    assert c[1][1:5] == (101.0, 101.0, 99.0, 100.5) and c[1][5] == 3.0 and c[1][7] == 3
    assert c[2][1:5] == (100.5,) * 4 and c[3][1:5] == (102.0,) * 4


def test_fmt_prints_the_step_decimals():
    assert fmt(60000, 0.5) == "60000.0" and fmt(0.01, 0.001) == "0.010" and fmt(100, 1) == "100"
