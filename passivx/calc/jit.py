"""The one JIT decorator of the calculator: numba `njit` with an on-disk cache and no fastmath,
so results are bit-identical with `NUMBA_DISABLE_JIT=1` (plain Python) and compiled code."""
from numba import njit


def jit(fn):
    """Compile `fn` in nopython mode, caching the machine code next to the source."""
    return njit(cache=True, fastmath=False, nogil=True)(fn)
