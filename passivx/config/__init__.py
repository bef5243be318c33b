"""Live configs (JSON) and backtest settings (hjson): load, validate, save, and the cfg vector.

Live configs: `load_live_config(path)`, `parse_live_config(data, source)`, `save_live_config(cfg, path)`,
`with_params(cfg, {name: value})`, `param_ranges(mode)`; see `passivx.config.live` for the keys of each
mode. Field-spec machinery shared with the backtest settings: `passivx.config.validate`. Where a config
meets a market: `check_leverage(config, market_spec, where)`.
"""
from passivx.config.leverage import check_leverage
from passivx.config.live import (
    MODES,
    LiveConfig,
    load_live_config,
    param_ranges,
    parse_live_config,
    save_live_config,
    with_params,
)

__all__ = ["MODES", "LiveConfig", "check_leverage", "load_live_config", "param_ranges", "parse_live_config",
           "save_live_config", "with_params"]
