"""Where the menu's files live (relative to the working directory, as for the commands) and how they are
written: names without spaces or path characters, atomic writes (temp file + rename)."""
from __future__ import annotations

from pathlib import Path

from passivx.cli.menu.prompts import Invalid
from passivx.data.atomic import write_bytes_atomic
from passivx.errors import PassivxError

EXCHANGES = ("binance", "bybit")
LIVE_DIR = Path("configs") / "live"
BACKTEST_DIR = Path("configs") / "backtest"
KEYS_DIR = Path("api_keys")


def check_name(name: str) -> str:
    """A file name for a key or config: letters, digits, `_`, `-`, `.`; not starting with `.`."""
    if not name:
        raise Invalid("cannot be empty")
    if any(c.isspace() for c in name):
        raise Invalid("no spaces allowed")
    if name.startswith(".") or not all(c.isalnum() or c in "_-." for c in name):
        raise Invalid("use letters, digits, '_', '-' and '.' only (no path characters)")
    return name


def listing(folder: Path, suffix: str) -> list[Path]:
    """The files `*suffix` in `folder`, sorted (none when it does not exist)."""
    return sorted(p for p in folder.glob(f"*{suffix}") if p.is_file()) if folder.is_dir() else []


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to `path` with permissions `mode`: a temp file in the same folder, then a rename, so the
    file is never seen half written. A new folder gets mode 0700 if `mode` has no group/other bits."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700 if not mode & 0o077 else 0o777)
        write_bytes_atomic(path, data, mode)
    except OSError as e:
        raise PassivxError(f"{path}: cannot write ({e.strerror or e})") from None


def delete(path: Path) -> None:
    try:
        path.unlink()
    except OSError as e:
        raise PassivxError(f"{path}: cannot delete ({e.strerror or e})") from None
