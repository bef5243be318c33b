"""The on-disk form of one UTC day of trades or candles.

Layout: 8-byte magic, a little-endian uint32 header length, a JSON header
`{"kind", "rows", "columns": [[name, dtype, offset], ...]}`, then each column as one contiguous
little-endian block starting at a 64-byte-aligned offset. A day is read as numpy views of a single
read-only memory map, so opening it costs a page-table setup, not a copy.
"""
from __future__ import annotations

import hashlib
import json
import mmap
import os
import struct
from pathlib import Path

import numpy as np

from passivx.errors import DataError

MAGIC = b"PXDAY001"
ALIGN = 64
SCHEMAS: dict[str, tuple[tuple[str, str], ...]] = {
    "trades": (("ts", "<i8"), ("price", "<f8"), ("qty", "<f8"), ("side", "i1")),
    "candles": (("ts", "<i8"), ("open", "<f8"), ("high", "<f8"), ("low", "<f8"), ("close", "<f8"),
                ("volume", "<f8")),
}
KINDS = tuple(SCHEMAS)
_HASH_CHUNK = 1 << 22


def _pad(n: int) -> int:
    return -n % ALIGN


def write_day(path: Path, kind: str, columns: dict[str, np.ndarray]) -> tuple[int, str]:
    """Write one day's columns to `path` (fsynced); return (size in bytes, sha256 hex)."""
    schema = SCHEMAS[kind]
    rows = len(columns["ts"])
    arrays = [np.ascontiguousarray(columns[name], dtype=dtype) for name, dtype in schema]
    if any(len(a) != rows for a in arrays):
        raise ValueError("columns of one day must have equal lengths")
    meta = {"kind": kind, "rows": rows, "columns": [[n, d, 0] for n, d in schema]}
    room = len(json.dumps(meta, separators=(",", ":"))) + 20 * len(schema)  # offset digits
    start = len(MAGIC) + 4 + room
    start += _pad(start)
    offsets = []
    for a in arrays:
        offsets.append(start)
        start += a.nbytes + _pad(a.nbytes)
    meta["columns"] = [[n, d, o] for (n, d), o in zip(schema, offsets)]
    header = json.dumps(meta, separators=(",", ":")).encode()
    header += b" " * (offsets[0] - len(MAGIC) - 4 - len(header))
    h = hashlib.sha256()
    size = 0
    with open(path, "wb") as f:
        for chunk in (MAGIC, struct.pack("<I", len(header)), header):
            f.write(chunk)
            h.update(chunk)
            size += len(chunk)
        for a, off in zip(arrays, offsets):
            pad = b"\0" * (off - size)
            data = memoryview(a).cast("B")
            for chunk in (pad, data):
                f.write(chunk)
                h.update(chunk)
            size = off + a.nbytes
        f.flush()
        os.fsync(f.fileno())
    return size, h.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 hex of a whole file, read in 4 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def map_day(path: Path, kind: str) -> dict[str, np.ndarray]:
    """Memory-map a day file; return read-only numpy views of its columns (plain ndarrays).

    The mapping lives as long as any returned array does."""
    try:
        with open(path, "rb") as f:
            flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
            mm = mmap.mmap(f.fileno(), 0, flags=flags, prot=mmap.PROT_READ)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: cannot read day file ({e})") from None
    try:
        if mm[:len(MAGIC)] != MAGIC:
            raise ValueError("bad magic")
        (hlen,) = struct.unpack_from("<I", mm, len(MAGIC))
        meta = json.loads(mm[len(MAGIC) + 4:len(MAGIC) + 4 + hlen])
        schema = SCHEMAS[kind]
        if meta["kind"] != kind or [tuple(c[:2]) for c in meta["columns"]] != list(schema):
            raise ValueError(f"holds {meta['kind']}, expected {kind}")
        rows = int(meta["rows"])
        out = {}
        for name, dtype, off in meta["columns"]:
            if off % ALIGN or off + rows * np.dtype(dtype).itemsize > len(mm):
                raise ValueError(f"column {name} out of bounds")
            out[name] = np.frombuffer(mm, dtype=dtype, count=rows, offset=off)
        return out
    except (ValueError, KeyError, TypeError, struct.error) as e:
        raise DataError(f"{path}: not a valid day file ({e}); delete it and fetch the day again") from None
