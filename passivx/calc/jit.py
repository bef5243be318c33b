"""The one JIT decorator of the calculator: numba `njit` with an on-disk cache and no fastmath,
so results are bit-identical with `NUMBA_DISABLE_JIT=1` (plain Python) and compiled code.

numba's cache does not notice when a jitted function's callees in *other* files change, so a cache
could run stale machine code after an upgrade or an edit. The cache therefore lives in a folder named
after a hash of every source file that holds jitted code (and the numba/Python versions): any change
to them starts a fresh cache. `PASSIVX_NUMBA_CACHE` moves it (default `~/.cache/passivx/numba`).
"""
import hashlib
import os
import sys
from pathlib import Path

import numba
from numba import njit

_PACKAGE = Path(__file__).resolve().parent.parent
_JITTED_DIRS = ("calc", "backtest")


def _source_hash() -> str:
    h = hashlib.sha256(f"{numba.__version__} {sys.version}".encode())
    for folder in _JITTED_DIRS:
        for path in sorted((_PACKAGE / folder).glob("*.py")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    """Folder of the compiled-code cache for the current sources."""
    root = os.environ.get("PASSIVX_NUMBA_CACHE") or Path.home() / ".cache" / "passivx" / "numba"
    return Path(root) / _source_hash()


numba.config.CACHE_DIR = str(cache_dir())


def jit(fn):
    """Compile `fn` in nopython mode, caching the machine code (see the module docstring)."""
    return njit(cache=True, fastmath=False, nogil=True)(fn)


def jit_inline(fn):
    """`jit` for small functions on a hot path: numba inlines them into each caller (no call, no reference
    counting of array arguments); they are compiled as part of their callers."""
    return njit(cache=True, fastmath=False, nogil=True, inline="always")(fn)
