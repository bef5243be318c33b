"""Notification targets and settings: `notifications.json` and `PASSIVX_NOTIFY_URLS` (see the package doc).
A target's URL holds its credentials: it is never printed; `Target.label` is the masked form."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from passivx.errors import ConfigError

EVENTS = ("start", "stop", "fills", "errors", "danger", "summary")
DEFAULT_EVENTS = frozenset(EVENTS) - {"fills"}
ENV = "PASSIVX_NOTIFY_URLS"
FILE = "notifications.json"
_KEYS = {"urls", "batch_seconds", "liquidation_distance", "untrusted_seconds"}


@dataclass(frozen=True)
class Target:
    url: str = field(repr=False)
    events: frozenset[str]
    label: str  # scheme, host and path with apprise's secrets masked


@dataclass(frozen=True)
class Settings:
    targets: tuple[Target, ...] = ()
    batch_seconds: float = 60.0
    liquidation_distance: float | None = None  # None: the instance's danger distance
    untrusted_seconds: float = 60.0


def load_settings(path: str | Path = FILE, env: dict | None = None) -> Settings:
    """The settings of `path` (when it exists) plus the URLs of `PASSIVX_NOTIFY_URLS`."""
    env = os.environ if env is None else env
    path = Path(path)
    data: dict = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"{path}: not valid JSON ({e})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected an object with a \"urls\" list")
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise ConfigError(f"{path}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_KEYS))})")
    urls = data.get("urls", [])
    if not isinstance(urls, list):
        raise ConfigError(f"{path}: urls must be a list of apprise URLs or {{\"url\", \"events\"}} objects")
    targets = [_target(item, f"{path}: urls[{i}]") for i, item in enumerate(urls)]
    targets += [_target(u.strip(), ENV) for u in env.get(ENV, "").split(",") if u.strip()]
    return Settings(tuple(targets), _number(data, "batch_seconds", 60.0, path),
                    _number(data, "liquidation_distance", None, path, hi=1.0),
                    _number(data, "untrusted_seconds", 60.0, path))


def _target(item, where: str) -> Target:
    events = DEFAULT_EVENTS
    if isinstance(item, dict):
        extra = sorted(set(item) - {"url", "events"})
        if extra or not isinstance(item.get("url"), str):
            raise ConfigError(f"{where}: expected {{\"url\": \"...\", \"events\": [...]}}"
                              + (f", not key {extra[0]!r}" if extra else ""))
        if "events" in item:
            ev = item["events"]
            if not isinstance(ev, list) or not ev or any(e not in EVENTS for e in ev):
                raise ConfigError(f"{where}: events must be a non-empty list of {', '.join(EVENTS)}; got {ev!r}")
            events = frozenset(ev)
        item = item["url"]
    if not isinstance(item, str):
        raise ConfigError(f"{where}: expected an apprise URL string")
    import apprise

    plugin = apprise.Apprise.instantiate(item)
    if plugin is None:
        scheme = item.split("://", 1)[0] if "://" in item else "(none)"
        raise ConfigError(f"{where}: apprise cannot use this URL (scheme {scheme!r}); see the apprise wiki for "
                          f"the URL of each service")
    return Target(item, events, plugin.url(privacy=True).split("?", 1)[0])


def _number(data: dict, key: str, default, path: Path, hi: float | None = None):
    value = data.get(key, default)
    if value is default:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or (hi is not None and value >= hi):
        bound = f"between 0 and {hi}" if hi else "> 0"
        raise ConfigError(f"{path}: {key} must be a number {bound}, got {value!r}")
    return float(value)
