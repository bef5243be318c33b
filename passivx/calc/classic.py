"""The classic Passiv-X strategy (STRATEGY.md §2, seed 000): one-way; tick-EMA initial entries when flat;
with a position a re-entry grid on a coarse price step, a take-profit grid and a soft stop loss.

Choices the spec leaves open:
- Each re-entry node is computed as if the previous one had filled, so price has reached it: the book
  clamp of a node is `min(best_bid, previous node price)` (short: `max(best_ask, ...)`). Lists stay
  nearest-price-first and `whole_grid` starts with the live nodes.
- `do_long` / `do_shrt` and funding gating apply to initial entries only (as in the original bot); an
  existing position always gets its re-entries and closes.
- Stop loss: listed first among the closes, reduce-only, kind `K_STOP_LOSS`. Limit (default): at the top of
  the book on its own side (long sells at best ask, short buys at best bid). Market (`market_stop_loss`):
  at the price a market order takes now (long: best bid, short: best ask), so a consumer treating the row
  as a limit order fills it at once; the live engine sends it as a market order.
- The take-profit grid is sized on `|Q|` minus the stop-loss qty (as the original bot did), so reduce-only
  orders never exceed the position. Close rows carry the position left after it and the closes before it.
- Take-profit grid: the spec's count, prices and split (orders may be below min_close_qty), and on top the
  exchange minimum: when the split would put an order under `min_entry_qty` at its price, the grid uses
  the most of the nearest kept prices whose split meets it (one order of all |Q| when none does).
- Wallet exposure columns are over the wallet balance `W`; sizing uses the balance used `B`.
- `whole_grid` lists at most `WHOLE_GRID_NODES` re-entries per side (a floor-priced grid can be endless).
"""
import numpy as np

from passivx.calc.contracts import (
    cost_to_qty, liquidation_price, min_entry_qty, new_position, qty_to_cost, wallet_exposure,
)
from passivx.calc.jit import jit
from passivx.calc.layout import (
    C_BALANCE_PCT, C_DDOWN_FACTOR, C_DO_LONG, C_DO_SHORT, C_EMA_SPREAD, C_ENTRY_QTY_PCT, C_FUNDING_COLLECT,
    C_GRID_COEF, C_GRID_SPACING, C_LEVERAGE, C_MARKET_SL, C_MAX_MARKUP, C_MIN_CLOSE_QTY_MULT, C_MIN_MARKUP,
    C_N_CLOSE, C_N_ENTRY, C_SL_LIQ_DIFF, C_SL_POS_REDUCTION, C_SL_PPRICE_DIFF, K_CLOSE, K_ENTRY, K_STOP_LOSS,
    MAX_ORDERS, M_MIN_QTY, M_PRICE_STEP, M_QTY_STEP, O_KIND, O_POS_SIDE, O_PRICE, O_QTY, S_BALANCE, S_BEST_ASK,
    S_BEST_BID, S_LAST_PRICE, S_LONG_PRICE, S_LONG_SIZE, S_PREDICTED_FUNDING, S_SHORT_PRICE, S_SHORT_SIZE,
    S_TICK_EMA,
)
from passivx.calc.orders import put
from passivx.calc.rounding import iround, round_, round_dn, round_up
from passivx.calc.takeprofit import keep_tp_prices

WHOLE_GRID_NODES = MAX_ORDERS // 4
SINGLE_TP_SPREAD = 0.003  # nearest two take-profit prices further apart than this: one order


@jit
def balance_used(cfg, st) -> float:
    """`B = W * min(1, |balance_pct|)`."""
    return st[S_BALANCE] * min(1.0, abs(cfg[C_BALANCE_PCT]))


@jit
def classic_initial_qty(cfg, mkt, bal: float, x: float) -> float:
    """Classic `q0(x)` (STRATEGY §2): leveraged balance `bal` in contracts at the order's price `x`, times
    entry_qty_pct, rounded down (the modes' `recursive.initial_qty` is another rule: a share of W*WEL, rounded
    to nearest)."""
    contracts = cost_to_qty(bal * cfg[C_LEVERAGE], x, mkt)
    return max(min_entry_qty(x, mkt), round_dn(contracts * abs(cfg[C_ENTRY_QTY_PCT]), mkt[M_QTY_STEP]))


