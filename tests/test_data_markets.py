"""Market spec lookup: shipped snapshot, the copy cached beside the data, unknown symbols."""
import json

import pytest

from passivx.errors import MarketError
from passivx.markets import (
    MarketSpec,
    canonical_exchange,
    market_id,
    market_spec,
    snapshot_specs,
)


def test_names_normalise():
    assert canonical_exchange("BinanceUSDM") == "binance" and canonical_exchange("bybit") == "bybit"
    assert market_id("BTC/USDT:USDT") == "BTCUSDT" and market_id("BTC/USD:BTC") == "BTCUSD"
    assert market_id("btc_jpy") == "BTC_JPY"


def test_every_snapshot_entry_is_a_valid_spec():
    for ex in ("binance", "bybit", "synthetic"):
        specs = snapshot_specs(ex)
        assert specs
        for sym, spec in specs.items():
            MarketSpec.from_dict(spec, f"{ex} {sym}")
    assert all(s["inverse"] for s in snapshot_specs("bybit").values())
    assert not any(s["inverse"] for s in snapshot_specs("binance").values())


def test_snapshot_values_offline(tmp_path):
    btc = market_spec("binanceusdm", "BTC/USDT:USDT", tmp_path)
    assert (btc.price_step, btc.qty_step, btc.min_qty, btc.inverse) == (0.1, 0.001, 0.001, False)
    inv = market_spec("bybit", "BTCUSD", tmp_path)
    assert (inv.price_step, inv.qty_step, inv.min_qty, inv.c_mult, inv.inverse) == (0.5, 1.0, 1.0, 1.0, True)


def test_cached_copy_takes_precedence_and_can_add_symbols(tmp_path):
    (tmp_path / "markets").mkdir()
    (tmp_path / "markets" / "binance.json").write_text(json.dumps({"markets": {
        "BTCUSDT": {"price_step": 0.5, "qty_step": 0.01},
        "NEWUSDT": {"price_step": 0.001, "qty_step": 1, "min_cost": 5}}}))
    assert market_spec("binance", "BTCUSDT", tmp_path).price_step == 0.5
    assert market_spec("binance", "NEWUSDT", tmp_path).min_cost == 5
    assert market_spec("binance", "ETHUSDT", tmp_path).price_step == 0.01  # not cached: snapshot


def test_unknown_symbol_is_one_line_naming_it_and_the_fix(tmp_path):
    with pytest.raises(MarketError) as e:
        market_spec("binance", "NOPEUSDT", tmp_path)
    msg = str(e.value)
    assert "NOPEUSDT" in msg and str(tmp_path / "markets" / "binance.json") in msg and "\n" not in msg
    with pytest.raises(MarketError, match="BTC_JPY on bitflyer"):
        market_spec("bitflyer", "BTC_JPY", tmp_path)


def test_bad_cached_file_is_reported(tmp_path):
    (tmp_path / "markets").mkdir()
    (tmp_path / "markets" / "bybit.json").write_text("{oops")
    with pytest.raises(MarketError, match="bybit.json: not valid JSON"):
        market_spec("bybit", "BTCUSD", tmp_path)
    (tmp_path / "markets" / "bybit.json").write_text(json.dumps({"markets": {"BTCUSD": {"price_step": -1, "qty_step": 1}}}))
    with pytest.raises(MarketError, match="price_step must be a number > 0"):
        market_spec("bybit", "BTCUSD", tmp_path)
