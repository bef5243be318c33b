"""`passivx doctor EXCHANGE CONFIG`: check a setup before going live, one line per check, exit 1 if any fails.

Checks, in order (a failed one skips those that need it): Python and the installed packages against
passivx's requirements; the config; the key file (present, `["KEY", "SECRET"]`, mode 0600; not with
`--paper`); the exchange reachable (market spec) and the clock skew against it; the config's leverage
against the market; the balance (with keys; `--balance` or paper's default otherwise); the market's
minimums against the config's first entry at that balance and the current price: the calculator raises an
order below the minimum to it, so the bot then holds more than the config sizes; raised more than
`MAX_RAISE` times (or no entry at all) fails, raised at all warns.
"""
from __future__ import annotations

import math
import sys

import click

OK, WARN, FAIL = "ok", "warn", "FAIL"
SCALE = 1000.0  # the grid at this multiple of the balance shows the config's own sizing
MAX_RAISE = 2.0  # an entry the exchange minimum raises more than this fails


class Report:
    """Collects check lines; `failed` when any check failed."""

    def __init__(self) -> None:
        self.failed = False

    def line(self, status: str, what: str, detail: str) -> None:
        self.failed |= status == FAIL
        click.echo(f"{status:<5} {what:<16} {detail}")


def _packages(report: Report) -> None:
    import importlib.metadata as md

    from packaging.requirements import Requirement

    v = sys.version_info
    report.line(OK if v >= (3, 11) else FAIL, "python", f"{v.major}.{v.minor}.{v.micro} (3.11 or newer needed)")
    try:
        wanted = [Requirement(r) for r in md.requires("passivx") or ()]
    except md.PackageNotFoundError:
        report.line(FAIL, "packages", "passivx is not installed: run `pip install -e .` in its folder")
        return
    bad, seen = [], []
    for req in wanted:
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            have = md.version(req.name)
        except md.PackageNotFoundError:
            bad.append(f"{req.name} missing")
            continue
        seen.append(f"{req.name} {have}")
        if not req.specifier.contains(have, prereleases=True):
            bad.append(f"{req.name} {have} (needs {req.specifier})")
    if bad:
        report.line(FAIL, "packages", "; ".join(bad) + " : run `pip install -e .`")
    else:
        report.line(OK, "packages", ", ".join(seen))


