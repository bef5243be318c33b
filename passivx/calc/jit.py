"""The one JIT decorator of the calculator: numba `njit` with an on-disk cache and no fastmath,
so results are bit-identical with `NUMBA_DISABLE_JIT=1` (plain Python) and compiled code.

numba's cache does not notice when a jitted function's callees in *other* files change, so a cache
could run stale machine code after an upgrade or an edit. The cache therefore lives in a folder named
after a hash of every source file that holds jitted code or the constants it uses (`compiled_sources`,
and the numba/Python versions): any change to them starts a fresh cache. `PASSIVX_NUMBA_CACHE` moves it (default `~/.cache/passivx/numba`).
Each import marks the current folder as used; folders of other sources unused for `STALE_DAYS` are removed.
"""
import hashlib
import os
import re
import shutil
import sys
import time
from pathlib import Path

import numba
from numba import njit, types

_PACKAGE = Path(__file__).resolve().parent.parent


def compiled_sources(package: Path = _PACKAGE) -> list[Path]:
    """The files whose content can change compiled code: every module of calc/ (pure numba math and the
    layout constants it freezes in), and the modules of backtest/ that use this decorator plus its
    layout constants. Reports, stats and plots are left out: editing them keeps the cache."""
    files = sorted((package / "calc").glob("*.py"))
    for path in sorted((package / "backtest").glob("*.py")):
        if path.name == "layout.py" or "passivx.calc.jit import" in path.read_text(encoding="utf-8"):
            files.append(path)
    return files


def _source_hash(package: Path = _PACKAGE) -> str:
    h = hashlib.sha256(f"{numba.__version__} {sys.version}".encode())
    for path in compiled_sources(package):
        h.update(f"{path.parent.name}/{path.name}".encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    """Folder of the compiled-code cache for the current sources."""
    root = os.environ.get("PASSIVX_NUMBA_CACHE") or Path.home() / ".cache" / "passivx" / "numba"
    return Path(root) / _source_hash()


STALE_DAYS = 30
_HASH_NAME = re.compile(r"[0-9a-f]{16}")


def prune_stale(current: Path, days: float = STALE_DAYS) -> list[Path]:
    """Mark `current` as used now and remove its sibling cache folders (named like a source hash) unused
    for `days`: other versions of the sources, left behind by upgrades and edits. Returns those removed."""
    removed = []
    try:
        current.mkdir(parents=True, exist_ok=True)
        os.utime(current)
        cutoff = time.time() - days * 86_400
        for folder in current.parent.iterdir():
            if folder != current and _HASH_NAME.fullmatch(folder.name) and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
    except OSError:
        pass  # a read-only or shared cache root: numba falls back on its own, pruning can wait
    return removed


numba.config.CACHE_DIR = str(cache_dir())
prune_stale(Path(numba.config.CACHE_DIR))


def jit(fn):
    """Compile `fn` in nopython mode, caching the machine code (see the module docstring).

    Calls from other jitted code are typed without literal values: numba would otherwise compile one
    copy of a function per constant argument (`side` +1 and -1, a flag True and False), about doubling
    the first compile for no gain (a branch on `side` costs nothing at run time)."""
    dispatcher = njit(cache=True, fastmath=False, nogil=True)(fn)
    typed = getattr(dispatcher, "get_call_template", None)
    if typed is None:  # NUMBA_DISABLE_JIT=1: the plain function
        return dispatcher

    def get_call_template(args, kws):
        return typed(tuple(types.unliteral(a) for a in args), {k: types.unliteral(v) for k, v in kws.items()})

    dispatcher.get_call_template = get_call_template
    return dispatcher


def jit_inline(fn):
    """`jit` for small functions on a hot path: numba inlines them into each caller (no call, no reference
    counting of array arguments); they are compiled as part of their callers."""
    return njit(cache=True, fastmath=False, nogil=True, inline="always")(fn)
