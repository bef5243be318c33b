"""Where a live config meets a market: its leverage must fit the market's `max_leverage`.

Called by `passivx calc`, the backtester and the live engine. A classic config's `leverage` above the
maximum is refused (the exchange would reject it, and the calculator sizes orders with it). The grid
modes have no leverage key, but a side's `wallet_exposure_limit` is the leverage its full grid uses, and
both sides of one symbol share the cross margin and its leverage: enabled sides whose limits add up to
more than `max_leverage` are refused, since both grids full could never be margined (a disabled side
opens nothing).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from passivx.config.live import LiveConfig
from passivx.errors import ConfigError

if TYPE_CHECKING:
    from passivx.markets import MarketSpec


def check_leverage(config: LiveConfig, market: MarketSpec, where: str = "the market spec") -> None:
    """Raise ConfigError (one line: the key, its value, the maximum of `where`, the fix) when `config`
    asks for more leverage than `market.max_leverage`."""
    top = float(market.max_leverage)
    if config.mode == "classic":
        lev = config.data["leverage"]
        if lev > top:
            raise ConfigError(f"{config.source}: key 'leverage': {lev:g} is above the maximum leverage {top:g} "
                              f"of {where}; set it to {top:g} or less")
        return
    wel = {side: config.data[side]["wallet_exposure_limit"] for side in ("long", "short")
           if config.data[side]["enabled"]}
    if sum(wel.values()) <= top:
        return
    over = [side for side, value in wel.items() if value > top]
    if over:
        key, value, fix = f"key '{over[0]}.wallet_exposure_limit'", f"{wel[over[0]]:g}", "set it"
    else:
        key = "keys 'long.wallet_exposure_limit' + 'short.wallet_exposure_limit'"
        value, fix = f"{wel['long']:g} + {wel['short']:g}", "lower them to add up"
    raise ConfigError(f"{config.source}: {key}: {value} is above the maximum leverage {top:g} of {where} "
                      f"(the enabled sides' exposure could never be margined); {fix} to {top:g} or less")
