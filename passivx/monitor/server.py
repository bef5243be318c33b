"""The monitor's web server (aiohttp): the page, `/api/instances[/{exchange}/{instance}]` and `/metrics`.

Read-only: GET (and HEAD) only; it reads the state files, the bots' history files and the tail of their
logs (masked by the bots), never a key file. With a token every request needs it: `Authorization: Bearer
TOKEN`, or the cookie set after one `?token=TOKEN` (the page then redirects to its address without the
token); anything else gets 401. Binding to an address other than loopback requires a token.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
from pathlib import Path

from aiohttp import web

from passivx.errors import ConfigError
from passivx.monitor import instances as I

COOKIE = "passivx_monitor"
MIN_TOKEN = 16
STATIC = Path(__file__).with_name("static")
_SECURITY = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
             "X-Frame-Options": "DENY",
             "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                                        "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'"}
ROOT_KEY = web.AppKey("root", Path)
REGISTRY_KEY = web.AppKey("registry", object)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse a non-loopback address without a token, and a short token (ConfigError)."""
    if token and len(token) < MIN_TOKEN:
        raise ConfigError(f"the monitor token must have at least {MIN_TOKEN} characters; make one with "
                          f"python3 -c 'import secrets; print(secrets.token_urlsafe())'")
    if not token and not is_loopback(host):
        raise ConfigError(f"--host {host} makes the monitor reachable from other machines: set a token with "
                          f"--token or PASSIVX_MONITOR_TOKEN (every request must then carry it)")


def make_app(root: str | Path, token: str | None) -> web.Application:
    from passivx.monitor.metrics import registry

    app = web.Application(middlewares=[_auth(token)] if token else [])
    app[ROOT_KEY] = Path(root)
    app[REGISTRY_KEY] = registry(root)
    app.on_response_prepare.append(_headers)
    app.router.add_get("/", _page)
    app.router.add_get("/app.js", _static("app.js", "text/javascript"))
    app.router.add_get("/style.css", _static("style.css", "text/css"))
    app.router.add_get("/api/instances", _list)
    app.router.add_get("/api/instances/{exchange}/{instance}", _detail)
    app.router.add_get("/metrics", _metrics)
    return app


def _auth(token: str):
    cookie = hmac.new(token.encode(), b"passivx-monitor-cookie", hashlib.sha256).hexdigest()

    @web.middleware
    async def auth(request: web.Request, handler):
        given = request.query.get("token")
        if given is not None and hmac.compare_digest(given.encode(), token.encode()):
            if request.path == "/":  # a browser: keep the token out of the address bar and history
                rest = {k: v for k, v in request.query.items() if k != "token"}
                response = web.Response(status=302, headers={"Location": str(request.rel_url.with_query(rest))})
            else:
                response = await handler(request)
            response.set_cookie(COOKIE, cookie, httponly=True, samesite="Strict", path="/")
            return response
        header = request.headers.get("Authorization", "")
        bearer = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if (bearer and hmac.compare_digest(bearer.encode(), token.encode())) or \
                hmac.compare_digest(request.cookies.get(COOKIE, "").encode(), cookie.encode()):
            return await handler(request)
        return web.Response(status=401, text="401: this monitor needs its token (Authorization: Bearer TOKEN, "
                                             "or open /?token=TOKEN once in a browser)\n",
                            headers={"WWW-Authenticate": 'Bearer realm="passivx"'})
    return auth


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(_SECURITY)


async def _page(request: web.Request) -> web.Response:
    return web.Response(body=(STATIC / "index.html").read_bytes(), content_type="text/html", charset="utf-8")


def _static(name: str, content_type: str):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=(STATIC / name).read_bytes(), content_type=content_type, charset="utf-8")
    return handler


async def _list(request: web.Request) -> web.Response:
    found, _ = I.load(request.app[ROOT_KEY])
    return web.json_response(found)


async def _detail(request: web.Request) -> web.Response:
    wanted = f"{request.match_info['exchange']}/{request.match_info['instance']}"
    found, _ = I.load(request.app[ROOT_KEY])
    for s in found:
        if I.key(s) == wanted:
            return web.json_response({**s, "history": I.history(s), "log_tail": I.log_tail(s)})
    raise web.HTTPNotFound(text=f"no instance {wanted}\n")


async def _metrics(request: web.Request) -> web.Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return web.Response(body=generate_latest(request.app[REGISTRY_KEY]), headers={"Content-Type": CONTENT_TYPE_LATEST})
