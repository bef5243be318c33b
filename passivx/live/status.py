"""What the user sees: log lines (file `logs/{exchange}/{config_name}.log` and the console) and the status
line, refreshed in place on a terminal and printed as a plain line every `PLAIN_EVERY` s otherwise.
Every handler masks the API key and secret."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from passivx.live.keys import SecretFilter

PLAIN_EVERY = 10.0
LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}
_FMT = "%(asctime)s %(levelname)s %(message)s"


class Console(logging.Handler):
    """Log lines on stdout; on a terminal each is printed above the status line, which is then redrawn."""

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.status = ""
        self.setFormatter(logging.Formatter(_FMT, "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            if self.tty:
                self.stream.write("\r\x1b[K" + line + "\n" + self.status)
            else:
                self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def show(self, status: str) -> None:
        """Redraw the status line in place (terminal only)."""
        self.status = status
        try:
            self.stream.write("\r\x1b[K" + status)
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def end(self) -> None:
        if self.tty and self.status:
            self.stream.write("\n")
            self.stream.flush()


def setup_logging(exchange: str, config_name: str, level: int, secrets: tuple[str, ...],
                  root: str | Path = "logs") -> tuple[logging.Logger, Console]:
    """The `passivx.live` logger with a file handler and a console handler, both masking `secrets`."""
    path = Path(root) / exchange / f"{config_name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("passivx.live")
    logger.setLevel(level)
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
    mask = SecretFilter(secrets)
    file = logging.FileHandler(path, encoding="utf-8")
    file.setFormatter(logging.Formatter(_FMT))
    console = Console()
    for h in (file, console):
        h.addFilter(mask)
        logger.addHandler(h)
    for name in ("websockets", "asyncio", "ccxt"):  # third-party chatter only when debugging
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    return logger, console


def status_line(s: dict) -> str:
    """One line: price, position and its price, balance, wallet exposure, open orders, last fill, connection."""
    pos = []
    if s["long_size"]:
        pos.append(f"long {s['long_size']:g}@{s['long_price']:g}")
    if s["short_size"]:
        pos.append(f"short {-s['short_size']:g}@{s['short_price']:g}")
    return (f"{s['symbol']} {s['price']:g} | pos {' '.join(pos) or 'flat'} | bal {s['balance']:.8g} {s['coin']} | "
            f"WE {s['we']:.3f} | orders {s['orders']} | last fill {s['last_fill'] or '-'} | {s['conn']}")
