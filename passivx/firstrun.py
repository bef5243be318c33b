"""The first run after an install or a calculator change compiles the jitted code (tens of seconds): say so
on one line before it starts, show a spinner with the elapsed time on a terminal while it runs, and let
Ctrl-C stop it at once (a Python handler would wait until the compiler returns to the interpreter)."""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

# what a command compiles: (numba cache index file of its top function, seconds on an idle 2-core machine
# with link-only callees; about twice as long without, see passivx.calc.jit)
CALCULATOR = ("entry.ideal_orders-*.nbi", 15)
BACKTEST = ("engine.replay-*.nbi", 25)


def needs_compile(marker: str) -> bool:
    """True when the compiled-code cache holds no machine code for `marker` (and the JIT is on)."""
    if os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"):
        return False
    from passivx.calc.jit import cache_dir

    return not any(cache_dir().glob(f"*/{marker}"))


def _spin(stop: threading.Event, started: float) -> None:
    frames = "|/-\\"
    k = 0
    while not stop.wait(0.25):
        sys.stderr.write(f"\r{frames[k % 4]} compiling... {time.monotonic() - started:4.0f} s")
        sys.stderr.flush()
        k += 1
    sys.stderr.write("\r" + " " * 40 + "\r")
    sys.stderr.flush()


@contextlib.contextmanager
def compiling(what: tuple[str, int]) -> Iterator[None]:
    """Around the first call of a jitted entry point: a notice and a spinner when it will compile."""
    marker, seconds = what
    if not needs_compile(marker):
        yield
        return
    from passivx.calc.jit import link_only_enabled

    seconds = seconds if link_only_enabled() else 2 * seconds
    sys.stderr.write(f"compiling the calculator, first run only, about {seconds} s "
                     f"(cached under {_cache_root()})\n")
    sys.stderr.flush()
    stop = threading.Event()
    spinner = threading.Thread(target=_spin, args=(stop, time.monotonic()), daemon=True)
    main = threading.current_thread() is threading.main_thread()
    # Ctrl-C kills the process outright (the default action, no Python handler that waits for the
    # compiler to return); numba writes each cache entry whole (temporary file and rename).
    previous = signal.signal(signal.SIGINT, signal.SIG_DFL) if main else None
    if sys.stderr.isatty():
        spinner.start()
    try:
        yield
    finally:
        stop.set()
        if spinner.is_alive():
            spinner.join()
        if main:
            signal.signal(signal.SIGINT, previous)


def _cache_root() -> str:
    from passivx.calc.jit import cache_dir

    return str(cache_dir().parent)


def precompile(what: tuple[str, int], dispatcher, *examples) -> None:
    """Compile (or load from the cache) `dispatcher` for the types of the `examples` arguments without
    calling it, with the first-run notice when it compiles. Nothing to do with NUMBA_DISABLE_JIT=1."""
    if not hasattr(dispatcher, "compile"):
        return
    import numba

    with compiling(what):
        dispatcher.compile(tuple(numba.typeof(x) for x in examples))
