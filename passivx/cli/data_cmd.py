"""`passivx download` and `passivx data import|info`: fill and inspect the market-data cache."""
from __future__ import annotations

import datetime as dt

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
@click.option("--force", is_flag=True, help="Try even if SYMBOL is not among the exchange's known markets.")
@cache_dir_option
def download(exchange: str, symbol: str, start: str, end: str, kind: str, rest: bool, force: bool,
             cache_dir: str | None) -> None:
    """Fetch EXCHANGE (binance = USDT-M futures, bybit) SYMBOL trades or candles into the cache.

    Whole UTC days come from the public daily archives, the rest from REST. Re-running fetches only
    what is missing (or corrupt). Base URLs: PASSIVX_BINANCE_ARCHIVE_URL, PASSIVX_BYBIT_ARCHIVE_URL,
    PASSIVX_BINANCE_REST_URL, PASSIVX_BYBIT_REST_URL."""
    from passivx.data.cache import require_known_symbol
    from passivx.data.download import download as run
    from passivx.errors import PassivxError
    from passivx.markets import market_spec

    if not force:
        require_known_symbol(exchange, symbol, cache_dir)
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
@click.option("--force", is_flag=True, help="Import even when the file's name or content names another symbol "
                                           "or market than --symbol / --exchange.")
@cache_dir_option
def import_cmd(files: tuple[str, ...], exchange: str, symbol: str, fmt: str, force: bool, cache_dir: str | None) -> None:
    """Import trade or candle FILES (csv, .gz or .zip) into the cache.

    All files are parsed before anything is written. A UTC day already cached is merged with the new
    rows: a partial day adds what the cache lacks and rows it already has are not repeated (trades
    equal in time, price, qty and side; candles of the same minute are replaced)."""
    from passivx.data.importers import import_files

    report = import_files(list(files), exchange, symbol, cache_dir, fmt, force)
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
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)


def _gap_minutes(ctx, param, value: float) -> float:
    if not (value == value and 0 < value < float("inf")):  # NaN, negative, zero, infinite
        raise click.BadParameter(f"{value}: must be a number of minutes > 0")
    return value


@data.command()
@click.argument("exchange", required=False)
@click.argument("symbol", required=False)
@click.option("--kind", type=click.Choice(KINDS), default="trades", show_default=True,
              help="Which data set of EXCHANGE SYMBOL to show: tick trades or 1-minute candles.")
@click.option("--gap-minutes", type=float, default=5.0, show_default=True, callback=_gap_minutes,
              help="Report gaps (and partial days) longer than this.")
