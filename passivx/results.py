"""The files a backtest and a paper-trading run both write, in one format: `fills.csv` (every fill with the
position, balance and equity after it) and `equity.csv` (the sampled balance / equity curve), from rows
laid out as `passivx.calc.rows` says. The backtester (`passivx.backtest`) and the live engine's paper mode
(`passivx.live.paper`) share these writers without importing each other."""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

from passivx.calc.rows import (
    F_KIND, F_POS_SIDE, F_SIDE, F_T, F_TAKER, F_W, FILL_COLUMNS, FILL_KIND_NAMES, SAMPLE_COLUMNS, SM_T,
)

def utc(ms: float) -> str:
    """`YYYY-mm-dd HH:MM:SS.mmm` (UTC) of a timestamp in ms."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def write_fills(path: Path, fills: np.ndarray) -> None:
    """`fills.csv`: a `time_utc` column, then `FILL_COLUMNS` (kinds and sides as words)."""
    sides = {1.0: "buy", -1.0: "sell"}
    pos_sides = {1.0: "long", -1.0: "short"}
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(("time_utc",) + FILL_COLUMNS)
        for row in fills:
            values = [repr(float(v)) for v in row]
            values[F_T] = str(int(row[F_T]))
            values[F_KIND] = FILL_KIND_NAMES[int(row[F_KIND])]
            values[F_SIDE] = sides[row[F_SIDE]]
            values[F_POS_SIDE] = pos_sides[row[F_POS_SIDE]]
            values[F_TAKER] = str(int(row[F_TAKER]))
            out.writerow([utc(row[F_T])] + values)


def write_samples(path: Path, samples: np.ndarray) -> None:
    """`equity.csv`: a `time_utc` column, then `SAMPLE_COLUMNS`."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(("time_utc",) + SAMPLE_COLUMNS)
        for row in samples:
            out.writerow([utc(row[SM_T]), str(int(row[SM_T]))] + [repr(float(v)) for v in row[1:]])


def read_fills(path: Path) -> np.ndarray:
    """The rows of a `fills.csv` written by `write_fills` (for resuming a paper run)."""
    names = {n: float(k) for k, n in enumerate(FILL_KIND_NAMES)}
    words = {"buy": 1.0, "sell": -1.0, "long": 1.0, "short": -1.0}
    parse = {"kind": names, "side": words, "position_side": words}
    with open(path, newline="", encoding="utf-8") as f:
        rows = [[parse[c][rec[c]] if c in parse else float(rec[c]) for c in FILL_COLUMNS] for rec in csv.DictReader(f)]
    return np.array(rows, dtype=np.float64).reshape(-1, F_W)


def read_samples(path: Path) -> list[list[float]]:
    """The rows of an `equity.csv` written by `write_samples` (none if the file is missing)."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [[float(rec[c]) for c in SAMPLE_COLUMNS] for rec in csv.DictReader(f)]
