"""Index layout of the float64 vectors the calculator works on.

The calculator takes three vectors and writes one table:
- `mkt` (market spec, `MKT_SIZE`), built by `passivx.markets.MarketSpec.to_array`;
- `cfg` (strategy config, `CFG_SIZE`), built by `passivx.config` from a validated config;
- `st` (state, `ST_SIZE`): balance, positions, book, EMAs, timers;
- `out` (`MAX_ORDERS` x `O_SIZE`): one row per ideal order;
- `memo` (`MEMO_SIZE`, or empty for none): what a call may keep for the next one (`new_memo`).

Sizes are signed: long size >= 0, short size <= 0. "Never" timers are -inf.
Constants are plain ints so numba folds them as compile-time globals.
"""

# ---- market vector --------------------------------------------------------------------------
M_PRICE_STEP = 0
M_QTY_STEP = 1
M_MIN_QTY = 2
M_MIN_COST = 3
M_C_MULT = 4
M_INVERSE = 5  # 1.0 inverse, 0.0 linear
M_MAKER_FEE = 6
M_TAKER_FEE = 7
M_MM_RATE = 8  # maintenance margin rate
M_MAX_LEVERAGE = 9
MKT_SIZE = 10

# ---- state vector ---------------------------------------------------------------------------
S_BALANCE = 0
S_LONG_SIZE = 1  # >= 0
S_LONG_PRICE = 2
S_SHORT_SIZE = 3  # <= 0
S_SHORT_PRICE = 4
S_BEST_BID = 5
S_BEST_ASK = 6
S_LAST_PRICE = 7
S_TICK_EMA = 8  # classic tick EMA
S_LONG_EMA0 = 9  # mode EMA band values for the long side (3)
S_SHORT_EMA0 = 12  # mode EMA band values for the short side (3)
S_NOW_MS = 15
S_LONG_LAST_ENTRY_MS = 16
S_LONG_LAST_CLOSE_MS = 17
S_LONG_LAST_UNSTUCK_MS = 18
S_SHORT_LAST_ENTRY_MS = 19
S_SHORT_LAST_CLOSE_MS = 20
S_SHORT_LAST_UNSTUCK_MS = 21
S_PREDICTED_FUNDING = 22  # for classic funding_fee_collect_mode
ST_SIZE = 23

# ---- config vector --------------------------------------------------------------------------
C_MODE = 0
MODE_CLASSIC = 0
MODE_RECURSIVE = 1
MODE_NEAT = 2
MODE_CLOCK = 3

# classic (seed 000) fields
C_BALANCE_PCT = 1
C_ENTRY_QTY_PCT = 2
C_DDOWN_FACTOR = 3
C_EMA_SPAN = 4
C_EMA_SPREAD = 5
C_FUNDING_COLLECT = 6
C_DO_LONG = 7
C_DO_SHORT = 8
C_GRID_COEF = 9
C_GRID_SPACING = 10
C_SL_LIQ_DIFF = 11
C_SL_PPRICE_DIFF = 12
C_SL_POS_REDUCTION = 13
C_LEVERAGE = 14
C_MIN_MARKUP = 15
C_MAX_MARKUP = 16
C_MIN_CLOSE_QTY_MULT = 17
C_MARKET_SL = 18
C_N_CLOSE = 19
C_N_ENTRY = 20

# mode fields: one block per side, at C_LONG or C_SHORT plus these offsets
C_LONG = 32
C_SHORT = 72
P_ENABLED = 0
P_EMA_SPAN_0 = 1
P_EMA_SPAN_1 = 2
P_WEL = 3
P_INITIAL_QTY_PCT = 4
P_INITIAL_EPRICE_EMA_DIST = 5
P_MIN_MARKUP = 6
P_MARKUP_RANGE = 7
P_N_CLOSE_ORDERS = 8
P_BACKWARDS_TP = 9
P_DDOWN_FACTOR = 10
P_RENTRY_PPRICE_DIST = 11
P_RENTRY_WE_WEIGHT = 12
P_GRID_SPAN = 13
P_EPRICE_EXP_BASE = 14
P_EQTY_EXP_BASE = 15
P_MAX_N_ENTRY_ORDERS = 16
P_AU_THRESHOLD = 17
P_AU_EMA_DIST = 18
P_AU_DELAY_MINUTES = 19
P_AU_QTY_PCT = 20
P_DELAY_ENTRY = 21  # delay_between_fills_minutes_entry
P_DELAY_CLOSE = 22
P_DELAY_WEIGHT_ENTRY = 23
P_DELAY_WEIGHT_CLOSE = 24
P_EMA_DIST_ENTRY = 25
P_EMA_DIST_CLOSE = 26
P_QTY_PCT_ENTRY = 27
P_QTY_PCT_CLOSE = 28
P_WE_MULT_ENTRY = 29
P_WE_MULT_CLOSE = 30
P_SIZE = 31
CFG_SIZE = 112

# ---- output order table ---------------------------------------------------------------------
O_SIDE = 0  # +1 buy, -1 sell
O_POS_SIDE = 1  # +1 long, -1 short
O_KIND = 2  # K_* below
O_PRICE = 3
O_QTY = 4  # > 0
O_REDUCE_ONLY = 5  # 1.0 or 0.0
O_POS_SIZE_AFTER = 6  # position size if this order (and the ones before it in the list) filled
O_POS_PRICE_AFTER = 7
O_WE_AFTER = 8  # wallet exposure after that fill
O_SIZE = 9
MAX_ORDERS = 512

# ---- memo -----------------------------------------------------------------------------------
# per side: the last re-anchored neat grid (`passivx.calc.neat`) with every input it was computed from
# (balance, size, position price, the side's config block, the market), then its prices and qtys; after
# both sides, scratch space (`scratch.scratch`: neat workspaces, take-profit prices; meaningless between uses)
MEMO_MAX_NODES = 100  # grids with more nodes are not kept (configs allow up to 100)
MEMO_KEY = 3 + P_SIZE + MKT_SIZE
MEMO_SIDE = MEMO_KEY + 2 * MEMO_MAX_NODES
MEMO_SCRATCH = 2 * MEMO_SIDE
MEMO_SCRATCH_SIZE = 10 * MEMO_MAX_NODES
MEMO_SIZE = MEMO_SCRATCH + MEMO_SCRATCH_SIZE

K_ENTRY = 0
K_CLOSE = 1
K_STOP_LOSS = 2
K_UNSTUCK = 3  # unstuck close (or legacy unstuck entry, with O_REDUCE_ONLY = 0)
KIND_NAMES = ("entry", "close", "stop_loss", "unstuck")

# ---- timers ---------------------------------------------------------------------------------
MIN_DELAY_MS = 60_000.0  # shortest delay of a clock order or a timed auto-unstuck close (STRATEGY.md §3)
