"""Timed auto-unstuck delay (STRATEGY.md §3 "Auto-unstuck close"): `passivx.calc.unstuck.au_delay_ms`, the one
the calculator and the backtester's bounds share."""
import numpy as np
import pytest

from passivx.calc.clock import clock_delay
from passivx.calc.layout import C_LONG, C_SHORT, CFG_SIZE, P_AU_DELAY_MINUTES, P_AU_QTY_PCT, P_AU_THRESHOLD
from passivx.calc.unstuck import au_delay_ms


def cfg(threshold, minutes, qty_pct, base=C_LONG):
    c = np.zeros(CFG_SIZE)
    c[base + P_AU_THRESHOLD], c[base + P_AU_DELAY_MINUTES], c[base + P_AU_QTY_PCT] = threshold, minutes, qty_pct
    return c


@pytest.mark.parametrize("threshold, minutes, qty_pct, expected", [
    (0.2, 90.0, 0.02, 5_400_000.0),  # timed: minutes in ms
    (0.2, 0.5, 0.02, 60_000.0),  # never under a minute
    (0.0, 90.0, 0.02, 0.0),  # auto-unstuck off: no timer, whatever the delay
    (0.2, 0.0, 0.02, 0.0),  # legacy (delay 0)
    (0.2, 90.0, 0.0, 0.0),  # legacy (qty_pct 0)
])
def test_au_delay_ms(threshold, minutes, qty_pct, expected):
    assert au_delay_ms(cfg(threshold, minutes, qty_pct), C_LONG) == expected
    assert au_delay_ms(cfg(threshold, minutes, qty_pct, C_SHORT), C_SHORT) == expected
    assert au_delay_ms(cfg(threshold, minutes, qty_pct, C_SHORT), C_LONG) == 0.0  # per side


def test_clock_and_auto_unstuck_share_the_minimum_delay():
    # a clock delay shortened by its weight and a half-minute auto-unstuck delay both stop at one minute
    assert clock_delay(2.0, 100.0, 1, 110.0, 100.0, 100.1) == au_delay_ms(cfg(0.1, 0.5, 0.1), C_LONG) == 60_000.0
