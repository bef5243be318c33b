"""Index layout of the backtest engine's arrays. Everything is float64 and allocated once per run
(`passivx.backtest.context.new_context`), so the jitted loop never allocates.

- `w` (`W_SIZE`): one workspace vector, so hot functions take a single array (numba counts references of
  every array argument of a call, which costs more than the work on the decision path):
  engine scalars `E_*` at 0 (event clock, book bounds, decision ring, counters, statistics), then the live
  state vector `st` at `W_ST`, the decision whose orders rest now at `W_BST`, the decision the book rows
  were computed for at `W_RST` (the reference of the "nothing that matters changed" test), the config
  vector at `W_CFG`, the market vector at `W_MKT` and the calculator's memo at `W_MEMO`. Decisions are
  `RING_W` long: a state vector, then the decision time, the state version and the fill sequence number
  (the calculator reads only the state).
- `ring` (`RING_CAP` x `RING_W`): decisions waiting for the latency to pass.
- `bk` (`BK_CAP` x `BK_W`): the resting orders: the calculator's order row, then alive/market/fixed flags.
- `rf` (`RF_CAP` x `RF_W`): the last fills, to drop them from orders decided before the bot saw them.
- `fills` (`F_CAP` x `F_W`) and `smp` (n x `SM_W`): results, emptied by the Python side.
"""
from passivx.calc.layout import CFG_SIZE, MAX_ORDERS, MEMO_SIZE, MKT_SIZE, O_SIZE, ST_SIZE
from passivx.calc.rows import (  # noqa: F401 - re-exported (shared with paper trading)
    F_BALANCE, F_EQUITY, F_FEE, F_KIND, F_LONG_PRICE, F_LONG_SIZE, F_MARK, F_PNL, F_POS_SIDE, F_PRICE, F_QTY,
    F_SHORT_PRICE, F_SHORT_SIZE, F_SIDE, F_T, F_TAKER, F_W, FILL_COLUMNS, FILL_KIND_NAMES, K_LIQUIDATION,
    SAMPLE_COLUMNS, SM_BALANCE, SM_EQUITY, SM_LIQ, SM_LONG_PRICE, SM_LONG_SIZE, SM_PRICE, SM_SHORT_PRICE,
    SM_SHORT_SIZE, SM_T, SM_W, SM_WE_LONG, SM_WE_SHORT,
)

PACE_MS = 1000.0  # the live engine recomputes its orders at most once per second of exchange time
MINUTE_MS = 60_000

