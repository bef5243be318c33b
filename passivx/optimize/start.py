"""The mode, base config and starting candidate of a run.

With `--start CONFIG` the mode is that config's, it is the base (every key not ranged keeps its value)
and candidate 0 is the config itself. Without it, the mode is `--mode`, else the one mode whose
parameters hold every ranged key; the base is the shipped config of that mode (configs/live: classic
`binance/ETHUSDT_default.json`, or `bybit/BTCUSD_default.json` on an inverse market; the grid modes
`binance/BTCUSDT_{mode}.json`) renamed `{symbol}_{mode}_jackrabbit` for the settings' symbol, and
candidate 0 has every ranged parameter at the middle of its range.
"""
from __future__ import annotations

from pathlib import Path

from passivx.config.backtest import BacktestSettings
from passivx.config.live import MODES, LiveConfig, _get, load_live_config, parse_live_config
from passivx.errors import ConfigError
from passivx.optimize.space import Space, build_space, modes_of

SHIPPED = Path(__file__).resolve().parents[2] / "configs" / "live"


def shipped_config(mode: str, inverse: bool) -> Path:
    if mode == "classic":
        return SHIPPED / ("bybit/BTCUSD_default.json" if inverse else "binance/ETHUSDT_default.json")
    return SHIPPED / "binance" / f"BTCUSDT_{mode}.json"


def choose_mode(settings: BacktestSettings, mode: str | None) -> str:
    """`mode` if given, else the only mode all ranged keys belong to (ConfigError when none or several)."""
    if mode is not None:
        return mode
    fits = modes_of(settings.ranges)
    if len(fits) == 1:
        return fits[0]
    if not settings.ranges:
        return "classic"  # build_space then says the ranges are empty
    if not fits:
        raise ConfigError(f"{settings.source}: key 'ranges' mixes parameters of different modes; the modes are "
                          f"{', '.join(MODES)}")
    raise ConfigError(f"{settings.source}: the ranges fit the modes {', '.join(fits)}: choose one with --mode "
                      f"or give a --start config")


def starting_point(settings: BacktestSettings, start: str | None, mode: str | None, inverse: bool,
                   max_leverage: float) -> tuple[Space, LiveConfig, dict[str, float]]:
    """(search space, base config, candidate 0's parameters)."""
    if start is not None:
        base = load_live_config(start)
        if mode is not None and mode != base.mode:
            raise ConfigError(f"{start}: a {base.mode} config, but --mode {mode} was given; drop one")
        space = build_space(settings.ranges, base.mode, settings.source, max_leverage)
        return space, base, {name: float(_get(base.data, name)) for name in space.names}
    mode = choose_mode(settings, mode)
    space = build_space(settings.ranges, mode, settings.source, max_leverage)
    path = shipped_config(mode, inverse)
    if not path.is_file():
        raise ConfigError(f"the shipped {mode} config {path} is not here (passivx installed without its "
                          f"configs folder); give a starting config with --start CONFIG")
    shipped = load_live_config(path)
    data = {**shipped.data, "config_name": f"{settings.symbol}_{mode}_jackrabbit", "symbol": settings.symbol}
    return space, parse_live_config(data, str(path)), space.middle()
