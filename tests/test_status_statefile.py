"""The state file's content (passivx.live.statefile) from an engine's state: equity, wallet exposure,
liquidation, PnL and fees of fills, the UTC-day roll-over, today's PnL carried over a restart, masked
errors, and atomic writing. The numbers are checked against the calculator's own formulas."""
from __future__ import annotations

import json
import logging
import time

import pytest

from passivx.calc import contracts as C
from passivx.exchanges.base import Fill
from passivx.live.statefile import utc_day

NAME = "BTCUSD_default"


def engine(balance=0.05, long=(1000.0, 60_000.0), price=59_000.0, keys=("simkey", "simsecret-0123456789")):
    """A real Engine for the shipped classic Bybit config, with a market, a position and a last price."""
    from passivx.config import load_live_config
    from passivx.exchanges import adapter
    from passivx.live.engine import Engine
    from passivx.markets import MarketSpec

    e = Engine(adapter("bybit"), load_live_config(f"configs/live/bybit/{NAME}.json"), keys)
    e.spec = MarketSpec(price_step=0.5, qty_step=1.0, min_qty=1.0, c_mult=1.0, inverse=True, maker_fee=0.0002,
                        taker_fee=0.0006, mm_rate=0.005)
    e.mkt = e.spec.to_array()
    e.state.balance = balance
    e.state.long_size, e.state.long_price = long
    e.state.trade(time.time() * 1000, price, 1.0, -1)
    e.trusted, e.up = True, {"public": True, "private": True}
    return e


@pytest.fixture
def statefile(tmp_path):
    from passivx.live.statefile import StateFile

    made = []

    def make(e=None):
        sf = StateFile(e or engine(), root=tmp_path / "state", notifications=tmp_path / "none.json")
        made.append(sf)
        return sf
    yield make
    for sf in made:
        logging.getLogger("passivx.live").removeHandler(sf.recorder)


def test_snapshot_matches_the_calculators_formulas(statefile):
    e = engine()
    snap = statefile(e).snapshot()
    mkt = e.mkt
    assert (snap["schema"], snap["version"], snap["exchange"], snap["config_name"], snap["symbol"]) == \
        ("passivx.state", 1, "bybit", NAME, "BTCUSD")
    assert snap["connection"]["trading"] and snap["coin"] == e.ad.settle
    upnl = C.pnl(1000.0, 60_000.0, 59_000.0, 1000.0, mkt)
    assert upnl < 0 and snap["unrealized_pnl"] == pytest.approx(upnl) and snap["equity"] == pytest.approx(0.05 + upnl)
    we = C.wallet_exposure(1000.0, 60_000.0, 0.05, mkt)
    assert snap["positions"]["long"] == {"size": 1000.0, "price": 60_000.0, "wallet_exposure": pytest.approx(we)}
    liq = C.liquidation_price(0.05, 1000.0, 60_000.0, 0.0, 0.0, mkt)
    assert snap["liquidation"]["price"] == pytest.approx(liq) and liq > 0
    assert snap["liquidation"]["distance"] == pytest.approx((59_000.0 - liq) / 59_000.0)
    assert snap["liquidation"]["danger_distance"] == e.config.data["stop_loss_liq_diff"]  # classic: the config's
    json.dumps(snap, allow_nan=False)  # plain JSON, no NaN / Infinity


def test_fills_give_realised_pnl_fees_and_roll_over_at_utc_midnight(statefile):
    e = engine()
    sf = statefile(e)
    yesterday = time.time() * 1000 - 86_400_000
    sf.pnl["day"] = utc_day(yesterday)
    sf.fill(Fill("passivx-cl-abc-1", -1, 61_000.0, 400.0, yesterday))  # a close, booked yesterday
    e.state.long_size = 0.0
    e.state.long_price = 0.0  # the position push came before the fill's: the last known price is used
    sf.fill(Fill("passivx-cl-abc-2", -1, 62_000.0, 600.0, time.time() * 1000))
    sf.fill(Fill("passivx-el-abc-3", 1, 58_000.0, 100.0, time.time() * 1000))
    snap = sf.snapshot()
    first, second = (C.pnl(1.0, 60_000.0, p, q, e.mkt) for p, q in ((61_000.0, 400.0), (62_000.0, 600.0)))
    fees = [C.qty_to_cost(q, p, e.mkt) * 0.0002 for p, q in ((61_000.0, 400.0), (62_000.0, 600.0), (58_000.0, 100.0))]
    p = snap["pnl"]
    assert p["realized_total"] == pytest.approx(first + second) and p["realized_today"] == pytest.approx(second)
    assert p["fees_total"] == pytest.approx(sum(fees)) and p["fees_today"] == pytest.approx(sum(fees[1:]))
    assert (p["fills_total"], p["fills_today"]) == (3, 2)
    assert [(f["kind"], f["side"], f["position_side"]) for f in snap["last_fills"]] == \
        [("close", "sell", "long"), ("close", "sell", "long"), ("entry", "buy", "long")]
    assert snap["last_fills"][2]["realized_pnl"] == 0.0


def test_todays_pnl_survives_a_restart_the_same_day(statefile, tmp_path):
    e = engine()
    sf = statefile(e)
    sf.fill(Fill("passivx-cl-abc-1", -1, 61_000.0, 400.0, time.time() * 1000))
    sf._write(sf.snapshot())
    again = statefile(engine()).snapshot()["pnl"]
    assert again["realized_today"] == pytest.approx(C.pnl(1.0, 60_000.0, 61_000.0, 400.0, e.mkt))
    assert again["fills_today"] == 1 and again["realized_total"] == 0.0 and again["fills_total"] == 0


def test_errors_of_the_last_hour_are_counted_and_masked(statefile):
    sf = statefile()
    log = logging.getLogger("passivx.live")
    log.error("order loop error with key simkey and secret simsecret-0123456789")
    log.warning("public stream lost")
    log.info("not recorded")
    errors = sf.snapshot()["errors"]
    assert (errors["last_hour"], errors["warnings_last_hour"]) == (1, 1)
    text = json.dumps(errors)
    assert "simsecret" not in text and "simkey" not in text and "***" in text
    sf.recent[0]["ts_ms"] -= 2 * 3_600_000  # older than an hour: dropped
    assert sf.snapshot()["errors"]["last_hour"] == 0


def test_written_atomically_with_history(statefile, tmp_path):
    sf = statefile()
    sf._write(sf.snapshot(), sf._new_history())
    folder = tmp_path / "state" / "bybit"
    assert sorted(p.name for p in folder.iterdir()) == [f"{NAME}.history.json", f"{NAME}.json"]  # no temp left
    assert json.loads((folder / f"{NAME}.json").read_text())["price"] == 59_000.0
    (point,) = json.loads((folder / f"{NAME}.history.json").read_text())["points"]
    assert point[1:] == [59_000.0, pytest.approx(sf.snapshot()["equity"]), 1000.0, 0.0]


def test_a_position_without_balance_stays_valid_json(statefile):
    snap = statefile(engine(balance=0.0)).snapshot()
    assert snap["positions"]["long"]["wallet_exposure"] is None and snap["positions"]["short"]["wallet_exposure"] == 0
    json.dumps(snap, allow_nan=False)
