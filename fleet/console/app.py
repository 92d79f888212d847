"""The fleet console's web app (FastAPI): the page, the yard, snapshots, sign-in, actions, feed.

| route | what |
| --- | --- |
| `GET /` | the page (`static/`: plain HTML, SVG and JavaScript, nothing from the internet) |
| `GET /api/yard` | the yard map in local metres (`fleet.console.yardmap`) |
| `GET /api/snapshot` | the latest snapshot (`fleet.console.snapshot`) with alarms |
| `GET /api/session` | who is signed in, their role and CSRF token |
| `POST /api/login`, `POST /api/logout` | sign in (sets the session cookie), sign out |
| `POST /api/actions/{kind}` | an action (`fleet.console.actions.KINDS`); a dispatcher's only |
| `WS /ws` | the live feed: a snapshot whenever there is a new one (twice a second) |

With an operators file every route but the page and sign-in needs a session; without one
(loopback only, see `fleet.console.serving`) anyone on the machine may watch and nobody
may act. A POST needs the session's CSRF token in `X-CSRF-Token` and, when the browser
sends an `Origin`, the console's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, FastAPI, HTTPException, Request, Response, WebSocket
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.websockets import WebSocketDisconnect

from fleet.console.actions import KINDS, Action, Outcome
from fleet.console.bridge import Bridge
from fleet.console.operators import Operators
from fleet.console.sessions import COOKIE, CSRF_HEADER, Session, Sessions
from fleet.console.yardmap import yard_json

__all__ = ["ACTION_TIMEOUT_S", "STATIC", "create_app"]

STATIC = Path(str(files("fleet.console") / "static"))
ACTION_TIMEOUT_S = 15.0
"""How long an action may wait for the dispatcher's loop to carry it out."""
FEED_WAIT_S = 1.0


class _Console:
    """The app's state: the bridge to the dispatcher, operators and their sessions."""

    def __init__(self, bridge: Bridge, operators: Operators | None) -> None:
        self.bridge = bridge
        self.operators = operators
        self.sessions = Sessions()
        self.yard = yard_json(bridge.live.yard)
        self._encoded: tuple[int, str] = (-1, "null")

    @property
    def open_watch(self) -> bool:
        """No operators file: anyone (on loopback) watches, nobody acts."""
        return self.operators is None

    def session(self, token: str | None) -> Session | None:
        return self.sessions.get(token)

    def may_watch(self, token: str | None) -> bool:
        return self.open_watch or self.session(token) is not None

    def encoded(self, version: int, snap: dict[str, Any] | None) -> str:
        """The snapshot as JSON text, encoded once per version."""
        if self._encoded[0] != version:
            self._encoded = (version, json.dumps(snap, separators=(",", ":")))
        return self._encoded[1]


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-site form or fetch (those send Origin)
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def create_app(bridge: Bridge, operators: Operators | None = None) -> FastAPI:
    """The console for one live dispatcher (its loop must call `bridge.pump`)."""
    app = FastAPI(title="YardFleet fleet console", version="0.1.0")
    app.state.console = _Console(bridge, operators)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(router)
    return app


router = APIRouter()


def _console(request: Request) -> _Console:
    console: _Console = request.app.state.console
    return console


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    """The page."""
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


@router.get("/api/yard")
def yard(request: Request) -> dict[str, Any]:
    """The yard map: lanes with direction, junctions, blocks, cranes, in metres."""
    console = _console(request)
    _watcher(console, request)
    return console.yard


@router.get("/api/snapshot")
def snap(request: Request) -> Response:
    """The latest snapshot: trucks, crane queues, cranes, closed lanes, alarms."""
    console = _console(request)
    _watcher(console, request)
    version, data = console.bridge.latest()
    return Response(console.encoded(version, data), media_type="application/json")


@router.get("/api/session")
def session(request: Request) -> dict[str, Any]:
    """Who is signed in (401: nobody)."""
    s = _console(request).session(request.cookies.get(COOKIE))
    if s is None:
        raise HTTPException(401, "not signed in")
    return _who(s)


