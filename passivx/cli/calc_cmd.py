"""`passivx calc`: the ideal orders a live config would place for one state (or a batch of states), as JSON.

numpy and the jitted calculator are imported inside the command, so `passivx --help` stays fast.
"""
from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterable

import click

from passivx.calc import layout as L  # plain constants: cheap to import
from passivx.errors import PassivxError

# request keys: the flags' names with underscores (batch lines use them as JSON keys)
_TIMERS = ("now_ms", "long_last_entry_ms", "long_last_close_ms", "long_last_unstuck_ms",
           "short_last_entry_ms", "short_last_close_ms", "short_last_unstuck_ms")
_MARKET = ("price_step", "qty_step", "min_qty", "min_cost", "c_mult", "mm_rate")
_NUMBERS = ("price", "balance", "best_bid", "best_ask", "ema", "long_size", "long_price", "short_size",
            "short_price", "funding_rate") + _TIMERS + _MARKET
_EMAS = ("emas", "long_emas", "short_emas")
KEYS = ("config", "exchange", "market") + _NUMBERS + _EMAS + ("inverse", "whole_grid")

Label = Callable[[str], str]


def _flag(key: str) -> str:
    return "CONFIG" if key == "config" else "--" + key.replace("_", "-")


def _key(key: str) -> str:
    return f"key '{key}'"


def _number(req: dict, key: str, label: Label, default: float | None = None) -> float | None:
    value = req.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PassivxError(f"{label(key)}: must be a finite number, got {value!r}")
    return float(value)


def _required(req: dict, key: str, label: Label) -> float:
    value = _number(req, key, label)
    if value is None:
        raise PassivxError(f"{label(key)} is required")
    return value


def _positive(value: float, key: str, label: Label) -> float:
    if value <= 0.0:
        raise PassivxError(f"{label(key)}: must be > 0, got {value!r}")
    return value


def _emas(req: dict, key: str, label: Label, default: list[float]) -> list[float]:
    value = req.get(key)
    if value is None:
        return default
    if not (isinstance(value, list) and len(value) == 3 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in value)):
        raise PassivxError(f"{label(key)}: must be three EMA values > 0, got {value!r}")
    return [float(v) for v in value]


def _config(req: dict, label: Label, cache: dict):
    """The LiveConfig of the request: a path (CLI or batch) or an inline object (batch)."""
    from passivx.config import load_live_config, parse_live_config

    value = req.get("config")
    if value is None:
        raise PassivxError(f"{label('config')} is required (a live config file)")
    ck = ("config", json.dumps(value, sort_keys=True))
    if ck not in cache:
        if isinstance(value, str):
            cache[ck] = load_live_config(value)
        elif isinstance(value, dict):
            cache[ck] = parse_live_config(value, "config")
        else:
            raise PassivxError(f"{label('config')}: must be a config object or a file path, got {value!r}")
    return cache[ck]


def _market(req: dict, label: Label, cache: dict, symbol: str) -> tuple:
    """(MarketSpec, what to call it) of the request: the known spec of `symbol` on `exchange`, overridden
    by `market` (file path or object), overridden by the single fields."""
    from passivx.exchanges import canonical_exchange
    from passivx.markets import SNAPSHOT_PATH, MarketSpec, cached_specs_path, market_spec

    fields = {k: _number(req, k, label) for k in _MARKET if req.get(k) is not None}
    if req.get("inverse") is not None:
        fields["inverse"] = _bool(req, "inverse", label)
    exchange, market = req.get("exchange"), req.get("market")
    ck = ("market", json.dumps([exchange, symbol, market, fields], sort_keys=True))
    if ck in cache:
        return cache[ck]
    base, source, where = {}, "market", "the market spec"
    if exchange is not None:
        if not isinstance(exchange, str):
            raise PassivxError(f"{label('exchange')}: must be an exchange name, got {exchange!r}")
        shipped = json.loads(SNAPSHOT_PATH.read_text())["exchanges"]
        known = sorted(set(shipped) | {p.stem for p in cached_specs_path("x").parent.glob("*.json")})
        if canonical_exchange(exchange) not in known:
            raise PassivxError(f"{label('exchange')}: unknown exchange {exchange!r}; known: {', '.join(known)} "
                               f"(or give {label('market')}, or {label('price_step')} and {label('qty_step')})")
        base = market_spec(exchange, symbol).to_dict()
        where = f"the market {exchange} {symbol}"
    if isinstance(market, str):
        base.update(MarketSpec.from_file(market).to_dict())
        source = where = market
    elif isinstance(market, dict):
        base.update(market)
    elif market is not None:
        raise PassivxError(f"{label('market')}: must be a market file path or object, got {market!r}")
    base.update(fields)
    if "price_step" not in base or "qty_step" not in base:
        raise PassivxError(f"give {label('exchange')}, {label('market')} or both {label('price_step')} "
                           f"and {label('qty_step')}")
    cache[ck] = MarketSpec.from_dict(base, source), where
    return cache[ck]


