"""Row layouts of the fills and curve samples the backtester and paper trading record (float64 rows;
`passivx.results` writes them as fills.csv and equity.csv). Constants only: the backtester's jitted loop
freezes them in, so they live in calc/, whose sources key the compiled-code cache."""

K_LIQUIDATION = 4  # fill kind beyond the calculator's K_*: forced close at the liquidation price
FILL_KIND_NAMES = ("entry", "close", "stop_loss", "unstuck", "liquidation")

# ---- fills --------------------------------------------------------------------------------------
F_T = 0
F_KIND = 1
F_SIDE = 2  # +1 buy, -1 sell
F_POS_SIDE = 3
F_PRICE = 4
F_QTY = 5
F_FEE = 6
F_PNL = 7
F_BALANCE = 8
F_LONG_SIZE = 9
F_LONG_PRICE = 10
F_SHORT_SIZE = 11
F_SHORT_PRICE = 12
F_EQUITY = 13
F_MARK = 14  # price the equity is marked at: the trade (or candle extreme) that filled the order
F_TAKER = 15
F_W = 16
FILL_COLUMNS = ("timestamp", "kind", "side", "position_side", "price", "qty", "fee", "pnl", "balance",
                "long_size", "long_price", "short_size", "short_price", "equity", "mark_price", "taker")

# ---- sampled curve --------------------------------------------------------------------------------
SM_T = 0
SM_PRICE = 1
SM_BALANCE = 2
SM_EQUITY = 3
SM_LONG_SIZE = 4
SM_LONG_PRICE = 5
SM_SHORT_SIZE = 6
SM_SHORT_PRICE = 7
SM_LIQ = 8
SM_WE_LONG = 9
SM_WE_SHORT = 10
SM_W = 11
SAMPLE_COLUMNS = ("timestamp", "price", "balance", "equity", "long_size", "long_price", "short_size",
                  "short_price", "liquidation_price", "wallet_exposure_long", "wallet_exposure_short")
