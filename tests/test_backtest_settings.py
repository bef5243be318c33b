"""Backtest settings (hjson): the shipped default, defaults, and one-line errors naming file and key."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from passivx.backtest.runner import funding_series, resolve_market
from passivx.config.backtest import CONSTRAINTS, load_backtest_settings, parse_backtest_settings
from passivx.errors import ConfigError, DataError, MarketError

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = {"exchange": "synthetic", "symbol": "BTCUSDT", "start_date": "2024-01-01", "end_date": "2024-01-07",
           "starting_balance": 1000}


def settings(**changes):
    return parse_backtest_settings({**MINIMAL, **changes}, "s.hjson")


def test_shipped_default_runs_on_the_synthetic_data_with_an_optimizer_section():
    s = load_backtest_settings(ROOT / "configs/backtest/default.hjson")
    assert (s.exchange, s.symbol, s.start_date, s.end_date) == ("synthetic", "BTCUSDT", "2024-01-01", "2024-01-07")
    assert s.kind == "trades" and s.funding is None and s.ranges and set(s.constraints) <= set(CONSTRAINTS)


def test_defaults():
    s = settings()
    assert (s.latency_simulation_ms, s.kind, s.market, s.funding, s.cache_dir) == (1000, "trades", {}, None, None)
    assert (s.n_jackrabbit_iterations, s.ranges, s.constraints) == (100, {}, {})


@pytest.mark.parametrize(("changes", "words"), [
    ({"start_date": "2024-1-32"}, ["'start_date'", "YYYY-MM-DD"]),
    ({"end_date": "2023-12-31"}, ["'end_date'", "before start_date"]),
    ({"starting_balance": 0}, ["'starting_balance'", "> 0"]),
    ({"latency_simulation_ms": -1}, ["'latency_simulation_ms'", "between 0 and 60000"]),
    ({"data": "ticks"}, ["'data'", "'trades', 'candles'"]),
    ({"market": {"tick": 0.1}}, ["'market'", "unknown key 'tick'"]),
    ({"market": {"inverse": 1}}, ["'market'", "inverse must be true or false"]),
    ({"funding": 0.5}, ["'funding'", "per 8 hours"]),
    ({"ranges": {"grid_spacin": [0.001, 0.01]}}, ["'ranges'", "grid_spacin"]),
    ({"ranges": {"grid_spacing": [0.01]}}, ["'ranges'", "[min, max]"]),
    ({"ranges": {"long.wallet_exposure_limit": [0.5, 1000]}}, ["'ranges'", "leaves the parameter's range"]),
    ({"constraints": {"max_loss": 1}}, ["'constraints'", "unknown constraint 'max_loss'"]),
    ({"n_jackrabbit_iterations": 0}, ["'n_jackrabbit_iterations'"]),
    ({"exchange": ""}, ["'exchange'"]),
    ({"typo": 1}, ["unknown key 'typo'"]),
])
def test_errors_name_the_file_and_key(changes, words):
    with pytest.raises(ConfigError) as e:
        settings(**changes)
    message = str(e.value)
    assert "\n" not in message and message.startswith("s.hjson: ")
    for word in words:
        assert word in message


def test_missing_key_and_bad_hjson(tmp_path):
    with pytest.raises(ConfigError, match="missing key 'starting_balance'"):
        parse_backtest_settings({k: v for k, v in MINIMAL.items() if k != "starting_balance"}, "s.hjson")
    bad = tmp_path / "bad.hjson"
    bad.write_text("{ exchange: synthetic\n symbol: [ }")
    with pytest.raises(ConfigError, match="bad.hjson: not valid hjson"):
        load_backtest_settings(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_backtest_settings(tmp_path / "none.hjson")


def test_dates_from_the_command_line_are_validated_too():
    s = settings().with_dates("2024-01-03", None)
    assert (s.start_date, s.end_date) == ("2024-01-03", "2024-01-07")
    with pytest.raises(ConfigError, match="^--end 2023-01-01 is before start_date 2024-01-01 of "):
        settings().with_dates(None, "2023-01-01")


def test_market_overrides_apply_on_top_of_the_lookup_and_stand_alone_for_unknown_markets():
    spec = resolve_market(settings(market={"maker_fee": -0.0001}), "synthetic", "BTCUSDT")
    assert (spec.price_step, spec.maker_fee) == (0.1, -0.0001)
    alone = resolve_market(settings(exchange="mine", market={"price_step": 0.5, "qty_step": 1, "inverse": True}),
                           "mine", "BTCUSDT")
    assert (alone.price_step, alone.qty_step, alone.inverse) == (0.5, 1, True)
    with pytest.raises(MarketError, match='under "market"'):
        resolve_market(settings(exchange="mine"), "mine", "BTCUSDT")
    with pytest.raises(MarketError, match="price_step"):
        resolve_market(settings(market={"price_step": -1.0}), "synthetic", "BTCUSDT")


def test_funding_series(tmp_path):
    assert funding_series(settings()) is None
    ts, rate = funding_series(settings(funding=0.0001, end_date="2024-01-02"))
    day = 86_400_000
    start = 1_704_067_200_000  # 2024-01-01 00:00 UTC
    assert list(ts) == [start + k * day // 3 for k in range(1, 7)] and (rate == 0.0001).all()
    table = tmp_path / "funding.csv"
    table.write_text("timestamp,rate\n1704096000000,0.0001\n1704124800000,-0.0002\n")
    ts, rate = funding_series(settings(funding=str(table)))
    assert list(ts) == [1704096000000, 1704124800000] and list(rate) == [0.0001, -0.0002]
    relative = parse_backtest_settings({**MINIMAL, "funding": "funding.csv"}, str(tmp_path / "s.hjson"))
    assert np.array_equal(funding_series(relative)[1], rate)
    table.write_text("time,value\n1,2\n")
    with pytest.raises(DataError, match="timestamp"):
        funding_series(settings(funding=str(table)))
