"""The menu as a user drives it: `python3 main.py` without arguments in a pseudo-terminal (pexpect), in a
work folder of its own. `transcript` is everything the terminal showed (what the program wrote and the
echo of what was typed), for checking that no secret ever appeared."""
from __future__ import annotations

import io
import os
import re
import shutil
import sys
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "main.py"
PROMPT = "  > "


def work_dir(tmp_path: Path) -> Path:
    """A work folder holding a copy of the shipped configs (live and backtest)."""
    work = tmp_path / "work"
    shutil.copytree(ROOT / "configs", work / "configs")
    return work


class Menu:
    def __init__(self, work: Path, env: dict | None = None, timeout: float = 30):
        self.work = work
        self.out = io.StringIO()
        self.child = pexpect.spawn(sys.executable, [str(MAIN)], cwd=str(work), encoding="utf-8", timeout=timeout,
                                   env={**os.environ, "NUMBA_DISABLE_JIT": "1", **(env or {})},
                                   dimensions=(60, 200))
        self.child.logfile_read = self.out
        self.options: list[tuple[str, str]] = []  # (number, text) of the menu last shown

    @property
    def transcript(self) -> str:
        return self.out.getvalue()

    def expect(self, text: str, timeout: float | None = -1) -> str:
        """Wait for `text`; what came before it (a menu shown there becomes `options`)."""
        self.child.expect_exact(text, timeout=timeout)
        self.options = re.findall(r"\[(\d+)\] ([^\r\n]*)", self.child.before) or self.options
        return self.child.before

    def select(self, label: str) -> None:
        """Choose the numbered option whose text starts with `label` in the menu shown last."""
        shown = self.expect(PROMPT)
        found = [n for n, text in self.options if text.startswith(label)]
        assert found, f"no option {label!r} in {self.options}:\n{shown}"
        self.child.sendline(found[0])

    def labels(self) -> list[str]:
        """The options of the menu shown next (it waits for its prompt and answers nothing)."""
        self.expect(PROMPT)
        self.child.sendline("0")  # refused: the same menu asks again
        self.expect("enter a number")
        return [text for _, text in self.options]

    def answer(self, prompt: str, text: str) -> None:
        self.expect(prompt)
        self.child.sendline(text)

    def refused(self, prompt: str, text: str, reason: str) -> None:
        """Answer `text` at `prompt` and see `reason` (the prompt is asked again)."""
        self.answer(prompt, text)
        self.expect(reason)

    def enter(self) -> str:
        """Press Enter at the "Press Enter" prompt; what the screen showed before it."""
        shown = self.expect("Press Enter to return to the menu")
        self.child.sendline("")
        return shown

    def visit(self, *labels: str) -> str:
        """Select `labels` in turn, then press Enter at the screen reached; what it showed."""
        for label in labels:
            self.select(label)
        return self.enter()

    def finish(self, timeout: float = 30) -> int:
        """Wait for the program to end; its exit code. Never a traceback."""
        self.child.expect(pexpect.EOF, timeout=timeout)
        self.child.close()
        assert "Traceback" not in self.transcript, self.transcript[-3000:]
        return self.child.exitstatus

    def exit(self) -> None:
        self.select("Exit")
        assert self.finish() == 0

    def kill(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)

    def __enter__(self) -> "Menu":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()
