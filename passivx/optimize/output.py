"""The output folder of a run and what the terminal shows.

`optimize/{exchange}/{symbol}/{mode}/{UTC time}/` (or `--out DIR`) holds `run.json` and `results.jsonl`
(`journal`), `objective.png` (every candidate's objective by k, and the best so far), `summary.json`,
and, when a candidate met the constraints, `best_settings.json` (the best as a live config), `best/` (its
full backtest report on the training range) and `validation/` (on the validation range, when the
settings name one). `best_settings.json` holds the config only: nothing in it depends on when, where or
on how many workers the run ran.
"""
from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path

from passivx.data.atomic import temp_path
from passivx.optimize.search import Search

CLOSEST = 5
# (label, stats key, format) rows of the terminal comparison of training and validation
ROWS = (("adg", "adg", "{:+.4%}"), ("gain", "gain", "{:+.4%}"), ("max drawdown", "max_drawdown", "{:.4%}"),
        ("closest liquidation", "closest_liquidation", "{:.4%}"), ("hours stuck max", "hours_stuck_max", "{:.2f}"),
        ("fills / day", "fills_per_day", "{:.1f}"), ("liquidated", "liquidated", "{}"))


def default_folder(exchange: str, symbol: str, mode: str, root: str | Path = "optimize") -> Path:
    """`root/{exchange}/{symbol}/{mode}/{UTC time}`, made unique if it exists."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    base = Path(root) / exchange / symbol / mode / stamp
    dest, n = base, 1
    while dest.exists():
        n += 1
        dest = base.with_name(f"{stamp}-{n}")
    return dest


def plot_objective(folder: Path, search: Search, title: str) -> None:
    """objective.png: each evaluated candidate's objective by k (met the constraints or not), the best
    so far as a step line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = sorted(search.results)
    ok = [k for k in ks if not search.results[k]["broken"]]
    bad = [k for k in ks if search.results[k]["broken"] and not math.isnan(search.results[k]["objective"])]
    sign = -1.0 if search.judge.objective.startswith("-") else 1.0
    value = {k: sign * search.results[k]["objective"] for k in ks}
    fig, ax = plt.subplots(figsize=(12, 5))
    ax.scatter(bad, [value[k] for k in bad], s=8, color="0.7", label="broke a constraint")
    ax.scatter(ok, [value[k] for k in ok], s=10, color="tab:blue", label="met the constraints")
    best_x, best_y, best = [], [], None
    for k in ok:
        if best is None or search.results[k]["objective"] > search.results[best]["objective"]:
            best = k
        best_x.append(k)
        best_y.append(value[best])
    if best_x:
        ax.step(best_x, best_y, where="post", color="tab:red", lw=1.5, label="best so far")
    ax.set_xlabel("candidate k")
    ax.set_ylabel(search.judge.key)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    tmp = temp_path(folder / "objective.png")
    try:
        fig.savefig(tmp, format="png", dpi=100)
        os.replace(tmp, folder / "objective.png")
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)


def closest(search: Search, n: int = CLOSEST) -> list[int]:
    """The candidates nearest to meeting the constraints: fewest broken, then least missed in total."""
    return sorted(search.results, key=lambda k: (len(search.results[k]["broken"]),
                                                 sum(b["off"] for b in search.results[k]["broken"]), k))[:n]


def describe_broken(broken: list[dict]) -> str:
    parts = []
    for b in broken:
        if b["constraint"] in ("liquidated", "objective"):
            parts.append("liquidated" if b["constraint"] == "liquidated" else "objective not a number")
        else:
            parts.append(f"{b['constraint']} {b['limit']:g} (was {b['value']:.6g})")
    return ", ".join(parts)


def comparison(training: dict, validation: dict | None) -> str:
    """The main statistics of the training range, with the validation range's beside them."""
    head = [("", "training", "validation" if validation is not None else "")]
    for label, key, fmt in ROWS:
        head.append((label, fmt.format(training[key]), fmt.format(validation[key]) if validation else ""))
    w0, w1 = (max(len(r[i]) for r in head) for i in (0, 1))
    return "\n".join(f"{a:<{w0}}  {b:>{w1}}  {c}".rstrip() for a, b, c in head)
