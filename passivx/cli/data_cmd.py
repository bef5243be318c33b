"""`passivx download` and `passivx data import|info`: fill and inspect the market-data cache."""
from __future__ import annotations

import click

KINDS = ("trades", "candles")
cache_dir_option = click.option(
    "--cache-dir", type=click.Path(file_okay=False), default=None,
    help="Cache directory (default: $PASSIVX_CACHE_DIR, else ./cache).")
kind_option = click.option("--kind", type=click.Choice(KINDS), default="trades", show_default=True,
                           help="Tick trades or 1-minute candles.")


def _utc(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@click.command()
@click.argument("exchange")
@click.argument("symbol")
@click.option("--start", required=True, help="First UTC day, YYYY-MM-DD.")
@click.option("--end", required=True, help="Last UTC day (inclusive), YYYY-MM-DD.")
@kind_option
@click.option("--rest/--no-rest", default=True, show_default=True,
              help="Use the REST API (ccxt) for days the archives do not have.")
@cache_dir_option
def download(exchange: str, symbol: str, start: str, end: str, kind: str, rest: bool, cache_dir: str | None) -> None:
    """Fetch EXCHANGE (binance = USDT-M futures, bybit) SYMBOL trades or candles into the cache.

    Whole UTC days come from the public daily archives, the rest from REST. Re-running fetches only
    what is missing (or corrupt). Base URLs: PASSIVX_BINANCE_ARCHIVE_URL, PASSIVX_BYBIT_ARCHIVE_URL,
    PASSIVX_BINANCE_REST_URL, PASSIVX_BYBIT_REST_URL."""
    from passivx.data.download import download as run
    from passivx.errors import PassivxError
    from passivx.markets import market_spec

    report = run(exchange, symbol, start, end, kind=kind, cache_dir=cache_dir, use_rest=rest)
    click.echo(f"fetched {len(report.fetched)} day(s), {report.rows:,} rows; {len(report.skipped)} already cached"
               + (f"; re-fetched corrupt {', '.join(report.repaired)}" if report.repaired else ""))
    for day, why in report.unavailable:
        click.echo(f"warning: {day} not fetched: {why}", err=True)
    try:
        market_spec(exchange, symbol, cache_dir, online=True)
        click.echo("market specs refreshed from the exchange")
    except PassivxError as e:
        click.echo(f"warning: market specs not refreshed ({e}); the cached or shipped ones stay in use", err=True)


@click.group()
def data() -> None:
    """Import and inspect cached market data."""


@data.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--exchange", required=True, help="Exchange name to file the data under (e.g. binance, bybit, bitflyer).")
@click.option("--symbol", required=True, help="Symbol to file the data under (e.g. BTCUSDT).")
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "binance-aggtrades", "binance-klines", "bybit-trades", "trades-csv",
                                 "candles-csv"]), help="File layout (detected from the first line by default).")
@cache_dir_option
def import_cmd(files: tuple[str, ...], exchange: str, symbol: str, fmt: str, cache_dir: str | None) -> None:
    """Import trade or candle FILES (csv, .gz or .zip) into the cache.

    All files are parsed before anything is written. A UTC day already cached is merged with the new
    rows: a partial day adds what the cache lacks and rows it already has are not repeated (trades
    equal in time, price, qty and side; candles of the same minute are replaced)."""
    from passivx.data.importers import import_files

    report = import_files(list(files), exchange, symbol, cache_dir, fmt)
    for p in report.files:
        notes = [f"{p.duplicates:,} duplicate(s) dropped"] * bool(p.duplicates)
        notes += [f"{p.reordered:,} out-of-order row(s) sorted"] * bool(p.reordered)
        click.echo(f"{p.name}: {p.fmt}, {len(p.columns['ts']):,} rows" + (f" ({'; '.join(notes)})" if notes else ""))
    click.echo(f"imported {report.rows:,} {report.kind} rows into {len(report.days)} day(s) "
               f"{report.days[0]}..{report.days[-1]}")
    if report.merged:
        click.echo("merged with the cached day(s) " + ", ".join(f"{d} (+{n:,} rows)" for d, n in report.merged.items()))
    if report.replaced:
        click.echo(f"replaced the corrupt cached day(s) {', '.join(report.replaced)}")


@data.command()
@click.argument("exchange", required=False)
@click.argument("symbol", required=False)
@kind_option
@click.option("--gap-minutes", type=float, default=5.0, show_default=True, help="Report gaps longer than this.")
@click.option("--verify", is_flag=True, help="Re-hash every day file (otherwise only changed files are hashed).")
@cache_dir_option
def info(exchange: str | None, symbol: str | None, kind: str, gap_minutes: float, verify: bool,
         cache_dir: str | None) -> None:
    """Show what the cache holds; with EXCHANGE SYMBOL: rows per day, problems, missing days and gaps."""
    from passivx.data import cache
    from passivx.data.info import coverage
    from passivx.errors import DataError

    if exchange is None:
        sets = cache.datasets(cache_dir)
        if not sets:
            click.echo(f"the cache {cache.resolve_cache_dir(cache_dir)} is empty")
        for m in sets:
            rows = sum(e["rows"] for e in m.days.values())
            span = f"{min(m.days)}..{max(m.days)}" if m.days else "-"
            label = "  SYNTHETIC (generated, not market data)" if m.synthetic else ""
            click.echo(f"{m.kind:8} {m.exchange:12} {m.symbol:14} {len(m.days):5} days {span}  {rows:,} rows{label}")
        return
    if symbol is None:
        raise DataError("give both EXCHANGE and SYMBOL, or neither to list everything")
    cov = coverage(exchange, symbol, kind, cache_dir, gap_minutes, "full" if verify else "auto")
    m = cov.man
    if not cov.days:
        raise DataError(f"no {kind} for {m.exchange} {m.symbol} in {cache.resolve_cache_dir(cache_dir)}; "
                        f"`passivx data info` lists what is there")
    label = "SYNTHETIC (generated, not market data) " if m.synthetic else ""
    click.echo(f"{label}{m.kind} {m.exchange} {m.symbol}: {len(cov.days)} day(s) {cov.days[0][0]}..{cov.days[-1][0]}, "
               f"{sum(d[1] for d in cov.days):,} rows")
    for day, rows, first, last, problem in cov.days:
        status = f"BAD: {problem}" if problem else "ok"
        click.echo(f"  {day}  {rows:>11,}  {_utc(first)[11:]} .. {_utc(last)[11:]}  {status}")
    if cov.missing:
        click.echo(f"missing days: {', '.join(cov.missing)}")
    click.echo(f"gaps longer than {gap_minutes:g} min: {len(cov.gaps)}")
    for a, b in cov.gaps:
        click.echo(f"  {_utc(a)} -> {_utc(b)}  ({(b - a) / 60_000:.1f} min)")
    bad = [d[0] for d in cov.days if d[4]]
    if bad:
        raise DataError(f"{len(bad)} corrupt day(s): {', '.join(bad)}; fetch or import them again to replace them")
