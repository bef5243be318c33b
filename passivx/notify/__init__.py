"""Notifications through apprise (Telegram, Discord, Slack, e-mail, ntfy, JSON webhooks, ...).

Targets come from `notifications.json` in the current folder and from `PASSIVX_NOTIFY_URLS`
(comma-separated apprise URLs):

    {"urls": ["ntfy://my-topic",
              {"url": "tgram://BOT_TOKEN/CHAT_ID", "events": ["fills", "danger"]}],
     "batch_seconds": 60, "liquidation_distance": 0.05, "untrusted_seconds": 60}

Events: `start`, `stop`, `fills`, `errors`, `danger` (state untrusted for `untrusted_seconds`, a reconnect
storm, the liquidation distance below the threshold, a stop loss or auto-unstuck close filled) and
`summary` (the previous UTC day, sent at midnight UTC). A URL without `events` (and every URL of the
environment variable) gets all of them but `fills`. Fills and errors are batched: at most one message
per `batch_seconds` per target. `liquidation_distance` defaults to the instance's danger distance
(`docs/state-schema.md`).

- `config`: the targets and settings (one `error:` line for a bad file);
- `dispatch`: one worker thread per target, off the trading loop: sending never blocks the caller, each
  send has a timeout, a failing target is logged once (and once more when it works again);
- `watch`: turns the live engine's state, fills, log errors and stream changes into events.
"""
from passivx.notify.config import EVENTS, Settings, load_settings
from passivx.notify.dispatch import Dispatcher
from passivx.notify.watch import Watcher

__all__ = ["EVENTS", "Settings", "load_settings", "Dispatcher", "Watcher"]
