"""Terminal prompts: numbered menus, validated answers, explicit yes/no, hidden input.

Every prompt asks again, with a short reason, until the answer is valid. Ctrl-C and Ctrl-D raise
KeyboardInterrupt and EOFError, which `passivx.cli.menu.run()` turns into a clean exit from any screen."""
from __future__ import annotations

import getpass
import shlex
from pathlib import Path
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")
BACK = "<- Back"


class Invalid(ValueError):
    """A refused answer; its message is the reason shown before asking again."""


def say(text: str = "") -> None:
    print(text, flush=True)


def ask(prompt: str, parse: Callable[[str], T], hidden: bool = False) -> T:
    """Ask until `parse(answer.strip())` returns instead of raising Invalid; `hidden` echoes nothing."""
    while True:
        answer = getpass.getpass(f"  {prompt} ") if hidden else input(f"  {prompt} ")
        try:
            return parse(answer.strip())
        except Invalid as e:
            say(f"  {e}")


def not_empty(answer: str) -> str:
    if not answer:
        raise Invalid("cannot be empty")
    return answer


def choose(title: str, options: Sequence[str], back: str | None = BACK) -> int | None:
    """A numbered menu under `title`: the index of the chosen option, or None for `back`."""
    items = [*options, back] if back else list(options)
    say()
    say(f"  {title}")
    say("  " + "_" * 50)
    say()
    for i, text in enumerate(items, 1):
        say(f"  [{i}] {text}")
    say()

    def number(answer: str) -> int:
        if not (answer.isascii() and answer.isdigit() and 1 <= int(answer) <= len(items)):
            raise Invalid(f"enter a number from 1 to {len(items)}")
        return int(answer) - 1

    i = ask(">", number)
    return None if back and i == len(options) else i


def confirm(question: str) -> bool:
    """True only for an explicit `yes`; `no` (or `n`) is False; anything else asks again."""
    def yes_no(answer: str) -> bool:
        answer = answer.lower()
        if answer in ("yes", "no", "n"):
            return answer == "yes"
        raise Invalid("type yes or no")

    return ask(f"{question} (yes/no)", yes_no)


def pause() -> None:
    say()
    input("  Press Enter to return to the menu ")


def command(argv: Sequence[str]) -> None:
    """Show the passivx command an action equals, so users learn it."""
    say(f"command: passivx {shlex.join(argv)}")


def shell(*words: str | Path, then: str = "") -> None:
    """Show the shell command a settings action equals (`then`: a second command, unquoted)."""
    say(f"command: {shlex.join(str(w) for w in words)}{then}")
