"""Watching running bots: `passivx status` (terminal) and `passivx monitor` (a local web page, JSON and
Prometheus metrics), both reading the state files the bots write (`passivx.live.statefile`,
`docs/state-schema.md`).

- `instances`: read the state files, status by heartbeat, dangers, history and log tail;
- `metrics`: the `passivx_*` Prometheus metrics (prometheus_client);
- `server`: the aiohttp app (read-only, token rules), the page in `static/`.
"""