async def _exchange(report: Report, exchange: str, cfg, keys, paper: bool, testnet: bool,
                    balance: float | None) -> None:
    import time

    import numpy as np

    from passivx.calc import layout as L
    from passivx.calc.entry import ideal_orders, new_memo
    from passivx.config import check_leverage
    from passivx.errors import PassivxError
    from passivx.exchanges import adapter
    from passivx.exchanges.base import describe
    from passivx.live.engine import MAX_SKEW_MS
    from passivx.live.paper import default_balance
    from passivx.live.state import MarketState
    from passivx.markets import spec_from_ccxt

    ad = adapter(exchange)
    client = ad.make_client(testnet, keys, live=True)
    try:
        try:
            m = await ad.load_market(client, cfg.symbol)
            t0 = time.time() * 1000.0
            server = await ad.server_time(client)
            skew = server - (t0 + time.time() * 1000.0) / 2
        except Exception as e:  # noqa: BLE001 - any failure to reach it is this check's answer
            report.line(FAIL, "exchange", f"{exchange}{' testnet' if testnet else ''} not reachable: "
                        f"{e if isinstance(e, PassivxError) else describe(e)}")
            return
        spec = spec_from_ccxt(ad, m, exchange)
        report.line(OK, "exchange", f"{exchange}{' testnet' if testnet else ''} {cfg.symbol}: {spec.to_dict()}")
        report.line(OK if abs(skew) <= MAX_SKEW_MS else FAIL, "clock",
                    f"{skew:+.0f} ms from the exchange" + ("" if abs(skew) <= MAX_SKEW_MS else
                                                          f", more than {MAX_SKEW_MS:.0f}: enable NTP "
                                                          f"(`timedatectl set-ntp true`)"))
        try:
            check_leverage(cfg, spec, f"{exchange} {cfg.symbol}")
            report.line(OK, "leverage", "within the market's maximum " f"{spec.max_leverage:g}")
        except PassivxError as e:
            report.line(FAIL, "leverage", str(e))
        if balance is None and keys:
            try:
                balance = await ad.fetch_balance(client)
                report.line(OK if balance > 0 else FAIL, "balance", f"{balance:g} {ad.settle} (API key accepted)")
            except Exception as e:  # noqa: BLE001
                report.line(FAIL, "balance", f"the exchange refused the key or the request: {describe(e)}")
                return
        elif balance is None and paper:
            balance = default_balance(spec.inverse)
            report.line(OK, "balance", f"{balance:g} {ad.settle} (paper default)")
        elif balance is None:
            report.line(FAIL, "balance", "not read: no usable key file (or give --balance to check the minimums)")
            return
        else:
            report.line(OK, "balance", f"{balance:g} {ad.settle} (given)")
        trades = await ad.recent_trades(client, m["symbol"])
    finally:
        await client.close()
    cfg_v, mkt = cfg.to_array(), spec.to_array()
    state = MarketState(int(round(cfg_v[L.C_MODE])), cfg_v)
    state.warm_ticks(trades)
    if not state.ready:
        report.line(FAIL, "minimums", "no recent trade to price the grid at")
        return
    out, memo = np.zeros((L.MAX_ORDERS, L.O_SIZE)), new_memo()

    def first_entry(at: float):
        state.balance = at
        n = ideal_orders(cfg_v, mkt, state.vector(time.time() * 1000.0), True, out, memo)
        return next(((r[L.O_QTY], r[L.O_PRICE]) for r in out[:n] if int(r[L.O_KIND]) == L.K_ENTRY), None)

    placed, big = first_entry(balance), first_entry(balance * SCALE)
    if placed is None or big is None:
        report.line(FAIL, "minimums", f"the config places no entry at balance {balance:g} and price {state.last:g}")
        return
    qty, price = placed
    sized = big[0] / SCALE  # the config sizes orders in proportion to the balance; minimums do not scale
    floor = max(spec.min_qty, 0.0 if spec.inverse else spec.min_cost / (price * spec.c_mult))
    ratio = floor / sized if sized > 0 else math.inf
    status = OK if ratio <= 1.0 else WARN if ratio <= MAX_RAISE else FAIL
    detail = f"first entry {qty:g} @ {price:g}; the config sizes it {sized:.6g} at balance {balance:g}"
    if ratio > 1.0:
        detail += (f", below the market's minimum ({spec.min_qty:g} qty, {spec.min_cost:g} cost): raised "
                   f"{ratio:.1f}x" + (", more than the config's exposure; add balance or use a larger "
                                      "initial size" if status == FAIL else ""))
    report.line(status, "minimums", detail)


@click.command()
@click.argument("exchange", type=click.Choice(["bybit", "binance"]))
@click.argument("config")
@click.option("--testnet", is_flag=True, help="Check against the exchange's test environment.")
@click.option("--paper", is_flag=True, help="A paper-trading setup: no key file needed.")
@click.option("--balance", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="Balance to size the grid with (default: the account's, or paper's default).")
def doctor(exchange: str, config: str, testnet: bool, paper: bool, balance: float | None) -> None:
    """Check a setup before going live: Python and packages, the config, the key file (mode 0600), the
    exchange reachable and the clock skew, the market's minimums against the config's smallest order at
    the balance. One line per check; exit code 1 if any fails."""
    import asyncio

    from passivx.cli.live_cmd import config_path
    from passivx.config import load_live_config
    from passivx.errors import PassivxError
    from passivx.live.keys import key_path, load_keys

    report = Report()
    _packages(report)
    try:
        cfg = load_live_config(config_path(exchange, config))
        report.line(OK, "config", f"{cfg.source}: {cfg.mode} config {cfg.config_name}, symbol {cfg.symbol}")
    except PassivxError as e:
        report.line(FAIL, "config", str(e))
        sys.exit(1)
    keys = None
    if paper:
        report.line(OK, "keys", "not needed for paper trading")
    else:
        try:
            keys = load_keys(exchange, cfg.config_name)
            report.line(OK, "keys", f"{key_path(exchange, cfg.config_name)}: present, mode 0600")
        except PassivxError as e:
            report.line(FAIL, "keys", str(e))
    asyncio.run(_exchange(report, exchange, cfg, keys, paper, testnet, balance))
    if report.failed:
        sys.exit(1)