# ---- engine scalars -----------------------------------------------------------------------------
E_T_EVT = 0  # earliest pending event (decision, landing, minute, funding, timer, sample)
E_UB = 1  # a trade below this may fill a bid (exact highest bid, or a bound while stale)
E_LB = 2  # a trade above this may fill an ask
E_HB = 3  # exact highest live bid (+inf: market buy waiting)
E_LA = 4  # exact lowest live ask (-inf: market sell waiting)
E_STALE = 5  # 1: the book decision differs from the reference only in EMA values (bounds)
E_N_BOOK = 6
E_REF_OK = 7
E_REF_VERSION = 8
E_BB_LO = 9  # the rows stay valid while best bid / ask stay inside these (see bounds.thresholds)
E_BB_HI = 10
E_BA_LO = 11
E_BA_HI = 12
E_REF_SL = 13  # classic stop-loss qty at the reference decision
E_REF_DUE = 14  # timers up at the reference decision (bounds.due_flags)
E_VERSION = 15  # bumped whenever balance, positions, fill timers or predicted funding change
E_LAST_DEC = 16
E_DEC_T = 17  # time of the scheduled decision (inf: none)
E_RING_HEAD = 18
E_RING_N = 19
E_T_TIMER = 20  # next clock / auto-unstuck timer switch
E_T_MINUTE = 21  # next minute boundary (band EMA update), inf for classic
E_FUND_I = 22
E_T_FUND = 23
E_T_SAMPLE = 24
E_SAMPLE_MS = 25
E_N_SAMPLES = 26
E_LIQ = 27  # liquidation price (0: none)
E_LIQ_S = 28  # +1: liquidated when price falls to E_LIQ, -1: when it rises to it
E_LIQ_X = 29  # E_LIQ * E_LIQ_S (-inf: none)
E_EQ_DIR = 30  # sign of d(equity)/d(price): +1 net long, -1 net short, 0 flat
E_XMAX = 31  # price * E_EQ_DIR: running high of the current segment (constant position)
E_XMIN = 32  # lowest since that high
E_PEAK = 33  # peak equity
E_MAX_DD = 34
E_CLOSEST_LIQ = 35
E_LAST_FILL_T = 36
E_MAX_GAP = 37  # longest time without a fill, ms
E_N_FILLS = 38
E_N_ENTRIES = 39
E_N_CLOSES = 40
E_N_SL = 41
E_N_UNSTUCK = 42
E_N_LIQ = 43
E_FEES = 44
E_VOLUME = 45
E_RPNL = 46
E_FUNDING = 47
E_LIQUIDATED = 48
E_N_TRADES = 49
E_N_CALLS = 50  # ideal_orders calls
E_N_FBUF = 51  # rows in the fills buffer
E_FILL_SEQ = 52  # fills so far (sequence number of the next)
E_ALPHA = 53  # classic tick EMA alpha
E_BAND_ALPHA = 54  # six band EMA alphas: long 3, short 3 (same order as the state's band values)
E_LAT = 60
E_PACE = 61
E_EXHAUSTIVE = 62  # 1: recompute the orders at every decision (reference mode for tests)
E_STARTED = 63
E_FIRST_T = 64
E_LAST_T = 65
E_ERROR = 66  # 1: decision ring overflow
E_N_DECISIONS = 67
E_MODE = 68  # cfg's mode as a number (0 classic .. 3 clock)
E_AU_DELAY = 69  # timed auto-unstuck delay (ms) of the long and the short side; 0: none
E_M_ENTRY = 71  # EMA rules (bounds.reference): band multipliers of the nearest EMA-priced entry, long / short
E_M_CLOSE = 73  # ... and close
E_FLIP_BID = 75  # nearest bid / ask an EMA-driven switch can bring
E_FLIP_ASK = 76
E_X_LO = 77  # initial entry price range (long, short) the switches were evaluated for
E_X_HI = 79
E_P_LO = 81  # classic: last-price band where the stop loss keeps its state
E_P_HI = 82
E_T_FLIP = 83  # grid modes: time the next auto-unstuck timer comes up
E_HB_FIXED = 84  # highest bid / lowest ask among the book rows whose price no EMA value sets
E_LA_FIXED = 85
E_T_LAND = 86  # when the oldest pending decision lands (inf: none pending)
E_FIXED_OK = 87  # 1: while stale, the rows flagged BK_FIXED are still exact (no EMA can change them)
E_UB_EMA = 88  # the parts of E_UB / E_LB bounding the EMA-priced orders (while stale)
E_LB_EMA = 89
E_SIZE = 90

# ---- decision ring and snapshots ------------------------------------------------------------------
R_T = ST_SIZE
R_VERSION = ST_SIZE + 1
R_SEQ = ST_SIZE + 2
RING_W = ST_SIZE + 3
RING_CAP = 4096

# ---- workspace offsets ----------------------------------------------------------------------------
W_ST = E_SIZE
W_BST = W_ST + ST_SIZE
W_RST = W_BST + RING_W
W_CFG = W_RST + RING_W
W_MKT = W_CFG + CFG_SIZE
W_MEMO = W_MKT + MKT_SIZE
W_SIZE = W_MEMO + MEMO_SIZE

# ---- book rows: the calculator's order row, then -------------------------------------------------
BK_ALIVE = O_SIZE
BK_MARKET = O_SIZE + 1  # a market order (classic market stop loss): taker, fills at the next trade
BK_FIXED = O_SIZE + 2  # no EMA value sets this order's price or qty (bounds.reference)
BK_W = O_SIZE + 3
BK_CAP = MAX_ORDERS

# ---- recent fills ---------------------------------------------------------------------------------
RF_SIDE = 0  # fill number n is in row n % RF_CAP; the filled order's side, position side, price, qty
RF_POS_SIDE = 1
RF_PRICE = 2
RF_QTY = 3  # (before any reduce-only cut)
RF_MARKET = 4  # a market order: identified without its price (it takes whatever price there is)
RF_W = 5
RF_CAP = 4096

# ---- fills output (row layout: passivx.calc.rows) ---------------------------------------------------
F_CAP = 65_536
F_ROOM = 2 * MAX_ORDERS + 8  # a replay call returns to flush when fewer rows than this are free
