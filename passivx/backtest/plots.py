"""PNG plots of a backtest (matplotlib, Agg backend): price with fills, position and liquidation
prices; balance and equity; position size and wallet exposure; drawdown. Every y axis names its unit;
a liquidated run says so in red in each title and marks the liquidation fill."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from passivx.backtest import layout as B
from passivx.backtest.runner import BacktestResult

_MAX_MARKERS = 5000  # fills drawn per plot (evenly thinned beyond)


def _dates(ms: np.ndarray) -> np.ndarray:
    return ms.astype("datetime64[ms]")


def _masked(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    return np.where(keep, values, np.nan)


def write_plots(folder: Path, result: BacktestResult) -> None:
    """Write price.png, balance_equity.png, position.png and drawdown.png into `folder`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    smp, fills = result.samples, result.fills
    t = _dates(smp[:, B.SM_T])
    title = f"{result.exchange} {result.symbol} {result.config.config_name}"
    stop = result.stats["liquidation_timestamp"]  # no price is replayed after a liquidation
    base, quote = _units(result.symbol, result.market.inverse)
    money = base if result.market.inverse else quote
    size_unit = "contracts" if result.market.inverse or result.market.c_mult != 1.0 else base

    def finish(fig, ax, name: str, what: str) -> None:
        ax.set_title(f"{title}: {what}", loc="left")
        if stop is not None:
            ax.set_title("LIQUIDATED", loc="right", color="red", fontweight="bold")
        fig.autofmt_xdate()
        fig.savefig(folder / name, dpi=110)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(14, 6))
    replayed = smp[:, B.SM_T] <= (stop if stop is not None else np.inf)
    ax.plot(t, _masked(smp[:, B.SM_PRICE], replayed), lw=0.7, color="0.35", label="price")
    ax.plot(t, _masked(smp[:, B.SM_LONG_PRICE], smp[:, B.SM_LONG_SIZE] != 0), lw=1, color="tab:blue",
            label="long position price")
    ax.plot(t, _masked(smp[:, B.SM_SHORT_PRICE], smp[:, B.SM_SHORT_SIZE] != 0), lw=1, color="tab:orange",
            label="short position price")
    low, high = np.nanmin(smp[:, B.SM_PRICE]), np.nanmax(smp[:, B.SM_PRICE])
    liq = smp[:, B.SM_LIQ]
    if len(fills):
        shown = fills[np.linspace(0, len(fills) - 1, min(len(fills), _MAX_MARKERS)).astype(int)]
        for side, marker, color, label in ((1.0, "^", "tab:green", "buy"), (-1.0, "v", "tab:red", "sell")):
            f = shown[shown[:, B.F_SIDE] == side]
            ax.scatter(_dates(f[:, B.F_T]), f[:, B.F_PRICE], marker=marker, s=14, color=color, label=f"{label} fills",
                       zorder=3)
        liquidation = fills[fills[:, B.F_KIND] == B.FILL_KIND_NAMES.index("liquidation")]
        if len(liquidation):
            ax.scatter(_dates(liquidation[:, B.F_T]), liquidation[:, B.F_PRICE], marker="X", s=160, color="red",
                       edgecolor="black", label="liquidation", zorder=4)
            low, high = min(low, liquidation[:, B.F_PRICE].min()), max(high, liquidation[:, B.F_PRICE].max())
    pad = 0.1 * (high - low) or 0.01 * high
    ylim = (low - pad, high + pad)
    in_range = (liq > 0) & (liq >= ylim[0]) & (liq <= ylim[1])
    if in_range.any():  # far liquidation prices stay off-scale (the axis follows the price)
        ax.plot(t, _masked(liq, liq > 0), lw=1, ls="--", color="tab:red", label="liquidation price")
    ax.set_ylim(*ylim)
    ax.set_ylabel(f"price ({quote} per {base})")
    ax.legend(loc="best", fontsize=8)
    finish(fig, ax, "price.png", "price, fills, position and liquidation prices")

    fig, ax = plt.subplots(figsize=(14, 5))
    ax.plot(t, smp[:, B.SM_BALANCE], lw=1, label="balance")
    ax.plot(t, smp[:, B.SM_EQUITY], lw=0.8, label="equity")
    ax.set_ylabel(money)
    ax.legend(loc="best")
    finish(fig, ax, "balance_equity.png", "balance and equity")

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(14, 7), sharex=True)
    top.plot(t, smp[:, B.SM_LONG_SIZE], lw=1, color="tab:blue", label="long size")
    top.plot(t, smp[:, B.SM_SHORT_SIZE], lw=1, color="tab:orange", label="short size")
    top.set_ylabel(f"position ({size_unit})")
    top.legend(loc="best")
    bottom.plot(t, smp[:, B.SM_WE_LONG], lw=1, color="tab:blue", label="wallet exposure long")
    bottom.plot(t, smp[:, B.SM_WE_SHORT], lw=1, color="tab:orange", label="wallet exposure short")
    bottom.set_ylabel("wallet exposure (x balance)")
    bottom.legend(loc="best")
    finish(fig, top, "position.png", "position size and wallet exposure")

    equity = smp[:, B.SM_EQUITY]
    drawdown = equity / np.maximum.accumulate(np.maximum(equity, result.stats["starting_balance"])) - 1.0
    fig, ax = plt.subplots(figsize=(14, 4))
    ax.fill_between(t, drawdown * 100, 0, color="tab:red", alpha=0.4, step="post")
    ax.set_ylabel("% below the equity peak")
    finish(fig, ax, "drawdown.png", f"equity drawdown (sampled; max_drawdown in stats.json is exact: "
                                    f"{result.stats['max_drawdown']:.2%})")


def _units(symbol: str, inverse: bool) -> tuple[str, str]:
    """(base, quote) of a symbol such as BTCUSDT or BTCUSD (the quote is the known suffix)."""
    for quote in ("USDT", "USDC", "BUSD", "USD"):
        if symbol.upper().endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    return ("coin", "USD") if inverse else ("base", "quote")