@click.option("--verify", is_flag=True, help="Re-hash every day file (otherwise only changed files are hashed).")
@click.option("--strict", is_flag=True, help="Exit non-zero when anything is missing, partial, gapped or corrupt.")
@cache_dir_option
def info(exchange: str | None, symbol: str | None, kind: str, gap_minutes: float, verify: bool, strict: bool,
         cache_dir: str | None) -> None:
    """Show what the cache holds; with EXCHANGE SYMBOL: per day the rows, first and last print, the share
    of the day covered and problems; missing days and gaps. Corrupt days exit non-zero (with --strict
    also missing or partial days and gaps)."""
    from passivx.data import cache, manifest
    from passivx.data.info import coverage
    from passivx.errors import DataError

    if exchange is None:
        _overview(cache_dir, strict)
        return
    if symbol is None:
        raise DataError("give both EXCHANGE and SYMBOL, or neither to list everything")
    cov = coverage(exchange, symbol, kind, cache_dir, gap_minutes, "full" if verify else "auto")
    m = cov.man
    if not cov.days:
        other = "candles" if kind == "trades" else "trades"
        has_other = manifest.load(cache.dataset_dir(cache_dir, other, m.exchange, m.symbol), m.exchange, m.symbol,
                                  other).days
        hint = (f"; there are {other}: add --kind {other}" if has_other
                else "; `passivx data info` lists what is there")
        raise DataError(f"no {kind} for {m.exchange} {m.symbol} in {cache.resolve_cache_dir(cache_dir)}{hint}")
    label = "SYNTHETIC (generated, not market data) " if m.synthetic else ""
    click.echo(f"{label}{m.kind} {m.exchange} {m.symbol}: {len(cov.days)} day(s) {cov.days[0].date}..{cov.days[-1].date}, "
               f"{sum(d.rows for d in cov.days):,} rows")
    click.echo(f"  {'day':10}  {'rows':>11}  {'first':12} .. {'last':12}  {'covered':>7}  status")
    for d in cov.days:
        flags = [f"BAD: {d.problem}"] if d.problem else (
            ["partial:"] + ["starts late"] * d.starts_late + ["ends early"] * d.ends_early if d.partial else ["ok"])
        covered = "" if d.problem else f"{d.covered:.1%}"
        click.echo(f"  {d.date}  {d.rows:>11,}  {_utc(d.first_ts)[11:]} .. {_utc(d.last_ts)[11:]}  {covered:>7}  "
                   + " ".join(flags).replace(": starts late ends", ": starts late, ends"))
    if cov.missing:
        click.echo(f"missing days: {', '.join(cov.missing)}")
    click.echo(f"gaps longer than {gap_minutes:g} min: {len(cov.gaps)}")
    for a, b in cov.gaps:
        click.echo(f"  {_utc(a)} -> {_utc(b)}  ({(b - a) / 60_000:.1f} min)")
    if cov.bad:
        raise DataError(f"{len(cov.bad)} corrupt day(s): {', '.join(cov.bad)}; fetch or import them again to "
                        "replace them")
    if strict and not cov.complete:
        partial = [d.date for d in cov.days if d.partial]
        what = ([f"{len(cov.missing)} missing day(s)"] * bool(cov.missing) + [f"{len(partial)} partial day(s)"]
                * bool(partial) + [f"{len(cov.gaps)} gap(s)"] * bool(cov.gaps))
        raise DataError(f"--strict: {m.exchange} {m.symbol} {kind} has {', '.join(what)}")


def _overview(cache_dir: str | None, strict: bool) -> None:
    """One line per data set with its status; a broken manifest is one BAD line, not the end of the list."""
    from passivx.data import cache, dayfile, manifest
    from passivx.errors import DataError

    root = cache.resolve_cache_dir(cache_dir)
    paths = [p for kind in dayfile.KINDS for p in sorted((root / kind).glob(f"*/*/{manifest.MANIFEST}"))]
    if not paths:
        click.echo(f"the cache {root} is empty")
        return
    problems = 0
    for path in paths:
        kind, ex, sym = path.parent.parent.parent.name, path.parent.parent.name, path.parent.name
        try:
            m = manifest.load(path.parent, ex, sym, kind)
        except DataError as e:
            problems += 1
            click.echo(f"{kind:8} {ex:12} {sym:14} BAD: {e}")
            continue
        rows = sum(e["rows"] for e in m.days.values())
        span = f"{min(m.days)}..{max(m.days)}" if m.days else "-"
        bad = [d for d in sorted(m.days) if cache.check_day(path.parent, m, d)]
        n_missing = (dt.date.fromisoformat(max(m.days)) - dt.date.fromisoformat(min(m.days))).days + 1 - len(m.days) \
            if m.days else 0
        status = ", ".join([f"BAD: {len(bad)} corrupt day(s) {', '.join(bad)}"] * bool(bad)
                           + [f"{n_missing} missing day(s)"] * bool(n_missing)) or "ok"
        problems += bool(bad) + bool(n_missing)
        label = "  SYNTHETIC (generated, not market data)" if m.synthetic else ""
        click.echo(f"{kind:8} {ex:12} {sym:14} {len(m.days):5} days {span}  {rows:,} rows  {status}{label}")
    if problems and strict:
        raise DataError(f"--strict: {problems} problem(s) in the cache {root}; `passivx data info EXCHANGE SYMBOL` "
                        "shows the details")
