"""Market specs: what the calculator needs to know about one exchange symbol."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from passivx.errors import MarketError


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
