"""Websocket streams (`websockets`): connect, send the adapter's subscribe messages, keep alive, hand each
message to a callback, and reconnect after a drop with exponential back-off and jitter. The owner is told
when a stream goes up or down (it resyncs over REST before trading again)."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Awaitable, Callable

from passivx.errors import PassivxError
from passivx.live.ratelimit import backoff

log = logging.getLogger("passivx.live")


async def run_stream(name: str, url: Callable[[], Awaitable[str]], subscribe: Callable[[], list[dict]],
                     on_message: Callable[[dict, float], None], on_state: Callable[[bool], None],
                     stop: asyncio.Event, ping: dict | None = None, ping_interval: float = 20.0) -> None:
    """Run one stream until `stop` is set. `on_message(msg, t_received)` gets every JSON object (a list
    message is split); it may raise to force a reconnect. `on_state(up)` follows the connection."""
    import websockets

    attempt = 0
    while not stop.is_set():
        up, since = False, time.monotonic()
        try:
            target = await url()
            async with websockets.connect(target, open_timeout=10, close_timeout=1, ping_interval=ping_interval,
                                          ping_timeout=ping_interval, max_size=2 ** 23) as ws:
                for m in subscribe():
                    await ws.send(json.dumps(m))
                tasks = [asyncio.create_task(_read(ws, on_message)), asyncio.create_task(stop.wait())]
                if ping:
                    tasks.append(asyncio.create_task(_ping(ws, ping, ping_interval)))
                log.info("%s stream connected", name)
                on_state(True)
                up = True
                try:
                    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for t in tasks:
                        t.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                for t in done:
                    t.result()  # a reader or pinger failure: reconnect
        except asyncio.CancelledError:
            raise
        except PassivxError as e:
            log.error("%s stream: %s", name, e)
        except Exception as e:  # noqa: BLE001 - any failure of a stream means: reconnect
            log.warning("%s stream lost: %s", name, " ".join(f"{type(e).__name__}: {e}".split())[:200])
        if up:
            on_state(False)
            if time.monotonic() - since > 5.0:  # a healthy session: reconnect quickly once
                attempt = 0
        if stop.is_set():
            return
        delay = backoff(attempt)
        attempt += 1
        log.info("%s stream: reconnecting in %.1f s", name, delay)
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except asyncio.TimeoutError:
            pass


async def _read(ws, on_message: Callable[[dict, float], None]) -> None:
    async for raw in ws:
        t = time.perf_counter()
        msg = json.loads(raw)
        for m in msg if isinstance(msg, list) else (msg,):
            on_message(m, t)
    raise ConnectionError(f"closed by the server (code {ws.close_code})")


async def _ping(ws, msg: dict, interval: float) -> None:
    text = json.dumps(msg)
    while True:
        await asyncio.sleep(interval)
        await ws.send(text)