@jit
def reentry(cfg, mkt, bal: float, side: float, size: float, price: float, bound: float):
    """Next re-entry of the position (size, price) as (price, qty, capped); qty 0 when none.

    `bound` is the book clamp (long: best bid, short: best ask); `capped` means the qty was cut to the room
    left under the maximum position, so the grid ends there."""
    ps = mkt[M_PRICE_STEP]
    qs = mkt[M_QTY_STEP]
    lev = cfg[C_LEVERAGE]
    spacing = cfg[C_GRID_SPACING]
    margin = qty_to_cost(size, price, mkt) / lev
    g = spacing * (1.0 + margin / bal * cfg[C_GRID_COEF])
    coarse = max(ps, round_up(price * spacing / 4.0, ps))
    if side > 0.0:
        x = max(ps, min(bound, round_dn(price * (1.0 - g), coarse)))
    else:
        x = max(ps, bound, round_up(price * (1.0 + g), coarse))
    room = max(0.0, round_dn(cost_to_qty(bal * lev, x, mkt) - abs(size), qs))
    floor = min_entry_qty(x, mkt)
    want = max(floor, round_dn(abs(size) * cfg[C_DDOWN_FACTOR], qs))
    qty = min(room, want)
    if qty < floor:
        return x, 0.0, True
    return x, qty, room < want


@jit
def _entry_grid(cfg, mkt, st, side: float, size: float, price: float, bound: float, n_nodes: int,
                out, n: int) -> int:
    """Write up to `n_nodes` re-entries of (size, price), each as if the previous one had filled. A
    re-entry on the price of the entry before it (small orders on a coarse price step) is merged into it:
    one order per price, as an exchange book shows them."""
    bal = balance_used(cfg, st)
    if bal <= 0.0:
        return n
    for _ in range(n_nodes):
        x, qty, capped = reentry(cfg, mkt, bal, side, size, price, bound)
        if qty <= 0.0:
            break
        size, price = new_position(size, price, side * qty, x, mkt)
        last = n - 1
        if last >= 0 and out[last, O_PRICE] == x and out[last, O_POS_SIDE] == side and out[last, O_KIND] == K_ENTRY:
            n = last
            qty = round_(out[n, O_QTY] + qty, mkt[M_QTY_STEP])
        n = put(out, n, side, side, K_ENTRY, x, qty, False, size, price,
                wallet_exposure(size, price, st[S_BALANCE], mkt))
        if capped:
            break
        bound = min(bound, x) if side > 0.0 else max(bound, x)
    return n


@jit
def _initial_entry(cfg, mkt, st, side: float, whole_grid: bool, out, n: int) -> int:
    """Initial entry of one side when flat (if enabled), then with `whole_grid` the grid behind it."""
    enabled = cfg[C_DO_LONG] if side > 0.0 else cfg[C_DO_SHORT]
    if enabled == 0.0:
        return n
    if cfg[C_FUNDING_COLLECT] != 0.0 and st[S_PREDICTED_FUNDING] * side >= 0.0:
        return n  # funding collect: long only when funding < 0, short only when > 0
    ps = mkt[M_PRICE_STEP]
    ema = st[S_TICK_EMA]
    if side > 0.0:
        x = min(st[S_BEST_BID], round_dn(ema * (1.0 - cfg[C_EMA_SPREAD]), ps))
    else:
        x = max(st[S_BEST_ASK], round_up(ema * (1.0 + cfg[C_EMA_SPREAD]), ps))
    bal = balance_used(cfg, st)
    if x <= 0.0 or bal <= 0.0:
        return n
    qty = classic_initial_qty(cfg, mkt, bal, x)
    size, price = new_position(0.0, 0.0, side * qty, x, mkt)
    n = put(out, n, side, side, K_ENTRY, x, qty, False, size, price,
            wallet_exposure(size, price, st[S_BALANCE], mkt))
    if whole_grid:
        n = _entry_grid(cfg, mkt, st, side, size, price, x, WHOLE_GRID_NODES, out, n)
    return n


@jit
def stop_loss_qty(cfg, mkt, st, size: float, price: float) -> float:
    """Soft stop-loss qty of the position (size, price): 0 unless near liquidation or far from `P`."""
    p = st[S_LAST_PRICE]
    if p <= 0.0:
        return 0.0
    if size > 0.0:
        liq = liquidation_price(st[S_BALANCE], size, price, 0.0, 0.0, mkt)
    else:
        liq = liquidation_price(st[S_BALANCE], 0.0, 0.0, size, price, mkt)
    if abs(liq - p) / p < cfg[C_SL_LIQ_DIFF] or abs(price - p) / p > cfg[C_SL_PPRICE_DIFF]:
        return min(abs(size), round_up(abs(size) * cfg[C_SL_POS_REDUCTION], mkt[M_QTY_STEP]))
    return 0.0


@jit
def _close(mkt, st, side: float, size: float, price: float, kind: int, x: float, qty: float, out, n: int):
    """Write one reduce-only close of `qty` at `x`; return (n, size, price) after it."""
    size, price = new_position(size, price, -side * qty, x, mkt)
    n = put(out, n, -side, side, kind, x, qty, True, size, price,
            wallet_exposure(size, price, st[S_BALANCE], mkt))
    return n, size, price


