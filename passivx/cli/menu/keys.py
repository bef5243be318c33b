"""API key files as the menu manages them: `api_keys/{exchange}/{name}.json` holding `["KEY", "SECRET"]`,
mode 0600 (the format `passivx.live.keys.load_keys` reads). Nothing here returns a secret for display:
`masked` keeps the first 4 characters of the key only."""
from __future__ import annotations

import json
from pathlib import Path

from passivx.cli.menu.files import KEYS_DIR, listing, write_atomic
from passivx.errors import AuthError
from passivx.live.keys import key_path, load_keys

SHOWN = 4  # characters of a key shown in the masked view


def path(exchange: str, name: str) -> Path:
    return key_path(exchange, name, KEYS_DIR)


def names(exchange: str) -> list[str]:
    return [p.stem for p in listing(KEYS_DIR / exchange, ".json")]


def masked(exchange: str, name: str) -> str:
    """`key ABCD****, secret ****`, or what is wrong with the file (never its content)."""
    try:
        key, _ = load_keys(exchange, name, KEYS_DIR)
    except AuthError as e:
        return f"unusable: {e}"
    return f"key {key[:SHOWN]}****, secret ****"


def read_pair(source: Path) -> tuple[str, str]:
    """The (key, secret) of a JSON file holding `["KEY", "SECRET"]`; AuthError without its content."""
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AuthError(f"{source}: file not found") from None
    except (OSError, ValueError):
        data = None
    if not (isinstance(data, list) and len(data) == 2 and all(isinstance(x, str) and x.strip() for x in data)):
        raise AuthError(f"{source}: expected a JSON file holding a list of two non-empty strings, "
                        f"[\"KEY\", \"SECRET\"]")
    return data[0].strip(), data[1].strip()


def write(exchange: str, name: str, key: str, secret: str) -> Path:
    """Write the key file atomically with mode 0600; returns its path."""
    p = path(exchange, name)
    write_atomic(p, json.dumps([key, secret]).encode(), 0o600)
    return p
