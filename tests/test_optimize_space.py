"""Jackrabbit's search space: the mutation schedule, windows, ranges and steps, and which mode ranges fit."""
from __future__ import annotations

import numpy as np
import pytest

from passivx.config.backtest import parse_backtest_settings
from passivx.errors import ConfigError
from passivx.optimize.space import build_space, mutation_coefficient
from passivx.optimize.start import choose_mode

SETTINGS = {"exchange": "synthetic", "symbol": "BTCUSDT", "start_date": "2024-01-01", "end_date": "2024-01-02",
            "starting_balance": 1000}


def settings(ranges: dict):
    return parse_backtest_settings({**SETTINGS, "ranges": ranges}, "s.hjson")


def test_schedule_starts_wide_and_narrows_inversely_with_k():
    n = 200
    m = [mutation_coefficient(k, n) for k in range(n + 1)]
    assert m[0] == 1.0 and all(a > b for a, b in zip(m, m[1:]))
    assert m[-1] == pytest.approx(0.05)
    # inversely with k: 1/m grows linearly
    inv = np.diff([1 / x for x in m])
    assert np.allclose(inv, inv[0])


def test_children_stay_in_a_window_of_width_range_times_m_centred_on_the_parent():
    space = build_space({"grid_spacing": [0.001, 0.011], "grid_coefficient": [0, 100]}, "classic", "s", 125)
    rng = np.random.default_rng(1)
    parent = {"grid_spacing": 0.006, "grid_coefficient": 50.0}
    for m in (1.0, 0.2, 0.02):
        kids = [space.mutate(parent, m, rng) for _ in range(400)]
        gs = np.array([c["grid_spacing"] for c in kids])
        gc = np.array([c["grid_coefficient"] for c in kids])
        assert np.all(np.abs(gs - 0.006) <= 0.01 * m / 2 + 1e-12)
        assert np.all(np.abs(gc - 50) <= 100 * m / 2 + 1e-9)
        assert gs.max() - gs.min() > 0.01 * m * 0.9  # the window is used, not just its centre
    # near an edge the window is cut to the range, never leaves it
    edge = [space.mutate({"grid_spacing": 0.001, "grid_coefficient": 100.0}, 0.5, rng) for _ in range(300)]
    assert min(c["grid_spacing"] for c in edge) >= 0.001 and max(c["grid_coefficient"] for c in edge) <= 100


def test_steps_integers_and_out_of_range_parents():
    space = build_space({"grid_spacing": [0.001, 0.0105, 0.001], "n_close_orders": [2.2, 9.8]}, "classic", "s", 125)
    rng = np.random.default_rng(2)
    middle = space.middle()
    assert middle == {"grid_spacing": 0.006, "n_close_orders": 6.0}
    kids = [space.mutate(middle, 1.0, rng) for _ in range(300)]
    assert {c["grid_spacing"] for c in kids} == {round(0.001 * i, 10) for i in range(1, 11)}  # 0.0105 off grid
    assert {c["n_close_orders"] for c in kids} == {3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0}
    # a parent outside the ranges (a --start config) is taken from the nearest edge
    kids = [space.mutate({"grid_spacing": 0.5, "n_close_orders": -4}, 1.0, rng) for _ in range(300)]
    assert {c["grid_spacing"] for c in kids} == {0.006, 0.007, 0.008, 0.009, 0.01}
    assert {c["n_close_orders"] for c in kids} == {3.0, 4.0, 5.0, 6.0}


def test_ranges_are_checked_against_the_mode_and_the_market():
    with pytest.raises(ConfigError, match="'long.ddown_factor' is not a parameter of mode clock"):
        build_space({"long.ddown_factor": [0.1, 1]}, "clock", "s.hjson", 125)
    with pytest.raises(ConfigError, match="'ranges' is empty"):
        build_space({}, "classic", "s.hjson", 125)
    with pytest.raises(ConfigError, match="above the market's maximum leverage 20"):
        build_space({"leverage": [25, 50]}, "classic", "s.hjson", 20)
    cut = build_space({"leverage": [5, 50]}, "classic", "s.hjson", 20)
    assert (cut.params[0].lo, cut.params[0].hi) == (5, 20)
    with pytest.raises(ConfigError, match="min <= max"):
        settings({"grid_spacing": [0.01, 0.001]})
    with pytest.raises(ConfigError, match="grid_spacin"):
        settings({"grid_spacin": [0.001, 0.01]})


def test_mode_from_the_ranges_keys():
    assert choose_mode(settings({"grid_spacing": [0.001, 0.01]}), None) == "classic"
    assert choose_mode(settings({"long.grid_span": [0.1, 0.3]}), None) == "neat_grid"
    assert choose_mode(settings({"long.wallet_exposure_limit": [0.5, 1]}), "clock") == "clock"
    with pytest.raises(ConfigError, match="fit the modes recursive_grid, neat_grid, clock: choose one with --mode"):
        choose_mode(settings({"long.wallet_exposure_limit": [0.5, 1]}), None)
    with pytest.raises(ConfigError, match="mixes parameters of different modes"):
        choose_mode(settings({"grid_spacing": [0.001, 0.01], "long.grid_span": [0.1, 0.3]}), None)