def _bool(req: dict, key: str, label: Label) -> bool:
    value = req.get(key, False)
    if not isinstance(value, bool):
        raise PassivxError(f"{label(key)}: must be true or false, got {value!r}")
    return value


def _state(req: dict, label: Label, classic: bool):
    """The state vector of `passivx.calc.layout` from the request's numbers."""
    import numpy as np

    price = _positive(_required(req, "price", label), "price", label)
    st = np.zeros(L.ST_SIZE)
    st[L.S_BALANCE] = _positive(_required(req, "balance", label), "balance", label)
    st[L.S_LAST_PRICE] = price
    for key, i in (("best_bid", L.S_BEST_BID), ("best_ask", L.S_BEST_ASK), ("ema", L.S_TICK_EMA)):
        st[i] = _positive(_number(req, key, label, price), key, label)
    if st[L.S_BEST_BID] > st[L.S_BEST_ASK]:
        raise PassivxError(f"{label('best_bid')} ({st[L.S_BEST_BID]}) must not be above "
                           f"{label('best_ask')} ({st[L.S_BEST_ASK]})")
    for side, i_size, i_price, sign in (("long", L.S_LONG_SIZE, L.S_LONG_PRICE, 1.0),
                                        ("short", L.S_SHORT_SIZE, L.S_SHORT_PRICE, -1.0)):
        size = _number(req, f"{side}_size", label, 0.0)
        if size < 0.0:
            raise PassivxError(f"{label(side + '_size')}: must be >= 0 (a magnitude), got {size!r}")
        if size > 0.0:
            pos_price = _number(req, f"{side}_price", label)
            if pos_price is None:
                raise PassivxError(f"{label(side + '_price')} is required with {label(side + '_size')}")
            st[i_size], st[i_price] = sign * size, _positive(pos_price, f"{side}_price", label)
    if classic and st[L.S_LONG_SIZE] > 0.0 and st[L.S_SHORT_SIZE] < 0.0:
        raise PassivxError(f"a classic config is one-way: give {label('long_size')} or {label('short_size')}, "
                           "not both")
    emas = _emas(req, "emas", label, [price] * 3)
    st[L.S_LONG_EMA0:L.S_LONG_EMA0 + 3] = _emas(req, "long_emas", label, emas)
    st[L.S_SHORT_EMA0:L.S_SHORT_EMA0 + 3] = _emas(req, "short_emas", label, emas)
    st[L.S_NOW_MS] = _number(req, "now_ms", label, 0.0)
    for key in _TIMERS[1:]:
        st[getattr(L, "S_" + key.upper())] = _number(req, key, label, -math.inf)
    st[L.S_PREDICTED_FUNDING] = _number(req, "funding_rate", label, 0.0)
    return st


def evaluate(req: dict, label: Label = _key, cache: dict | None = None) -> dict:
    """Ideal orders and risk figures for one request (config, market, state; keys as in `KEYS`).
    `label` names a key in error messages; `cache` keeps parsed configs/markets between calls."""
    cache = {} if cache is None else cache
    unknown = sorted(set(req) - set(KEYS))
    if unknown:
        raise PassivxError(f"unknown {label(unknown[0])}; allowed: {', '.join(KEYS)}")
    import numpy as np

    from passivx.calc.contracts import bankruptcy_price, liquidation_price, wallet_exposure
    from passivx.calc.entry import ideal_orders, new_memo
    from passivx.config import check_leverage

    config = _config(req, label, cache)
    st = _state(req, label, config.mode == "classic")
    spec, where = _market(req, label, cache, config.symbol)
    check_leverage(config, spec, where)
    whole_grid = _bool(req, "whole_grid", label)
    if "arrays" not in cache:
        _precompile()  # first call: load or compile the calculator, with the first-run notice
        cache["arrays"] = np.zeros((L.MAX_ORDERS, L.O_SIZE)), new_memo()
    out, memo = cache["arrays"]
    cfg, mkt = config.to_array(), spec.to_array()
    n = ideal_orders(cfg, mkt, st, whole_grid, out, memo)
    orders, notes = _printed_orders(out[:n], st, mkt, config.mode)

    bal = st[L.S_BALANCE]
    pos = (st[L.S_LONG_SIZE], st[L.S_LONG_PRICE], st[L.S_SHORT_SIZE], st[L.S_SHORT_PRICE])
    result = {
        "config_name": config.config_name,
        "mode": config.mode,
        "orders": orders,
        "notes": notes,
        "bankruptcy_price": float(bankruptcy_price(bal, *pos, mkt)),
        "liquidation_price": float(liquidation_price(bal, *pos, mkt)),
        "wallet_exposure": {"long": float(wallet_exposure(pos[0], pos[1], bal, mkt)),
                            "short": float(wallet_exposure(pos[2], pos[3], bal, mkt))},
    }
    if whole_grid:
        result["grid_filled"] = {}
        for side in ("long", "short"):
            entries = [o for o in orders if o["position_side"] == side and not o["reduce_only"]]
            if entries:
                result["grid_filled"][side] = _grid_end(entries[-1], side, pos, bal, mkt, liquidation_price)
    return result


