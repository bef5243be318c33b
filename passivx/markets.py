"""Market specs: what the calculator needs to know about one exchange symbol."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from passivx.errors import MarketError
from passivx.exchanges import canonical_exchange, market_id  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class MarketSpec:
    """Trading rules of one perpetual contract. Inverse: qty in contracts of `c_mult` quote units,
    balance in coin. Linear: qty in base units times `c_mult`, balance in quote."""

    price_step: float
    qty_step: float
    min_qty: float = 0.0
    min_cost: float = 0.0
    c_mult: float = 1.0
    inverse: bool = False
    maker_fee: float = 0.0002
    taker_fee: float = 0.0005
    mm_rate: float = 0.004
    max_leverage: float = 100.0

    def __post_init__(self) -> None:
        for name in ("price_step", "qty_step", "c_mult", "max_leverage"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise MarketError(f"market spec: {name} must be a number > 0, got {value!r}")
        for name in ("min_qty", "min_cost", "mm_rate"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise MarketError(f"market spec: {name} must be a number >= 0, got {value!r}")
        for name in ("maker_fee", "taker_fee"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or abs(value) >= 0.1:
                raise MarketError(f"market spec: {name} must be a fee rate between -0.1 and 0.1, got {value!r}")
        if not isinstance(self.inverse, bool):
            raise MarketError(f"market spec: inverse must be true or false, got {self.inverse!r}")

    def to_array(self):
        """The float64 market vector of `passivx.calc.layout` (imports numpy lazily)."""
        import numpy as np

        from passivx.calc import layout as L

        m = np.zeros(L.MKT_SIZE)
        m[L.M_PRICE_STEP] = self.price_step
        m[L.M_QTY_STEP] = self.qty_step
        m[L.M_MIN_QTY] = self.min_qty
        m[L.M_MIN_COST] = self.min_cost
        m[L.M_C_MULT] = self.c_mult
        m[L.M_INVERSE] = 1.0 if self.inverse else 0.0
        m[L.M_MAKER_FEE] = self.maker_fee
        m[L.M_TAKER_FEE] = self.taker_fee
        m[L.M_MM_RATE] = self.mm_rate
        m[L.M_MAX_LEVERAGE] = self.max_leverage
        return m

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "market spec") -> "MarketSpec":
        """Build from a mapping with the field names above; unknown keys are an error."""
        if not isinstance(data, dict):
            raise MarketError(f"{source}: expected a JSON object with price_step, qty_step, ...")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise MarketError(f"{source}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(known))}")
        for required in ("price_step", "qty_step"):
            if required not in data:
                raise MarketError(f"{source}: missing key {required!r}")
        try:
            return cls(**data)
        except MarketError as e:
            raise MarketError(f"{source}: {str(e).removeprefix('market spec: ')}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> "MarketSpec":
        """Load a market spec JSON file."""
        p = Path(path)
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError:
            raise MarketError(f"{p}: market file not found") from None
        except (OSError, ValueError) as e:
            raise MarketError(f"{p}: not valid JSON ({e})") from None
        return cls.from_dict(data, str(p))


# ---- lookup of known symbols ------------------------------------------------------------------
# Exchange names: "binance" is Binance USDT-M futures, "bybit" is Bybit (inverse and linear);
# "synthetic" is the built-in generated data set. Other names are allowed for imported data.
SNAPSHOT_PATH = Path(__file__).with_name("markets_snapshot.json")


def _specs_from(data: dict, source: str) -> dict[str, dict]:
    markets = data.get("markets") if isinstance(data, dict) else None
    if not isinstance(markets, dict):
        raise MarketError(f"{source}: expected an object with a \"markets\" object of symbol -> spec")
    return markets


def _snapshot(exchange: str) -> dict:
    return json.loads(SNAPSHOT_PATH.read_text())["exchanges"].get(canonical_exchange(exchange), {})


def snapshot_specs(exchange: str) -> dict[str, dict]:
    """The shipped snapshot's specs of one exchange: symbol -> MarketSpec fields."""
    snap = _snapshot(exchange)
    defaults = snap.get("defaults", {})
    return {sym: dict(defaults, **spec) for sym, spec in snap.get("markets", {}).items()}


def cached_specs_path(exchange: str, cache_dir: str | Path | None = None) -> Path:
    """Where the specs fetched online (or added by hand) for `exchange` are kept."""
    from passivx.data.cache import resolve_cache_dir

    return resolve_cache_dir(cache_dir) / "markets" / f"{canonical_exchange(exchange)}.json"


def cached_specs(exchange: str, cache_dir: str | Path | None = None) -> dict[str, dict]:
    """Specs cached beside the data for `exchange` ({} if none yet)."""
    path = cached_specs_path(exchange, cache_dir)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise MarketError(f"{path}: not valid JSON ({e}); delete it to fall back to the shipped snapshot") from None
    return _specs_from(data, str(path))


def spec_from_ccxt(ad, m: dict, exchange: str) -> MarketSpec:
    """The MarketSpec of one ccxt market, fees and margin defaults from the snapshot where ccxt has none."""
    default = {k: v for k, v in MarketSpec(price_step=1, qty_step=1).to_dict().items()
               if k in ("maker_fee", "taker_fee", "mm_rate", "max_leverage")}
    default.update(_snapshot(exchange).get("defaults", {}))
    return MarketSpec.from_dict(ad.spec_fields(m, default), f"{exchange} {m['id']}")


def fetch_specs_online(exchange: str, cache_dir: str | Path | None = None) -> dict[str, dict]:
    """Load the exchange's perpetual markets through ccxt and cache their specs beside the data."""
    import time

    from passivx.data.atomic import write_json_atomic
    from passivx.exchanges import adapter
    from passivx.exchanges.base import call

    ex = canonical_exchange(exchange)
    ad = adapter(ex)
    client = ad.make_client()
    markets = call(client.load_markets, f"{ex} load_markets")
    specs = {}
    for mid, m in ad.perpetuals(markets).items():
        try:
            specs[mid] = spec_from_ccxt(ad, m, ex).to_dict()
        except (MarketError, KeyError, TypeError, ValueError):
            continue
    path = cached_specs_path(ex, cache_dir)
    write_json_atomic(path, {"source": f"ccxt {ex} load_markets", "fetched": time.time(), "markets": specs})
    return specs


def market_spec(exchange: str, symbol: str, cache_dir: str | Path | None = None,
                online: bool = False) -> MarketSpec:
    """The MarketSpec of `symbol` on `exchange`: fetched through ccxt and cached when `online`, else
    from the copy cached beside the data, else from the shipped snapshot. MarketError if unknown."""
    ex, sym = canonical_exchange(exchange), market_id(symbol)
    if online:
        found = fetch_specs_online(ex, cache_dir)
    else:
        found = cached_specs(ex, cache_dir)
    source = str(cached_specs_path(ex, cache_dir))
    if sym not in found:
        found, source = snapshot_specs(ex), f"{SNAPSHOT_PATH.name} ({ex})"
    if sym not in found:
        raise MarketError(
            f"unknown symbol {sym} on {ex}: not in the cached or shipped market specs; add "
            f"\"{sym}\": {{\"price_step\": ..., \"qty_step\": ..., \"min_qty\": ..., \"min_cost\": ..., "
            f"\"c_mult\": ..., \"inverse\": ...}} under \"markets\" in {cached_specs_path(ex, cache_dir)}"
            + (" or fetch the specs online (`passivx download` does)" if ex in ("binance", "bybit") else ""))
    return MarketSpec.from_dict(found[sym], f"{source}: {sym}")