@jit
def _tp_share(qty: float, k: int, i: int, side: float, qs: float) -> float:
    """Qty of take-profit `i` (nearest first) of `k` >= 2 sharing `qty`: `round_up(qty/k)`, one qty_step less
    on as many orders as the sum exceeds `qty` by, from the lowest price up (long: the nearest first; short:
    the farthest first)."""
    each = round_up(qty / k, qs)
    n_less = iround((each * k - qty) / qs)
    rank_from_lowest = i if side > 0.0 else k - 1 - i
    return round_(each - qs, qs) if rank_from_lowest < n_less else each


@jit
def _tp_count(mkt, kept, k: int, qty: float, side: float) -> int:
    """The largest `j <= k` whose `_tp_share`s of `qty` over the `j` nearest kept prices all meet the exchange
    minimum at their prices (and are at least a qty_step); 1 when none does."""
    qs = mkt[M_QTY_STEP]
    for j in range(k, 1, -1):
        fits = True
        for i in range(j):
            if _tp_share(qty, j, i, side, qs) < max(qs, min_entry_qty(kept[i], mkt)):
                fits = False
                break
        if fits:
            return j
    return 1


@jit
def _take_profits(cfg, mkt, st, side: float, size: float, price: float, qty: float, out, n: int) -> int:
    """Write the take-profit grid closing `qty` of the position (size, price), nearest price first."""
    ps = mkt[M_PRICE_STEP]
    qs = mkt[M_QTY_STEP]
    q0 = classic_initial_qty(cfg, mkt, balance_used(cfg, st), price)
    min_close = max(qs, mkt[M_MIN_QTY], round_dn(q0 * cfg[C_MIN_CLOSE_QTY_MULT], qs))
    n_points = max(0, iround(min(cfg[C_N_CLOSE], qty / min_close)))
    first = price * (1.0 + side * cfg[C_MIN_MARKUP])
    kept = np.empty(n_points)
    k, _ = keep_tp_prices(mkt, side, first, price * (1.0 + side * cfg[C_MAX_MARKUP]), n_points, True,
                          st[S_BEST_BID], st[S_BEST_ASK], kept)
    if k == 0 or (k >= 2 and abs(kept[1] - kept[0]) / kept[0] > SINGLE_TP_SPREAD):
        if side > 0.0:
            x = max(st[S_BEST_ASK], round_up(first, ps))
        else:
            x = min(st[S_BEST_BID], round_dn(first, ps))
        return _close(mkt, st, side, size, price, K_CLOSE, x, qty, out, n)[0]
    k = _tp_count(mkt, kept, k, qty, side)
    if k == 1:
        return _close(mkt, st, side, size, price, K_CLOSE, kept[0], qty, out, n)[0]
    for i in range(k):
        n, size, price = _close(mkt, st, side, size, price, K_CLOSE, kept[i], _tp_share(qty, k, i, side, qs),
                                out, n)
    return n


@jit
def _position_orders(cfg, mkt, st, side: float, size: float, price: float, whole_grid: bool,
                     out, n: int) -> int:
    """Re-entries, then stop loss and take-profits, of a position of sign `side`."""
    bound = st[S_BEST_BID] if side > 0.0 else st[S_BEST_ASK]
    n_nodes = WHOLE_GRID_NODES if whole_grid else iround(cfg[C_N_ENTRY])
    n = _entry_grid(cfg, mkt, st, side, size, price, bound, n_nodes, out, n)
    sl_qty = stop_loss_qty(cfg, mkt, st, size, price)
    if sl_qty > 0.0:
        if (side > 0.0) == (cfg[C_MARKET_SL] == 0.0):
            x = st[S_BEST_ASK]
        else:
            x = st[S_BEST_BID]
        n, size, price = _close(mkt, st, side, size, price, K_STOP_LOSS, x, sl_qty, out, n)
    rest = abs(size)
    if rest > 0.0:
        n = _take_profits(cfg, mkt, st, side, size, price, rest, out, n)
    return n


@jit
def classic_orders(cfg, mkt, st, whole_grid: bool, out) -> int:
    """Write the classic strategy's ideal orders into `out` and return the row count.

    Long position: long re-entries, then long closes; short position: the mirror; flat: the initial bid
    and ask of the enabled sides (with `whole_grid`, each followed by the grid behind it)."""
    if st[S_LONG_SIZE] > 0.0:
        return _position_orders(cfg, mkt, st, 1.0, st[S_LONG_SIZE], st[S_LONG_PRICE], whole_grid, out, 0)
    if st[S_SHORT_SIZE] < 0.0:
        return _position_orders(cfg, mkt, st, -1.0, st[S_SHORT_SIZE], st[S_SHORT_PRICE], whole_grid, out, 0)
    n = _initial_entry(cfg, mkt, st, 1.0, whole_grid, out, 0)
    return _initial_entry(cfg, mkt, st, -1.0, whole_grid, out, n)