def _nearest_first(rows) -> list:
    """Rows grouped by position side (long first) and order side (entry side first), nearest price first."""
    def key(r):
        entry_side = r[L.O_SIDE] == r[L.O_POS_SIDE]
        price = r[L.O_PRICE] if r[L.O_SIDE] < 0 else -r[L.O_PRICE]  # asks ascending, bids descending
        return (r[L.O_POS_SIDE] < 0, not entry_side, price)
    return sorted(rows, key=key)


def _printed_orders(rows, st, mkt, mode: str) -> tuple[list[dict], dict]:
    """The orders as printed (`_nearest_first`), each with the position if it and the orders printed before
    it in its group (the side's entries, or the side's closes) filled, starting from the current position;
    a reduce-only order closes at most what is left. The calculator's own "after" columns follow its list
    order, which is not the printed one for clock (its close comes after the take-profit grid). Also a note
    per side whose closes add up to more than its position."""
    from passivx.calc.contracts import new_position, wallet_exposure
    from passivx.calc.rounding import round_

    balance, step = st[L.S_BALANCE], mkt[L.M_QTY_STEP]
    now = {1.0: (st[L.S_LONG_SIZE], st[L.S_LONG_PRICE]), -1.0: (st[L.S_SHORT_SIZE], st[L.S_SHORT_PRICE])}
    chain: dict = {}
    closing = {1.0: 0.0, -1.0: 0.0}
    orders = []
    for r in _nearest_first(rows):
        side, pos_side, qty = float(r[L.O_SIDE]), float(r[L.O_POS_SIDE]), float(r[L.O_QTY])
        size, price = chain.get((pos_side, side), now[pos_side])
        if side != pos_side:  # reduce-only
            closing[pos_side] = round_(closing[pos_side] + qty, step)
            qty = min(qty, abs(size))
        size, price = new_position(size, price, side * qty, float(r[L.O_PRICE]), mkt)
        chain[(pos_side, side)] = (size, price)
        orders.append(_order(r, size, price, wallet_exposure(size, price, balance, mkt)))
    notes = {}
    for name, pos_side in (("long", 1.0), ("short", -1.0)):
        held, total = float(abs(now[pos_side][0])), float(closing[pos_side])
        if total > round_(held, step):
            why = " (the clock close is sized on the whole position, on top of the take-profit grid)" \
                if mode == "clock" else ""
            notes[name] = (f"closes total {total!r} but the position is {held!r}{why}: not all can fill; from "
                           "the close that would leave nothing on, the after-fields show a flat position")
    return orders, notes


def _order(r, size: float, price: float, we: float) -> dict:
    return {
        "side": "buy" if r[L.O_SIDE] > 0 else "sell",
        "position_side": "long" if r[L.O_POS_SIDE] > 0 else "short",
        "kind": L.KIND_NAMES[int(r[L.O_KIND])],
        "price": float(r[L.O_PRICE]),
        "qty": float(r[L.O_QTY]),
        "reduce_only": bool(r[L.O_REDUCE_ONLY]),
        "pos_size_after": abs(float(size)),
        "pos_price_after": float(price),
        "wallet_exposure_after": float(we),
    }


