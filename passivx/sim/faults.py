"""Fault injection of the simulated exchange. Every method is safe to call from any thread."""
from __future__ import annotations

import threading
import time
from typing import Callable


class Faults:
    """Counters of pending faults; the server consumes them request by request."""

    def __init__(self, schedule: Callable[..., None]):
        self._lock = threading.Lock()
        self._pending: dict[str, int] = {}
        self._schedule = schedule  # runs the named fault action on the server's event loop
        self.delay_ms = 0
        self.apply_delay_ms = 15_000
        self.clock_skew_ms = 0
        self._muted_until = 0.0

    def _add(self, name: str, n: int) -> None:
        if n < 0:
            raise ValueError(f"{name}: n must be >= 0, got {n}")
        with self._lock:
            self._pending[name] = self._pending.get(name, 0) + int(n)

    def take(self, name: str) -> bool:
        """Consume one pending fault `name`; False when none is pending."""
        with self._lock:
            if self._pending.get(name, 0) <= 0:
                return False
            self._pending[name] -= 1
            return True

    def pending(self, name: str) -> int:
        with self._lock:
            return self._pending.get(name, 0)

    # ---- the contract ---------------------------------------------------------------------------------
    def drop_sockets(self, private: bool | None = None) -> None:
        """Close every websocket now (public and private; only private ones with private=True, only public
        ones with False); clients see close code 1001."""
        self._schedule("drop_sockets", private)

    def rate_limit(self, n: int = 1) -> None:
        """The next n REST requests answer the exchange's rate-limit error."""
        self._add("rate_limit", n)

    def server_error(self, n: int = 1) -> None:
        """The next n REST requests answer HTTP 503 with an HTML body, as the exchanges' gateways do."""
        self._add("server_error", n)

    def delay(self, ms: int, n: int = 1) -> None:
        """The next n REST requests are answered after `ms` milliseconds."""
        with self._lock:
            self.delay_ms = int(ms)
        self._add("delay", n)

    def timeout_after_apply(self, n: int = 1, ms: int = 15_000) -> None:
        """The next n order creates are applied, but answered only after `ms` (past ccxt's 10 s timeout)."""
        with self._lock:
            self.apply_delay_ms = int(ms)
        self._add("timeout_after_apply", n)

    def post_only_reject(self, n: int = 1) -> None:
        """The next n post-only creates are rejected as the exchange does (Binance -5022; Bybit: created,
        then cancelled with EC_PostOnlyWillTakeLiquidity on the order stream)."""
        self._add("post_only_reject", n)

    def insufficient_balance(self, n: int = 1) -> None:
        """The next n creates answer the exchange's insufficient-balance error (Bybit 110007, Binance -2019)."""
        self._add("insufficient_balance", n)

    # ---- extensions -----------------------------------------------------------------------------------
    def clock_skew(self, ms: int) -> None:
        """Shift the server's clock by `ms` (signed requests then fail their timestamp check)."""
        with self._lock:
            self.clock_skew_ms = int(ms)

    def mute_sockets(self, seconds: float) -> None:
        """For `seconds`, every websocket stays open but goes silent: pushes are dropped (lost, as in a
        stalled stream) and pings are not answered (Bybit op=ping and protocol PING frames), so clients'
        keep-alive and staleness checks must notice."""
        with self._lock:
            self._muted_until = time.monotonic() + float(seconds)

    def muted(self) -> bool:
        with self._lock:
            return time.monotonic() < self._muted_until

    def expire_listen_keys(self) -> None:
        """Binance: expire every listen key now (pushes `listenKeyExpired` and closes user-data sockets)."""
        self._schedule("expire_listen_keys")