@router.post("/api/login")
def login(request: Request, name: str = Body(...), password: str = Body(...)) -> JSONResponse:
    """Sign in; the session cookie is HttpOnly and SameSite=Strict."""
    console = _console(request)
    if not _same_origin(request):
        raise HTTPException(403, "cross-site sign-in refused")
    if console.operators is None:
        raise HTTPException(403, "no operators file: this console is watch-only")
    op = console.operators.verify(name, password)
    if op is None:
        raise HTTPException(401, "wrong name or password")
    s = console.sessions.open(op)
    out = JSONResponse(_who(s))
    out.set_cookie(COOKIE, s.token, httponly=True, samesite="strict", path="/")
    return out


@router.post("/api/logout")
def logout(request: Request) -> JSONResponse:
    """Sign out."""
    console = _console(request)
    _actor(console, request, need_dispatcher=False)
    console.sessions.close(request.cookies.get(COOKIE))
    out = JSONResponse({"ok": True})
    out.delete_cookie(COOKIE, path="/")
    return out


@router.post("/api/actions/{kind}")
async def act(kind: str, request: Request) -> JSONResponse:
    """An action by a signed-in dispatcher: 200 done, 409 refused (with why)."""
    console = _console(request)
    s = _actor(console, request, need_dispatcher=True)
    if kind not in KINDS:
        raise HTTPException(404, f"no action {kind!r} (known: {', '.join(KINDS)})")
    try:
        args = await request.json()
    except ValueError:
        raise HTTPException(400, "the body must be a JSON object") from None
    if not isinstance(args, dict):
        raise HTTPException(400, "the body must be a JSON object")
    fut = console.bridge.submit(Action(kind, s.operator.name, args))
    try:
        outcome: Outcome = await asyncio.wait_for(asyncio.wrap_future(fut), ACTION_TIMEOUT_S)
    except TimeoutError:
        raise HTTPException(503, "the dispatcher did not take the action in time") from None
    body = {"ok": outcome.ok, "text": outcome.text}
    return JSONResponse(body, status_code=200 if outcome.ok else 409)


@router.websocket("/ws")
async def feed(ws: WebSocket) -> None:
    """A snapshot whenever a new one is made (twice a second while the dispatcher runs)."""
    console: _Console = ws.app.state.console
    origin = ws.headers.get("origin")
    host = ws.headers.get("host", "")
    cross = origin is not None and origin not in (f"http://{host}", f"https://{host}")
    if cross or not console.may_watch(ws.cookies.get(COOKIE)):
        await ws.close(code=1008)
        return
    await ws.accept()
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()

    def wake() -> None:  # on the dispatcher's thread: only hand over to this loop
        loop.call_soon_threadsafe(changed.set)

    unsubscribe = console.bridge.subscribe(wake)
    version = 0
    try:
        while True:
            newer, data = console.bridge.latest()
            if newer != version and data is not None:
                version = newer
                await ws.send_text(console.encoded(newer, data))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), FEED_WAIT_S)
            changed.clear()
    except (WebSocketDisconnect, RuntimeError, OSError):
        return
    finally:
        unsubscribe()


def _who(s: Session) -> dict[str, Any]:
    return {"operator": s.operator.name, "role": s.operator.role.value, "csrf": s.csrf}


def _watcher(console: _Console, request: Request) -> None:
    if not console.may_watch(request.cookies.get(COOKIE)):
        raise HTTPException(401, "sign in first")


def _actor(console: _Console, request: Request, *, need_dispatcher: bool) -> Session:
    """The session of a POST, checked: signed in, same origin, CSRF token, role."""
    s = console.session(request.cookies.get(COOKIE))
    if s is None:
        raise HTTPException(401, "sign in first")
    if not _same_origin(request) or not s.csrf_ok(request.headers.get(CSRF_HEADER)):
        raise HTTPException(403, "cross-site request refused (no or wrong CSRF token)")
    if need_dispatcher and not s.operator.may_act:
        raise HTTPException(403, f"{s.operator.name} is a viewer: viewers only watch")
    return s
