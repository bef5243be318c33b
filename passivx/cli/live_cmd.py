"""`passivx live EXCHANGE CONFIG`: trade a live config on Bybit (inverse) or Binance (USDT-M), or paper-trade
it on the exchange's public trades (`--paper`)."""
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
@click.option("--paper", is_flag=True, help="Paper trading: public trades only, a simulated account, no keys.")
@click.option("--balance", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="Paper: starting balance (default 1000 USDT on binance, 0.02 BTC on bybit).")
@click.option("--resume", "resume", type=click.Path(file_okay=False), default=None,
              help="Paper: continue the account of this earlier run's folder (paper/EXCHANGE/CONFIG/START).")
@click.option("--latency-ms", type=click.FloatRange(0.0, 60_000.0), default=1000.0, show_default=True,
              help="Paper: time until an order rests or a cancel takes effect (the backtester's latency).")
def live(exchange: str, config: str, testnet: bool, cancel_on_exit: bool, log_level: str | None, paper: bool,
         balance: float | None, resume: str | None, latency_ms: float) -> None:
    """Trade CONFIG (a name in configs/live/EXCHANGE/ or a file) live on EXCHANGE.

    Keys: api_keys/EXCHANGE/CONFIG_NAME.json holding ["KEY", "SECRET"], mode 0600. Logs to
    logs/EXCHANGE/CONFIG_NAME.log; a status line shows price, position, balance, wallet exposure, orders,
    the last fill and the connection. Ctrl-C (or SIGTERM) stops it; the bot's orders stay unless
    --cancel-on-exit. Endpoints can be moved with PASSIVX_{BYBIT,BINANCE}_{REST,WS_PUBLIC,WS_PRIVATE}_URL.

    --paper needs no keys: the bot trades a simulated account on the public trades, filled by the
    backtester's rules, and writes fills.csv, equity.csv and stats.json to paper/EXCHANGE/CONFIG_NAME/START/
    (--resume that folder to continue it)."""
    import asyncio
    import logging

    from passivx.config import load_live_config
    from passivx.exchanges import adapter
    from passivx.live.engine import Engine
    from passivx.live.keys import load_keys
    from passivx.live.status import LEVELS, setup_logging

    cfg = load_live_config(config_path(exchange, config))
    if not paper and (balance is not None or resume is not None):
        raise ConfigError("--balance and --resume are options of paper trading; add --paper")
    if paper and resume is not None and balance is not None:
        raise ConfigError("--balance starts a new paper account; --resume continues one: give only one")
    keys = ("", "") if paper else load_keys(exchange, cfg.config_name)
    name = f"{cfg.config_name}.paper" if paper else cfg.config_name
    if log_level:
        level = LEVELS[log_level.upper()]
    else:
        level = logging.DEBUG if cfg.data.get("logging_level", 0) >= 2 else logging.INFO
    account, ad = None, adapter(exchange)
    if paper:
        from passivx.live.paper import PaperAccount, PaperAdapter, default_balance

        if resume is not None:
            account = PaperAccount.resume(Path(resume), exchange, cfg, latency_ms)
        else:
            start = balance if balance is not None else default_balance(exchange == "bybit")
            account = PaperAccount.new(Path("paper"), exchange, cfg, start, latency_ms)
        ad = PaperAdapter(ad, account)
    _, console = setup_logging(exchange, name, level, keys)
    engine = Engine(ad, cfg, keys, testnet=testnet, cancel_on_exit=cancel_on_exit,
                    state_path=Path("logs") / exchange / f"{name}.state.json", console=console, paper=account)
    asyncio.run(engine.run())
