"""Declarative field specs for config files: each key's type, range or choices, and one-line errors.

A spec is a mapping `key -> Field`; `check_object(data, spec, source)` validates a parsed file against it
and returns the validated copy (nested objects included), or raises `ConfigError` with one line such as
`live.json: key 'grid_spacing': must be a number > 0 and < 1, got 'abc'`. The first problem found is
reported: unknown keys first, then each spec key in order (missing, wrong type, out of range).
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from passivx.errors import ConfigError

_REQUIRED = object()


@dataclass(frozen=True)
class Field:
    """One config key. `kind`: "number", "int", "bool", "str", "object" (with `fields`) or "custom".

    Numbers: `lo`/`hi` bounds (None = unbounded), exclusive when `lo_open`/`hi_open`. Strings: `choices`
    (empty = any non-empty string). `default`: value used when the key is absent (absent = required).
    `check`: extra test `value -> value` raising ValueError("must be ..., got ...") after the kind's own
    test (the only test of kind "custom", described by `describe`, e.g. "a [min, max] pair")."""

    kind: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[str, ...] = ()
    fields: Mapping[str, Field] | None = None
    default: Any = _REQUIRED
    check: Callable[[Any], Any] | None = None
    describe: str = ""

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    @property
    def integer(self) -> bool:
        return self.kind == "int"

    def allowed(self) -> str:
        """What the key accepts, as a phrase: 'a number > 0 and <= 1', 'true or false', ..."""
        if self.describe:
            return self.describe
        if self.kind == "bool":
            return "true or false"
        if self.kind == "object":
            return "an object {...}"
        if self.kind == "str":
            if self.choices:
                return "one of " + ", ".join(repr(c) for c in self.choices)
            return "a non-empty string"
        noun = "an integer" if self.kind == "int" else "a number"
        if self.lo is not None and self.hi is not None and not self.lo_open and not self.hi_open:
            return f"{noun} between {_fmt(self.lo)} and {_fmt(self.hi)}"
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {_fmt(self.lo)}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '<='} {_fmt(self.hi)}")
        return f"{noun} {' and '.join(parts)}" if parts else noun

    def contains(self, value: float) -> bool:
        """Whether a number lies in the valid range."""
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            return False
        return not (self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi)))

    def validate(self, value: Any) -> Any:
        """The validated value; raises ValueError('must be ..., got ...') when it is not allowed."""
        if self.kind == "bool":
            ok = isinstance(value, bool)
        elif self.kind == "str":
            ok = isinstance(value, str) and value.strip() != "" and (not self.choices or value in self.choices)
        elif self.kind in ("number", "int"):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if ok and self.kind == "int":
                ok = float(value).is_integer()
                value = int(value) if ok else value
            ok = ok and self.contains(value)
        else:
            ok = self.kind == "custom" or isinstance(value, dict)
        if not ok:
            raise ValueError(f"must be {self.allowed()}, got {show(value)}")
        return self.check(value) if self.check is not None else value


def number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False,
           default: Any = _REQUIRED) -> Field:
    """A finite number (int or float, not bool) in [lo, hi] (ends exclusive when *_open)."""
    return Field("number", lo, hi, lo_open, hi_open, default=default)


def integer(lo: int | None = None, hi: int | None = None, *, default: Any = _REQUIRED) -> Field:
    """A whole number in [lo, hi] (20 and 20.0 are both accepted, stored as int)."""
    return Field("int", lo, hi, default=default)


def boolean(*, default: Any = _REQUIRED) -> Field:
    """true or false."""
    return Field("bool", default=default)


def string(*choices: str, default: Any = _REQUIRED) -> Field:
    """A non-empty string, one of `choices` if given."""
    return Field("str", choices=tuple(choices), default=default)


def obj(fields: Mapping[str, Field]) -> Field:
    """A nested object validated against `fields`."""
    return Field("object", fields=fields)


def show(value: Any) -> str:
    """A value as an error message shows it: 'abc', 1.5, true, null, [1, 2]."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        text = json.dumps(value, default=str)
        return text if len(text) <= 60 else text[:57] + "..."
    return repr(value)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def check_object(data: Any, spec: Mapping[str, Field], source: str, path: str = "",
                 unknown_hint: Callable[[str], str | None] | None = None) -> dict:
    """Validate `data` against `spec`; return the validated dict (defaults filled in).

    `path` prefixes key names in messages (`long.` -> `key 'long.ddown_factor'`); `unknown_hint(key_path)`
    may explain an unknown key (e.g. which mode it belongs to)."""
    if not isinstance(data, dict):
        where = f"key '{path.rstrip('.')}'" if path else "the file"
        raise ConfigError(f"{source}: {where} must be a JSON object, got {show(data)}")
    for key in data:
        if key not in spec:
            key_path = f"{path}{key}"
            hint = unknown_hint(key_path) if unknown_hint else None
            raise ConfigError(f"{source}: unknown key '{key_path}'; "
                              + (hint or "allowed: " + ", ".join(spec)))
    out = {}
    for key, field in spec.items():
        key_path = f"{path}{key}"
        if key not in data:
            if field.required:
                raise ConfigError(f"{source}: missing key '{key_path}' ({field.allowed()})")
            out[key] = field.default
            continue
        value = data[key]
        if field.kind == "object" and isinstance(value, dict):
            out[key] = check_object(value, field.fields or {}, source, f"{key_path}.", unknown_hint)
            continue
        try:
            out[key] = field.validate(value)
        except ValueError as e:
            raise ConfigError(f"{source}: key '{key_path}': {e}") from None
    return out


def read_config_file(path: str | Path, loads: Callable[[str], Any] = json.loads, fmt: str = "JSON") -> dict:
    """Read and parse a config file with `loads`; every failure is a one-line ConfigError naming the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a directory, expected a {fmt} file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not a text file (byte {e.start} is not UTF-8 text); expected a {fmt} file") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read ({e.strerror or e})") from None
    if "\x00" in text:
        raise ConfigError(f"{p}: not a text file (it holds NUL bytes); expected a {fmt} file")
    try:
        data = loads(text)
    except (ValueError, RecursionError) as e:  # json and hjson decode errors are ValueErrors
        msg = " ".join(str(e).split())
        raise ConfigError(f"{p}: not valid {fmt} ({msg})") from None
    except OverflowError:  # hjson on a number too large for a float, e.g. 1e999
        raise ConfigError(f"{p}: not valid {fmt} (a number is too large)") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a {fmt} object {{...}} at the top level, got {type(data).__name__}")
    return data
