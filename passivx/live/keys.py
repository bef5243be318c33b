"""API keys: `api_keys/{exchange}/{config_name}.json` holding `["KEY", "SECRET"]`, mode 0600, and a
logging filter that masks them wherever they would appear."""
from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

from passivx.errors import AuthError


def key_path(exchange: str, config_name: str, root: str | Path = "api_keys") -> Path:
    return Path(root) / exchange / f"{config_name}.json"


def load_keys(exchange: str, config_name: str, root: str | Path = "api_keys") -> tuple[str, str]:
    """(key, secret) of `config_name` on `exchange`; AuthError (one line, with the fix) when the file is
    missing, malformed, or readable by group or others."""
    path = key_path(exchange, config_name, root)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise AuthError(f"{path}: API key file not found; create it holding [\"KEY\", \"SECRET\"] and run "
                        f"`chmod 600 {path}`") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuthError(f"{path}: the key file can be read by others (mode {stat.S_IMODE(mode):04o}); "
                        f"run `chmod 600 {path}`")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = None
    if not (isinstance(data, list) and len(data) == 2 and all(isinstance(x, str) and x.strip() for x in data)):
        raise AuthError(f"{path}: expected a JSON list of two non-empty strings, [\"KEY\", \"SECRET\"]")
    return data[0].strip(), data[1].strip()


class SecretFilter(logging.Filter):
    """Replaces every occurrence of the given secrets in log records (message, arguments, traceback)."""

    def __init__(self, secrets: tuple[str, ...]):
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def mask(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        record.msg, record.args = self.mask(text), None
        return True
