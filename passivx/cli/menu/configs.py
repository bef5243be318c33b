"""Live configs (`configs/live/{exchange}/NAME.json`) and backtest settings (`configs/backtest/NAME.hjson`)
as the menu lists, checks, imports and deletes them. The checks are the commands' own loaders, so a file
the menu accepts is one `passivx live` / `passivx backtest` accepts."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from passivx.cli.menu import keys
from passivx.cli.menu.files import BACKTEST_DIR, EXCHANGES, LIVE_DIR, check_name, listing, write_atomic
from passivx.cli.menu.prompts import Invalid
from passivx.errors import ConfigError, PassivxError


def load_live(path: Path):
    from passivx.config import load_live_config

    return load_live_config(path)


def load_settings(path: Path):
    from passivx.config.backtest import load_backtest_settings

    return load_backtest_settings(path)


@dataclass(frozen=True)
class Kind:
    """One kind of config file: where it lives, how it is checked and summarised."""

    title: str
    suffix: str
    live: bool  # live configs (one folder per exchange) or backtest settings
    load: Callable[[Path], object]
    describe: Callable[[object], str]

    def files(self) -> list[Path]:
        if self.live:
            return [p for ex in EXCHANGES for p in listing(LIVE_DIR / ex, self.suffix)]
        return listing(BACKTEST_DIR, self.suffix)

    @property
    def folder(self) -> str:
        return f"{LIVE_DIR}/*/" if self.live else f"{BACKTEST_DIR}/"

    def check(self, path: Path) -> str:
        """The one-line summary of a valid file; the validator's ConfigError otherwise."""
        return self.describe(self.load(path))

    def destination(self, source: Path, exchange: str | None) -> Path:
        """Where an imported file goes: a live config under its exchange, named after its config_name
        (the API key file's name, seed 000's rule); backtest settings under their file name."""
        if self.live:
            name = self.load(source).config_name
            folder = LIVE_DIR / exchange
        else:
            name = source.name[: -len(self.suffix)] if source.name.endswith(self.suffix) else source.stem
            folder = BACKTEST_DIR
        try:
            check_name(name)
        except Invalid as e:
            what = "config_name" if self.live else "file name"
            raise ConfigError(f"{source}: {what} {name!r} cannot name a file: {e}") from None
        return folder / f"{name}{self.suffix}"


def describe_live(cfg) -> str:
    return f"{cfg.config_name}: {cfg.mode}, {cfg.symbol}"


def describe_settings(s) -> str:
    return f"{s.exchange} {s.symbol} {s.start_date}..{s.end_date}, {s.kind}, starting balance {s.starting_balance:g}"


LIVE = Kind("Live configurations", ".json", True, load_live, describe_live)
BACKTEST = Kind("Backtesting configurations", ".hjson", False, load_settings, describe_settings)


def exchange_of(path: Path) -> str:
    """The exchange of a file under configs/live/{exchange}/."""
    return path.parent.name


def label(path: Path) -> str:
    """How a listed file is shown: `bybit/BTCUSD_default` or `default`."""
    return f"{path.parent.name}/{path.stem}" if path.parent.parent == LIVE_DIR else path.stem


def import_file(source: Path, dest: Path) -> None:
    """Copy `source` to `dest` byte for byte, atomically (the caller has validated it)."""
    try:
        data = source.read_bytes()
    except OSError as e:
        raise PassivxError(f"{source}: cannot read ({e.strerror or e})") from None
    write_atomic(dest, data, 0o644)


def live_summary(cfg, exchange: str, testnet: bool, paper: bool) -> list[str]:
    """What `passivx live` will run, one line per item."""
    d = cfg.data
    rows = [("exchange", exchange), ("config", f"{cfg.config_name} ({cfg.source})"), ("symbol", cfg.symbol),
            ("strategy", cfg.mode)]
    if cfg.mode == "classic":
        ind = d["indicator_settings"]
        sides = [s for s, on in (("long", ind["do_long"]), ("short", ind["do_shrt"])) if on]
        rows += [("balance share", f"{d['balance_pct']:g} ({d['balance_pct'] * 100:g} % of the balance)"),
                 ("leverage", f"{d['leverage']:g}"), ("sides", ", ".join(sides) or "none")]
    else:
        on = [(s, d[s]["wallet_exposure_limit"]) for s in ("long", "short") if d[s]["enabled"]]
        rows += [("wallet exposure limit", ", ".join(f"{s} {we:g}" for s, we in on) or "no side enabled"),
                 ("leverage", f"{max(1, math.ceil(sum(we for _, we in on)))} (the enabled limits summed, rounded up)")]
    rows.append(("mode", "paper (live market data, simulated fills, no orders sent)" if paper else
                 "TESTNET (the exchange's test environment)" if testnet else "LIVE: real orders, real money"))
    return [f"{label:<22} {value}" for label, value in rows]


def key_status(exchange: str, cfg) -> bool:
    """Whether the config's API key file (named after its config_name) exists."""
    return keys.path(exchange, cfg.config_name).is_file()


def live_configs(exchange: str) -> tuple[list[tuple[Path, object, bool]], list[str]]:
    """The valid configs of `exchange` as (path, LiveConfig, has its key file), and the errors of the others."""
    rows, broken = [], []
    for path in listing(LIVE_DIR / exchange, LIVE.suffix):
        try:
            cfg = load_live(path)
        except PassivxError as e:
            broken.append(str(e))
            continue
        rows.append((path, cfg, key_status(exchange, cfg)))
    return rows, broken
