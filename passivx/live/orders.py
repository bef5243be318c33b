"""The order diff: which of the bot's open orders to cancel and which ideal orders to create.

Rules (pure functions, no I/O):
- Only the bot's own orders are considered: client ids starting with `PREFIX`.
- An open order is kept when an ideal order of the same side, position side and reduce-only flag is
  within `price_tol` (relative) in price and `qty_tol` (relative) in qty, so tiny moves do not churn.
- Never two bot orders at one side and price: of ideal orders sharing a side and price the first (the
  calculator's list order) wins, and no order is created at a side and price where an open bot order
  stays.
- Cancels first, then creates, each nearest to the price first and capped per cycle; creates never
  take the count of open bot orders past the number of ideal orders.
- Market orders (the classic market stop loss) are always created, first.
"""
from __future__ import annotations

import itertools
import time

from passivx.exchanges.base import Order
from passivx.live.state import KIND_CODES, Want

PREFIX = "passivx"
PRICE_TOL = 0.0002
QTY_TOL = 0.01
MAX_CANCELS = 10
MAX_CREATES = 10
_KINDS = {v: k for k, v in KIND_CODES.items()}
_counter = itertools.count()


def client_id(w: Want) -> str:
    """A unique client order id: `passivx-<kind><l|s>-<ms base 36>-<n>` (at most 36 characters)."""
    ms = _b36(int(time.time() * 1000))
    return f"{PREFIX}-{KIND_CODES[w.kind]}{'l' if w.pos_side > 0 else 's'}-{ms}-{_b36(next(_counter) % 36 ** 4)}"


def is_ours(cid: str) -> bool:
    return cid.startswith(PREFIX + "-")


def kind_of(cid: str) -> tuple[int, int] | None:
    """(kind, position side) encoded in a bot client id, or None."""
    if not is_ours(cid):
        return None
    try:
        code = cid.split("-")[1]
        return _KINDS[code[0]], 1 if code[1] == "l" else -1
    except (IndexError, KeyError):
        return None


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    s = ""
    while True:
        n, r = divmod(n, 36)
        s = digits[r] + s
        if n == 0:
            return s


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * abs(b)


def diff(want: list[Want], have: list[Order], price: float, price_tol: float = PRICE_TOL, qty_tol: float = QTY_TOL,
         max_cancels: int = MAX_CANCELS, max_creates: int = MAX_CREATES) -> tuple[list[Order], list[Want]]:
    """(orders to cancel, orders to create) turning the bot's open orders `have` into `want`."""
    mine = [o for o in have if is_ours(o.client_id)]
    limits, seen = [], set()
    for w in want:
        if not w.market and (w.side, w.price) not in seen:
            seen.add((w.side, w.price))
            limits.append(w)
    kept: set[int] = set()
    missing = []
    for w in limits:
        match = next((i for i, o in enumerate(mine) if i not in kept and o.side == w.side and o.pos_side == w.pos_side
                      and o.reduce_only == w.reduce_only and _close(o.price, w.price, price_tol)
                      and _close(o.qty, w.qty, qty_tol)), None)
        if match is None:
            missing.append(w)
        else:
            kept.add(match)
    dist = lambda p: abs(p - price)  # noqa: E731
    stale = sorted((o for i, o in enumerate(mine) if i not in kept), key=lambda o: dist(o.price))
    cancels = stale[:max_cancels]
    staying = [o for o in mine if o not in cancels]
    taken = {(o.side, o.price) for o in staying}
    room = max(0, len(limits) - len(staying))
    creates = [w for w in sorted(missing, key=lambda w: dist(w.price)) if (w.side, w.price) not in taken]
    creates = creates[:min(room, max_creates)]
    return cancels, [w for w in want if w.market] + creates
