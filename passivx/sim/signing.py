"""HMAC-SHA256 signatures as both exchanges compute them."""
from __future__ import annotations

import hashlib
import hmac


def hmac_hex(secret: str, message: str) -> str:
    """Lower-case hex HMAC-SHA256 of `message` keyed with `secret`."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two signatures."""
    return hmac.compare_digest(a.encode(), b.encode())