def _grid_end(last: dict, side: str, pos: tuple, bal: float, mkt, liquidation_price) -> dict:
    """A side's position, WE and liquidation price once its whole entry grid filled (`last`: its deepest
    printed entry; the other side as it is now)."""
    size, price = last["pos_size_after"], last["pos_price_after"]
    both = (size, price, pos[2], pos[3]) if side == "long" else (pos[0], pos[1], -size, price)
    return {"size": size, "price": price, "wallet_exposure": last["wallet_exposure_after"],
            "liquidation_price": float(liquidation_price(bal, *both, mkt))}


def _cli_request(options: dict) -> dict:
    """The request of the command-line options that were given (numbers parsed, one-line errors)."""
    req = {}
    for key, value in options.items():
        if value is None:
            continue
        if key in _NUMBERS:
            req[key] = _parse_float(value, _flag(key))
        elif key in _EMAS:
            req[key] = [_parse_float(v, _flag(key)) for v in value.split(",")]
        else:
            req[key] = value
    return req


def _parse_float(text: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise PassivxError(f"{flag}: must be a number, got {text!r}") from None


def _run_batch(lines: Iterable[bytes], base: dict, cache: dict) -> tuple[int, int]:
    """One JSON result line per input line; an invalid line gives {"error": ...} and the batch goes on.
    Returns (lines read, lines failed)."""
    failed = lineno = 0
    for lineno, raw in enumerate(lines, 1):
        try:
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise PassivxError("not UTF-8 text (is this a binary file?)") from None
            if "\x00" in line:
                raise PassivxError("not text (it holds NUL bytes)")
            try:
                req = json.loads(line)
            except ValueError as e:
                raise PassivxError(f"not valid JSON ({e})") from None
            if not isinstance(req, dict):
                raise PassivxError(f"expected a JSON object, got {type(req).__name__}")
            result = evaluate({**base, **req}, _key, cache)
        except PassivxError as e:
            result = {"error": f"line {lineno}: {e}"}
            failed += 1
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    return lineno, failed


def format_table(result: dict, price: float, balance: float, spec) -> str:
    """The result of `evaluate` as text: one table per side and order kind (entries, closes), nearest price
    first, each order's cost (quote, or coin for inverse), the position and wallet exposure if it and the
    orders above it filled, and its distance from the price; then notes and, with --whole-grid, each side's
    position once its whole grid filled."""
    money = "coin" if spec.inverse else "quote"
    lines = [f"{result['config_name']} ({result['mode']}): price {price:g}, balance {balance:g} {money}; "
             f"liquidation price {result['liquidation_price']:.8g}, wallet exposure long "
             f"{result['wallet_exposure']['long']:.4g} short {result['wallet_exposure']['short']:.4g}"]
    head = f"  {'kind':10} {'price':>14} {'qty':>14} {'cost':>14} {'position after':>16} {'WE after':>9} {'distance':>9}"
    for side in ("long", "short"):
        for closing, title in ((False, "entries"), (True, "closes")):
            rows = [o for o in result["orders"] if o["position_side"] == side and o["reduce_only"] == closing]
            if not rows:
                continue
            lines += ["", f"{side} {title}", head]
            for o in rows:
                cost = o["qty"] * spec.c_mult / o["price"] if spec.inverse else o["qty"] * o["price"] * spec.c_mult
                lines.append(f"  {o['kind']:10} {o['price']:>14.8g} {o['qty']:>14.8g} {cost:>14.6g} "
                             f"{o['pos_size_after']:>16.8g} {o['wallet_exposure_after']:>9.4f} "
                             f"{o['price'] / price - 1:>+9.2%}")
    if not result["orders"]:
        lines += ["", "no orders"]
    lines += [f"note ({side}): {text}" for side, text in result["notes"].items()]
    for side, g in result.get("grid_filled", {}).items():
        lines.append(f"{side} grid filled: size {g['size']:.8g} at {g['price']:.8g}, wallet exposure "
                     f"{g['wallet_exposure']:.4f}, liquidation price {g['liquidation_price']:.8g}")
    return "\n".join(lines)


def _precompile() -> None:
    """Load the calculator from the compiled-code cache, compiling it first (with a notice) if needed."""
    import numpy as np

    from passivx.calc.entry import ideal_orders, new_memo
    from passivx.firstrun import CALCULATOR, precompile

    precompile(CALCULATOR, ideal_orders, np.zeros(L.CFG_SIZE), np.zeros(L.MKT_SIZE), np.zeros(L.ST_SIZE), False,
               np.zeros((L.MAX_ORDERS, L.O_SIZE)), new_memo())


def _options(fn):
    specs = [
        ("--price", "Last price (required)."),
        ("--balance", "Wallet balance: quote currency (linear) or coin (inverse). Required."),
        ("--long-size", "Long position size, a magnitude in contracts (default flat)."),
        ("--long-price", "Long position price."),
        ("--short-size", "Short position size, a magnitude in contracts (default flat)."),
        ("--short-price", "Short position price."),
        ("--best-bid", "Best bid (default --price)."),
        ("--best-ask", "Best ask (default --price)."),
        ("--ema", "Classic tick EMA (default --price)."),
        ("--emas", "Mode EMA band values for both sides (default the price three times).", "E1,E2,E3"),
        ("--long-emas", "Long side EMA band values (default --emas).", "E1,E2,E3"),
        ("--short-emas", "Short side EMA band values (default --emas).", "E1,E2,E3"),
        ("--exchange", "Use the known market spec of the config's symbol on this exchange (binance, bybit).",
         "NAME"),
        ("--market", ("Market spec JSON file (price_step, qty_step, min_qty, ...); overrides --exchange, and "
                      "the flags below override both."), "FILE.json"),
        ("--price-step", "Price tick."),
        ("--qty-step", "Quantity step."),
        ("--min-qty", "Minimum order qty (default 0)."),
        ("--min-cost", "Minimum order cost, linear (default 0)."),
        ("--c-mult", "Contract multiplier (default 1)."),
        ("--mm-rate", "Maintenance margin rate for the liquidation price (default: the market's, else 0.004)."),
        ("--now-ms", "Current time in ms (default 0)."),
        ("--funding-rate", "Predicted funding rate, for classic funding_fee_collect_mode (default 0)."),
    ]
    specs += [(f"--{s}-last-{k}-ms", f"Time of the {s} side's last {k} fill in ms (default never).")
              for s in ("long", "short") for k in ("entry", "close", "unstuck")]
    for flag, help_text, *metavar in reversed(specs):
        fn = click.option(flag, type=str, metavar=metavar[0] if metavar else "X", help=help_text)(fn)
    return fn


@click.command(short_help="Print the ideal orders of a config for one state, as JSON.")
@click.argument("config", required=False, metavar="[CONFIG]")
@_options
@click.option("--inverse/--linear", default=None, help="Inverse or linear contracts (default: the market's, "
              "else linear).")
@click.option("--whole-grid", is_flag=True, help="List every entry node the grid would place if price kept "
              "moving against the position, each as if the previous one filled.")
@click.option("--batch", metavar="FILE.jsonl", help="Evaluate one JSON request per line ('-' = stdin): "
              "keys config (object or path), the flags' names with underscores, emas as a list; "
              "the command-line options are the defaults of every line.")
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="json", show_default=True,
              help="json, or a readable table per side (price, qty, cost, position and wallet exposure after, "
                   "distance from the price).")
