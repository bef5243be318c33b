"""A token bucket for order requests, with a back-off the exchange's rate-limit answers trigger."""
from __future__ import annotations

import asyncio
import random
import time


class RateLimiter:
    """`rate` requests per second on average, bursts of up to `burst`. `penalize()` (after a rate-limit
    answer) blocks every request for an exponentially growing, jittered pause; `ok()` resets it."""

    def __init__(self, rate: float, burst: int, base_pause: float = 1.0, max_pause: float = 60.0,
                 clock=time.monotonic):
        self.rate, self.burst = float(rate), float(burst)
        self.tokens = float(burst)
        self.clock = clock
        self.stamp = clock()
        self.blocked_until = 0.0
        self.base_pause, self.max_pause = base_pause, max_pause
        self.strikes = 0

    def _refill(self) -> float:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return now

    def wait_time(self) -> float:
        """Seconds until a request may go (0 if now)."""
        now = self._refill()
        return max(self.blocked_until - now, (1.0 - self.tokens) / self.rate if self.tokens < 1.0 else 0.0, 0.0)

    async def acquire(self) -> None:
        """Wait for a token and take it."""
        while (delay := self.wait_time()) > 0.0:
            await asyncio.sleep(delay)
        self.tokens -= 1.0

    def penalize(self) -> float:
        """Pause every request for base * 2^strikes seconds (capped, with +-25 % jitter); returns it."""
        pause = min(self.max_pause, self.base_pause * 2 ** self.strikes) * random.uniform(0.75, 1.25)
        self.strikes += 1
        self.blocked_until = max(self.blocked_until, self.clock() + pause)
        self.tokens = 0.0
        return pause

    def ok(self) -> None:
        """A request went through: the next penalty starts from the base again."""
        self.strikes = 0


def backoff(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential back-off with full jitter for reconnects: uniform in [d/2, d], d = min(cap, base * 2^attempt)."""
    d = min(cap, base * 2 ** attempt)
    return random.uniform(d / 2, d)
