"""`passivx live EXCHANGE CONFIG`: trade a live config on Bybit (inverse) or Binance (USDT-M)."""
from __future__ import annotations

from pathlib import Path

import click

from passivx.errors import ConfigError


def config_path(exchange: str, config: str) -> Path:
    """CONFIG as a path when it names a file (or ends in .json), else configs/live/{exchange}/{CONFIG}.json."""
    p = Path(config)
    if p.is_file() or p.suffix == ".json":
        return p
    named = Path("configs") / "live" / exchange / f"{config}.json"
    if not named.is_file():
        raise ConfigError(f"config {config!r}: neither a file nor {named}")
    return named


@click.command()
@click.argument("exchange", type=click.Choice(["bybit", "binance"]))
@click.argument("config")
@click.option("--testnet", is_flag=True, help="Trade on the exchange's test environment.")
@click.option("--cancel-on-exit", is_flag=True, help="Cancel the bot's own open orders when it stops cleanly.")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              default=None, help="Log level (default: from the config's logging_level, INFO for the modes).")
def live(exchange: str, config: str, testnet: bool, cancel_on_exit: bool, log_level: str | None) -> None:
    """Trade CONFIG (a name in configs/live/EXCHANGE/ or a file) live on EXCHANGE.

    Keys: api_keys/EXCHANGE/CONFIG_NAME.json holding ["KEY", "SECRET"], mode 0600. Logs to
    logs/EXCHANGE/CONFIG_NAME.log; a status line shows price, position, balance, wallet exposure, orders,
    the last fill and the connection. Ctrl-C (or SIGTERM) stops it; the bot's orders stay unless
    --cancel-on-exit. Endpoints can be moved with PASSIVX_{BYBIT,BINANCE}_{REST,WS_PUBLIC,WS_PRIVATE}_URL."""
    import asyncio
    import logging

    from passivx.config import load_live_config
    from passivx.exchanges import adapter
    from passivx.live.engine import Engine
    from passivx.live.keys import load_keys
    from passivx.live.status import LEVELS, setup_logging

    cfg = load_live_config(config_path(exchange, config))
    keys = load_keys(exchange, cfg.config_name)
    if log_level:
        level = LEVELS[log_level.upper()]
    else:
        level = logging.DEBUG if cfg.data.get("logging_level", 0) >= 2 else logging.INFO
    _, console = setup_logging(exchange, cfg.config_name, level, keys)
    engine = Engine(adapter(exchange), cfg, keys, testnet=testnet, cancel_on_exit=cancel_on_exit,
                    state_path=Path("logs") / exchange / f"{cfg.config_name}.state.json", console=console)
    asyncio.run(engine.run())
