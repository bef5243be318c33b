"""Settings: API keys (add, view masked, delete) and live / backtest configurations (list, view, import
with validation, validate, delete). Every change asks before overwriting or deleting."""
from __future__ import annotations

from pathlib import Path

from passivx.cli.menu import keys
from passivx.cli.menu.configs import (BACKTEST, LIVE, Kind, exchange_of, import_file, key_status, label, live_configs,
                                      load_live)
from passivx.cli.menu.files import EXCHANGES, KEYS_DIR, LIVE_DIR, check_name, delete
from passivx.cli.menu.prompts import Invalid, ask, choose, confirm, not_empty, pause, say, shell
from passivx.errors import PassivxError


def settings_screen() -> None:
    while True:
        i = choose("What settings would you like to adjust?",
                   ["API Keys (Users)", "Live Configurations", "Backtesting Configurations"])
        if i is None:
            return
        try:
            (keys_screen, lambda: configs_screen(LIVE), lambda: configs_screen(BACKTEST))[i]()
        except PassivxError as e:
            say(f"error: {e}")
            pause()


def keys_screen() -> None:
    while True:
        i = choose("API Keys", ["Add API Key", "View Keys", "Delete API Key"])
        if i is None:
            return
        (add_key, view_keys, delete_key)[i]()


def pick_exchange() -> str | None:
    i = choose("Which exchange?", list(EXCHANGES))
    return None if i is None else EXCHANGES[i]


def key_name(answer: str) -> str:
    return check_name(answer[:-5] if answer.endswith(".json") else answer)


def key_source(answer: str) -> tuple[str, str]:
    try:
        return keys.read_pair(Path(not_empty(answer)).expanduser())
    except PassivxError as e:
        raise Invalid(str(e)) from None


def add_key() -> None:
    exchange = pick_exchange()
    if exchange is None:
        return
    lacking = [cfg.config_name for _, cfg, has in live_configs(exchange)[0] if not has]
    say(f"  Name the key file after its live config (api_keys/{exchange}/NAME.json is the key of config NAME)")
    if lacking:
        say(f"  configs on {exchange} without a key file: {', '.join(lacking)}")
    name = ask("Name:", key_name)
    dest = keys.path(exchange, name)
    if dest.exists() and not confirm(f"{dest} exists. Overwrite it?"):
        say("kept as it is")
        return
    how = choose("Key and secret", ["Type them (hidden input)", "Import from a JSON file holding [\"KEY\", \"SECRET\"]"])
    if how is None:
        return
    if how == 0:
        key = ask("API key (hidden):", not_empty, hidden=True)
        secret = ask("API secret (hidden):", not_empty, hidden=True)
    else:
        key, secret = ask("Path of the JSON file:", key_source)
    keys.write(exchange, name, key, secret)
    say(f"wrote {dest} (mode 0600): {keys.masked(exchange, name)}")
    if how == 1:
        say("  the imported file still holds the secret: delete it if you no longer need it")
    shell("printf", '["KEY", "SECRET"]', then=f" > {dest} && chmod 600 {dest}")
    pause()


def view_keys() -> None:
    say()
    found = False
    for exchange in EXCHANGES:
        for name in keys.names(exchange):
            found = True
            config = "config found" if (LIVE_DIR / exchange / f"{name}.json").is_file() else "no config of that name"
            say(f"  {exchange:8} {name}: {keys.masked(exchange, name)} ({config})")
    if not found:
        say("  no API key files yet: add one with Add API Key")
    say(f"command: ls {KEYS_DIR}/*/")
    pause()


def delete_key() -> None:
    pairs = [(ex, name) for ex in EXCHANGES for name in keys.names(ex)]
    if not pairs:
        say("  no API key files to delete")
        pause()
        return
    i = choose("Delete which API key file?", [f"{ex}/{name}" for ex, name in pairs])
    if i is None:
        return
    delete_asked(keys.path(*pairs[i]))


def delete_asked(path: Path) -> None:
    """Delete `path` if the user confirms it (showing the equivalent command), else keep it."""
    if confirm(f"Delete {path}?"):
        delete(path)
        say(f"deleted {path}")
        shell("rm", path)
    else:
        say("kept")
    pause()


def configs_screen(kind: Kind) -> None:
    while True:
        i = choose(kind.title, ["List", "View", "Import from a file", "Validate", "Delete"])
        if i is None:
            return
        (list_configs, view_config, import_config, validate_config, delete_config)[i](kind)


def _status(kind: Kind, path: Path) -> tuple[bool, str]:
    """(valid, its summary or the validator's message)."""
    try:
        text = kind.check(path)
    except PassivxError as e:
        return False, str(e)
    if kind.live and not key_status(exchange_of(path), load_live(path)):
        text += " (no API key file)"
    return True, text


def list_configs(kind: Kind) -> None:
    say()
    files = kind.files()
    for path in files:
        ok, text = _status(kind, path)
        say(f"  {label(path)}: {text if ok else 'NOT VALID: ' + text}")
    if not files:
        say("  none yet: import one with Import from a file")
    say(f"command: ls {kind.folder}")
    pause()


def _pick(kind: Kind, verb: str) -> Path | None:
    files = kind.files()
    if not files:
        say(f"  no {kind.title.lower()} yet")
        pause()
        return None
    i = choose(f"{verb} which file?", [label(p) for p in files])
    return None if i is None else files[i]


def view_config(kind: Kind) -> None:
    path = _pick(kind, "View")
    if path is None:
        return
    say()
    say(path.read_text(encoding="utf-8", errors="replace").rstrip())
    shell("cat", path)
    pause()


def validate_config(kind: Kind) -> None:
    path = _pick(kind, "Validate")
    if path is None:
        return
    ok, text = _status(kind, path)
    say(f"ok: {text}" if ok else f"error: {text}")
    pause()


def source_file(answer: str) -> Path:
    path = Path(not_empty(answer)).expanduser()
    if not path.is_file():
        raise Invalid(f"{path}: no such file")
    return path


def import_config(kind: Kind) -> None:
    exchange = pick_exchange() if kind.live else None
    if kind.live and exchange is None:
        return
    source = ask(f"Path of the {kind.suffix} file to import:", source_file)
    try:
        summary = kind.check(source)
        dest = kind.destination(source, exchange)
    except PassivxError as e:
        say(f"refused: {e}")
        pause()
        return
    if dest.exists() and dest.resolve() == source.resolve():
        say(f"{dest} is already in place: {summary}")
        pause()
        return
    if dest.exists() and not confirm(f"{dest} exists. Overwrite it?"):
        say("kept as it is")
        pause()
        return
    import_file(source, dest)
    say(f"imported {dest}: {summary}")
    if kind.live and not keys.path(exchange, dest.stem).is_file():
        say(f"  it has no API key file yet: add {keys.path(exchange, dest.stem)} in Settings -> API Keys")
    shell("cp", source, dest)
    pause()


def delete_config(kind: Kind) -> None:
    path = _pick(kind, "Delete")
    if path is not None:
        delete_asked(path)
