"""Rolling-window request counters for the simulator's optional enforcement of the documented rate limits."""
from __future__ import annotations

from collections import deque


class Windows:
    """Counts events per key in rolling windows; `hit` records one and says whether it stayed within `limit`."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, int], deque[int]] = {}

    def hit(self, key: str, limit: int, window_ms: int, now_ms: int, weight: int = 1) -> tuple[bool, int]:
        """Record `weight` events of `key` at `now_ms`; (within the limit, events now in the window).
        A refused hit is not recorded."""
        q = self._events.setdefault((key, window_ms), deque())
        while q and q[0] <= now_ms - window_ms:
            q.popleft()
        if len(q) + weight > limit:
            return False, len(q)
        q.extend([now_ms] * weight)
        return True, len(q)
