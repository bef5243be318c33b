"""PNG plots of a backtest (matplotlib, Agg backend): price with fills, position and liquidation
prices; balance and equity; position size and wallet exposure; drawdown."""
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

    fig, ax = plt.subplots(figsize=(14, 6))
    stop = result.stats["liquidation_timestamp"]  # no price is replayed after a liquidation
    replayed = smp[:, B.SM_T] <= (stop if stop is not None else np.inf)
    ax.plot(t, _masked(smp[:, B.SM_PRICE], replayed), lw=0.7, color="0.35", label="price")
    ax.plot(t, _masked(smp[:, B.SM_LONG_PRICE], smp[:, B.SM_LONG_SIZE] != 0), lw=1, color="tab:blue",
            label="long position price")
    ax.plot(t, _masked(smp[:, B.SM_SHORT_PRICE], smp[:, B.SM_SHORT_SIZE] != 0), lw=1, color="tab:orange",
            label="short position price")
    ax.plot(t, _masked(smp[:, B.SM_LIQ], smp[:, B.SM_LIQ] > 0), lw=1, ls="--", color="tab:red",
            label="liquidation price")
    if len(fills):
        shown = fills[np.linspace(0, len(fills) - 1, min(len(fills), _MAX_MARKERS)).astype(int)]
        for side, marker, color, label in ((1.0, "^", "tab:green", "buy"), (-1.0, "v", "tab:red", "sell")):
            f = shown[shown[:, B.F_SIDE] == side]
            ax.scatter(_dates(f[:, B.F_T]), f[:, B.F_PRICE], marker=marker, s=14, color=color, label=f"{label} fills",
                       zorder=3)
    low, high = np.nanmin(smp[:, B.SM_PRICE]), np.nanmax(smp[:, B.SM_PRICE])
    ax.set_ylim(low - 0.1 * (high - low), high + 0.1 * (high - low))  # far liquidation prices stay off-scale
    ax.set_title(f"{title}: price, fills, position and liquidation prices")
    ax.legend(loc="best", fontsize=8)
    fig.autofmt_xdate()
    fig.savefig(folder / "price.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(14, 5))
    ax.plot(t, smp[:, B.SM_BALANCE], lw=1, label="balance")
    ax.plot(t, smp[:, B.SM_EQUITY], lw=0.8, label="equity")
    ax.set_title(f"{title}: balance and equity")
    ax.legend(loc="best")
    fig.autofmt_xdate()
    fig.savefig(folder / "balance_equity.png", dpi=110)
    plt.close(fig)

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(14, 7), sharex=True)
    top.plot(t, smp[:, B.SM_LONG_SIZE], lw=1, color="tab:blue", label="long size")
    top.plot(t, smp[:, B.SM_SHORT_SIZE], lw=1, color="tab:orange", label="short size")
    top.set_title(f"{title}: position size and wallet exposure")
    top.legend(loc="best")
    bottom.plot(t, smp[:, B.SM_WE_LONG], lw=1, color="tab:blue", label="wallet exposure long")
    bottom.plot(t, smp[:, B.SM_WE_SHORT], lw=1, color="tab:orange", label="wallet exposure short")
    bottom.legend(loc="best")
    fig.autofmt_xdate()
    fig.savefig(folder / "position.png", dpi=110)
    plt.close(fig)

    equity = smp[:, B.SM_EQUITY]
    drawdown = equity / np.maximum.accumulate(np.maximum(equity, result.stats["starting_balance"])) - 1.0
    fig, ax = plt.subplots(figsize=(14, 4))
    ax.fill_between(t, drawdown * 100, 0, color="tab:red", alpha=0.4, step="post")
    ax.set_ylabel("% from peak")
    ax.set_title(f"{title}: equity drawdown (sampled; max_drawdown in stats.json is exact: "
                 f"{result.stats['max_drawdown']:.2%})")
    fig.autofmt_xdate()
    fig.savefig(folder / "drawdown.png", dpi=110)
    plt.close(fig)
