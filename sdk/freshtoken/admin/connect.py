"""The admin API's connect routes: the authorization-code flow for a deployed service (:mod:`freshtoken.connect`).

    POST /connect             body {key, client, scopes?, account_data?} (?replace=true over an active account)
                              -> 201 {authorization_url, expires_at, redirect_uri, key, client}
    GET  /connect/callback    the provider's redirect (code + state, or error + state): exchanges the code and
                              registers the account -> a small HTML page, or JSON with ``Accept:
                              application/json``; never a token

``POST /connect`` needs an admin token whose scope allows the key. The callback needs no token (a browser
arrives there from the provider): the ``state`` authenticates it, and it is checked strictly (known, unused,
unexpired, issued for this redirect URI); anything else is a 400 naming what was wrong, and nothing is
registered.

The redirect URI is ``[connect] redirect_uri`` when configured (behind a proxy or on a public name: register it
at the provider), else ``{scheme}://{Host}/connect/callback`` of the request that started the connection.
Pending connections are kept in the state database (``connect_states``, encrypted), so a restart between the
two requests loses nothing.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..connect import ConnectError, ConnectFlow, MemoryStateStore, StateStore
from ..connect.flow import DEFAULT_STATE_TTL
from ..keys import AccountKey
from .body import query_flag, validate_body

if TYPE_CHECKING:
    from ..embedded import EmbeddedRuntime
    from .auth import Scope

log = logging.getLogger("freshtoken.admin.connect")

CALLBACK_PATH = "/connect/callback"


class ConnectBody(BaseModel):
    """``POST /connect``."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=1024)
    client: str = Field(min_length=1)
    scopes: list[str] | None = Field(default=None, description="Default: the provider's default scopes.")
    account_data: dict[str, str] = Field(default_factory=dict)


class ConnectStarted(BaseModel):
    """``POST /connect`` answer: send the user to ``authorization_url`` before ``expires_at`` (epoch s)."""

    authorization_url: str
    expires_at: float
    redirect_uri: str
    key: str
    client: str


class ConnectCompleted(BaseModel):
    """``GET /connect/callback`` answer when the account was registered."""

    key: str
    client: str
    status: str
    expires_at: float | None = None
    recovered: bool = Field(description="The account needed re-authorisation and is healthy again.")
    replaced: bool = Field(description="A working grant was replaced (the connection was started with replace).")


class ConnectFailed(BaseModel):
    """``GET /connect/callback`` answer when nothing was registered."""

    error: str
    message: str


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _page(status: int, title: str, text: str) -> HTMLResponse:
    body = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>")
    return HTMLResponse(body, status_code=status, headers={"cache-control": "no-store",
                                                          "referrer-policy": "no-referrer"})


def connect_routes(
    runtime: EmbeddedRuntime,
    *,
    handler: Callable[[Callable[[Request], Awaitable[Response]]], Callable[[Request], Awaitable[Response]]],
    read_json: Callable[[Request], Awaitable[Any]],
    scope_of: Callable[[Request], Scope],
    redirect_uri: str | None = None,
    states: StateStore | None = None,
    ttl: float | None = None,
) -> list[Route]:
    """The two routes, sharing ``create_app``'s error handling (``handler``), body reading and token scope."""
    flows: list[ConnectFlow] = []

    def flow() -> ConnectFlow:
        if not flows:
            store = states
            if store is None:
                if str(runtime.store.path) in ("", ":memory:"):
                    store = MemoryStateStore()
                else:
                    from ..connect.sqlite_states import SQLiteStateStore

                    store = SQLiteStateStore(runtime.store)
            flows.append(ConnectFlow.for_runtime(runtime, store, ttl=DEFAULT_STATE_TTL if ttl is None else ttl))
        return flows[0]

    def our_redirect_uri(request: Request) -> str:
        if redirect_uri:
            return redirect_uri
        return f"{request.url.scheme}://{request.headers.get('host', '127.0.0.1')}{CALLBACK_PATH}"

    @handler
    async def start(request: Request) -> Response:
        replace = query_flag(request.query_params.get("replace"), "replace")
        body = validate_body(ConnectBody, await read_json(request))
        key = str(AccountKey.parse(body.key))
        scope = scope_of(request)
        if not scope.allows(key):
            return JSONResponse({"error": "forbidden", "message": f"this admin token may only connect accounts of "
                                 f"tenant {scope.tenant!r} (keys '{scope.prefix}...')"}, status_code=403)
        started = await flow().start(key, body.client, redirect_uri=our_redirect_uri(request), scopes=body.scopes,
                                     account_data=body.account_data, replace=replace)
        answer = ConnectStarted(authorization_url=started.authorization_url, expires_at=started.expires_at,
                                redirect_uri=started.redirect_uri, key=started.key, client=started.client)
        return JSONResponse(answer.model_dump(), status_code=201)

    @handler
    async def callback(request: Request) -> Response:
        q = request.query_params
        try:
            result = await flow().finish(q.get("state"), code=q.get("code"), error=q.get("error"),
                                         redirect_uri=our_redirect_uri(request))
        except ConnectError as exc:
            log.warning("connect callback refused (%s)", exc.code)
            failed = ConnectFailed(error=exc.code, message=str(exc))
            if _wants_json(request):
                return JSONResponse(failed.model_dump(), status_code=400)
            return _page(400, "Not connected", failed.message)
        view = result.view
        done = ConnectCompleted(key=result.key, client=str(view.get("client")), status=result.status,
                                expires_at=view.get("expires_at"), recovered=result.recovered,
                                replaced=result.replaced)
        if _wants_json(request):
            return JSONResponse(done.model_dump())
        note = " It was re-authorised." if done.recovered else ""
        return _page(200, "Connected", f"{done.key} is connected (status {done.status}).{note} "
                                       "You may close this window.")

    return [
        Route("/connect", start, methods=["POST"]),
        Route(CALLBACK_PATH, callback, methods=["GET"]),
    ]