def calc(config: str | None, batch: str | None, fmt: str, **options) -> None:
    """Print the ideal orders of live config CONFIG for one state as JSON.

    Output: "orders" (side, position_side, kind, price, qty, reduce_only, and the position size / price /
    wallet exposure if that order and the ones printed before it in its side's entries, or its side's
    closes, filled), grouped long then short, entries then closes, nearest price first; "notes" per side
    (closes that add up to more than the position); "bankruptcy_price", "liquidation_price",
    "wallet_exposure" per side; with --whole-grid also "grid_filled": each side's position and liquidation
    price once its grid filled.
    CONFIG is optional with --batch (lines may carry their own). NUMBA_DISABLE_JIT=1 runs the calculator
    as plain Python (same results)."""
    req = _cli_request(options)
    if config is not None:
        req["config"] = config
    cache: dict = {}
    if fmt == "table" and batch is not None:
        raise PassivxError("--format table prints one state; --batch writes JSON lines")
    if batch is None:
        result = evaluate(req, _flag, cache)
        if fmt == "table":
            spec, _ = _market(req, _flag, cache, _config(req, _flag, cache).symbol)
            click.echo(format_table(result, float(req["price"]), float(req["balance"]), spec))
        else:
            click.echo(json.dumps(result, indent=2))
    else:
        if batch == "-":
            n, failed = _run_batch(sys.stdin.buffer, req, cache)
        else:
            try:
                f = open(batch, "rb")
            except OSError as e:
                raise PassivxError(f"{batch}: cannot read the batch file ({e.strerror or e})") from None
            with f:
                n, failed = _run_batch(f, req, cache)
        if failed:
            raise PassivxError(f"{'stdin' if batch == '-' else batch}: {failed} of {n} line(s) failed "
                               "(their output lines hold the errors)")
