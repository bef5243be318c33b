"""Atomic file writes: a temp file in the target's directory, flushed, then `os.replace`d."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def temp_path(target: Path) -> Path:
    """A fresh hidden temp file beside `target` (created empty, so the name is ours)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    return Path(name)


def write_bytes_atomic(target: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `target` with `data` so readers see the old or the new content, never a mix. `mode`: the
    file's permissions, set before anything is written (else the temp file's 0600)."""
    tmp = temp_path(target)
    try:
        with open(tmp, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(target: Path, obj) -> None:
    """Atomically write `obj` as indented JSON."""
    write_bytes_atomic(target, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())
