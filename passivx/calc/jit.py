"""The one JIT decorator of the calculator: numba `njit` with an on-disk cache and no fastmath,
so results are bit-identical with `NUMBA_DISABLE_JIT=1` (plain Python) and compiled code.

numba's cache does not notice when a jitted function's callees in *other* files change, so a cache
could run stale machine code after an upgrade or an edit. The cache therefore lives in a folder named
after a hash of every source file that holds jitted code or the constants it uses (`compiled_sources`,
and the numba/Python versions): any change to them starts a fresh cache. `PASSIVX_NUMBA_CACHE` moves it (default `~/.cache/passivx/numba`).
Each import marks the current folder as used; folders of other sources unused for `STALE_DAYS` are removed.

Compile time: numba compiles every jitted function into a library of its own (its callees' code linked in,
the whole module optimised and turned into machine code, Python and C wrappers) and caches it. The
calculator and the engine are call graphs of about 150 functions up to ten deep, so the same code was
optimised and turned into machine code again at every level: three quarters of a first backtest's compile.
`jit` therefore gives each function a second, link-only dispatcher that its jitted callers use: its library
holds the function's own code (optimised function by function) linked with its callees' and is never
optimised as a module, wrapped, cached nor turned into machine code. Only what Python calls (the engine's
`replay`, the calculator's `ideal_orders`, a few helpers) is compiled in full, by the dispatcher `jit`
returns, its whole call graph optimised in one module and cached; a function called both ways is compiled
once each way. That module is what a later process loads from the cache, so the code run is the same.
It is optimised in three rounds: numba's round at LLVM O1 (small callees inlined and their reference counts
pruned while the code is simple), then numba's own round twice. One round left replays about 8 % slower
than optimising every level, two about 1.5 % (a few reference-count pairs left, e.g. in the engine's
`_recompute`); with three they match (docs/benchmarks.md). These hooks use numba's codegen internals,
so they are on only for the numba versions they were tested with (`LINKED_NUMBA`) and when those internals
are present; otherwise, or with `PASSIVX_JIT_LINK=0`, every function is a plain cached `njit` (the same
results, the first compile about twice as long). tests/test_calc_jit.py checks both ways.
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
from numba.core import codegen, compiler

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


LINKED_NUMBA = ("0.68",)  # numba versions (major.minor) the link-only hooks were tested with


def link_only_enabled() -> bool:
    """Whether `jit` compiles callees link-only: a tested numba version whose internals are as expected,
    and not turned off with PASSIVX_JIT_LINK=0."""
    hooks = ("_optimize_final_module", "_finalize_final_module", "_finalize_dynamic_globals", "_ensure_finalized",
             "enable_object_caching", "get_pointer_to_function")
    return (os.environ.get("PASSIVX_JIT_LINK", "1") != "0"
            and ".".join(numba.__version__.split(".")[:2]) in LINKED_NUMBA
            and all(hasattr(codegen.JITCodeLibrary, name) for name in hooks)
            and hasattr(compiler.Compiler, "compile_extra"))


def _source_hash(package: Path = _PACKAGE) -> str:
    h = hashlib.sha256(f"{numba.__version__} {sys.version} linked={link_only_enabled()}".encode())
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


class _EntryLibrary(codegen.JITCodeLibrary):
    """A function called from Python: its whole call graph, linked from link-only libraries, optimised in three
    rounds (see the module docstring)."""

    def _optimize_final_module(self):
        opt = numba.config.OPT
        numba.config.OPT = 1  # the level numba's pass builder reads (under numba's compile lock)
        try:
            super()._optimize_final_module()
        finally:
            numba.config.OPT = opt
        super()._optimize_final_module()
        super()._optimize_final_module()


class _NoEnvCodegen:
    """The codegen of a link-only library: its environment pointer exists nowhere in the JIT engine, as in
    code loaded from the cache (a callee's copy in its caller never reads it)."""

    def __init__(self, inner):
        self._inner = inner

    def set_env(self, env_name, env) -> None:
        pass

    def __getattr__(self, name):
        return getattr(self._inner, name)


class _LinkOnlyLibrary(codegen.JITCodeLibrary):
    """A function compiled for its jitted callers only: its code is linked into theirs, never optimised as a
    module nor turned into machine code on its own."""

    def _optimize_final_module(self):
        pass

    def _finalize_final_module(self):
        self._finalize_dynamic_globals()
        self._finalized = True

    def get_pointer_to_function(self, name):
        self._ensure_finalized()
        return 0  # compiled without a Python wrapper: nothing to call from Python

    @property
    def codegen(self):
        return _NoEnvCodegen(self._codegen)


class _EntryPipeline(compiler.Compiler):
    """numba's pipeline, writing into a library of `library_class`."""

    library_class = _EntryLibrary

    def compile_extra(self, func):
        if self.state.library is None:
            self.state.library = self.library_class(self.state.targetctx.codegen(), func.__qualname__)
            self.state.library.enable_object_caching()
        return super().compile_extra(func)


class _LinkOnlyPipeline(_EntryPipeline):
    library_class = _LinkOnlyLibrary


_LINK_ONLY = link_only_enabled()


def _unliteral(args: tuple, kws: dict) -> tuple[tuple, dict]:
    return tuple(types.unliteral(a) for a in args), {k: types.unliteral(v) for k, v in kws.items()}


def jit(fn):
    """Compile `fn` in nopython mode, caching the machine code, and link-only for jitted callers (see the
    module docstring).

    Calls from other jitted code are typed without literal values: numba would otherwise compile one
    copy of a function per constant argument (`side` +1 and -1, a flag True and False), about doubling
    the first compile for no gain (a branch on `side` costs nothing at run time)."""
    dispatcher = njit(cache=True, fastmath=False, nogil=True,
                      **({"pipeline_class": _EntryPipeline} if _LINK_ONLY else {}))(fn)
    if not hasattr(dispatcher, "get_call_template"):  # NUMBA_DISABLE_JIT=1: the plain function
        return dispatcher
    if not _LINK_ONLY:
        typed = dispatcher.get_call_template
        dispatcher.get_call_template = lambda args, kws: typed(*_unliteral(args, kws))
        return dispatcher

    def link_only():
        """The link-only twin (`dispatcher.linked`), made at the first call from jitted code: a process that
        loads its code from the cache never needs one."""
        twin = getattr(dispatcher, "linked", None)
        if twin is None:
            twin = dispatcher.linked = njit(fastmath=False, no_cpython_wrapper=True, no_cfunc_wrapper=True,
                                            pipeline_class=_LinkOnlyPipeline)(fn)
        return twin

    dispatcher.get_call_template = lambda args, kws: link_only().get_call_template(*_unliteral(args, kws))
    dispatcher.get_overload = lambda args: link_only().get_overload(args)  # the code jitted callers link
    return dispatcher


def jit_inline(fn):
    """`jit` for small functions on a hot path: numba inlines them into each caller (no call, no reference
    counting of array arguments); they are compiled as part of their callers."""
    return njit(cache=True, fastmath=False, nogil=True, inline="always")(fn)
