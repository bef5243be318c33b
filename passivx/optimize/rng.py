"""`Pcg64(entropy)`: numpy's `default_rng(entropy).random()` stream in plain Python.

A candidate draws about seven numbers from its own generator. Right after a replay has flushed the CPU
caches, building numpy's (SeedSequence, PCG64, Generator) and drawing them took 155-180 us, this Python
version 45-65 us (warm: 23 and 23 us). It reproduces numpy exactly (tests compare them): SeedSequence's
entropy pool (4 words, no spawn key) and `generate_state(4, uint64)`, PCG64's `set_seed` and XSL-RR
output, and `random()` = the top 53 bits of a 64-bit output times 2**-53.
"""
from __future__ import annotations

from collections.abc import Sequence

_M32, _M64, _M128 = (1 << 32) - 1, (1 << 64) - 1, (1 << 128) - 1
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_POOL = 4
_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645


def _words(entropy: Sequence[int]) -> list[int]:
    """SeedSequence's entropy words: each int as little-endian 32-bit words (0 as one word)."""
    out = []
    for x in entropy:
        x = int(x)
        if x < 0:
            raise ValueError("expected non-negative integer")
        out.append(x & _M32)
        x >>= 32
        while x:
            out.append(x & _M32)
            x >>= 32
    return out


def _pool(words: list[int]) -> list[int]:
    """SeedSequence's mixed entropy pool."""
    h = _INIT_A

    def hashmix(value: int) -> int:
        nonlocal h
        value ^= h
        h = (h * _MULT_A) & _M32
        value = (value * h) & _M32
        return value ^ (value >> 16)

    def mix(x: int, y: int) -> int:
        r = (_MIX_L * x - _MIX_R * y) & _M32
        return r ^ (r >> 16)

    pool = [hashmix(words[i] if i < len(words) else 0) for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    for w in words[_POOL:]:
        for dst in range(_POOL):
            pool[dst] = mix(pool[dst], hashmix(w))
    return pool


def _state(pool: list[int]) -> list[int]:
    """`generate_state(4, uint64)` of the pool."""
    h, out = _INIT_B, []
    for i in range(8):
        v = pool[i % _POOL] ^ h
        h = (h * _MULT_B) & _M32
        v = (v * h) & _M32
        out.append(v ^ (v >> 16))
    return [out[2 * i] | out[2 * i + 1] << 32 for i in range(4)]


class Pcg64:
    """The uniform [0, 1) draws of `numpy.random.default_rng(entropy)` (non-negative ints)."""

    __slots__ = ("_s", "_inc")

    def __init__(self, entropy: Sequence[int]) -> None:
        s0, s1, i0, i1 = _state(_pool(_words(entropy)))
        self._inc = (((i0 << 64) | i1) << 1 | 1) & _M128
        self._s = 0
        self._step()
        self._s = (self._s + ((s0 << 64) | s1)) & _M128
        self._step()

    def _step(self) -> None:
        self._s = (self._s * _PCG_MULT + self._inc) & _M128

    def random(self) -> float:
        """The next float in [0, 1), as `Generator.random()`."""
        self._step()
        s = self._s
        x, rot = ((s >> 64) ^ s) & _M64, s >> 122
        x = ((x >> rot) | (x << (64 - rot))) & _M64
        return (x >> 11) * (1.0 / 9007199254740992.0)
