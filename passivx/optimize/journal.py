"""The run's journal: `run.json` (what the run is: settings, base config, mode, seed, iterations, batch),
written once at the start, and `results.jsonl`, one JSON object per evaluated candidate, appended and
flushed as each finishes. A process killed mid-write leaves at most a torn last line, which `read_results`
drops (and cuts off the file) so the candidate is simply evaluated again."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from passivx.data.atomic import write_bytes_atomic
from passivx.errors import PassivxError

RUN = "run.json"
RESULTS = "results.jsonl"


def write_run(folder: Path, meta: dict) -> None:
    """run.json, keys in their order (the order of the ranges is the order parameters are drawn in)."""
    write_bytes_atomic(folder / RUN, (json.dumps(meta, indent=1) + "\n").encode())


def read_run(folder: Path) -> dict:
    """The run.json of `folder`; PassivxError when the folder holds no run."""
    try:
        return json.loads((folder / RUN).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PassivxError(f"{folder}: no {RUN} here, so no optimizer run to resume") from None
    except (OSError, ValueError) as e:
        raise PassivxError(f"{folder / RUN}: cannot read it ({e})") from None


def read_results(folder: Path) -> list[dict]:
    """Every complete record of results.jsonl; a torn last line is cut off the file."""
    path = folder / RESULTS
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    records, good = [], 0
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            records.append(json.loads(line))
        except ValueError:
            if good + len(line) < len(data):
                raise PassivxError(f"{path}: line {len(records) + 1} is not JSON (edited by hand?)") from None
            break
        good += len(line)
    if good < len(data):
        with open(path, "r+b") as f:
            f.truncate(good)
    return records


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def encode(value: Any) -> str:
    """`value` as JSON text the way results.jsonl holds it (compact)."""
    return _ENCODER.encode(value)


class Journal:
    """Appends records to results.jsonl, one line each, flushed to the OS at once."""

    def __init__(self, folder: Path) -> None:
        self._f: IO[str] = open(folder / RESULTS, "a", encoding="utf-8")

    def append(self, record: dict, stats: str, seconds: dict) -> None:
        """One line: the keys of `record`, then "stats" (given as `encode`d text) and "seconds"."""
        self._f.write(f'{encode(record)[:-1]},"stats":{stats},"seconds":{encode(seconds)}}}\n')
        self._f.flush()

    def close(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
