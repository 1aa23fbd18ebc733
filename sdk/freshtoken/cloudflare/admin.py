"""The admin surface's routes and authentication, shared by the gateway (which forwards) and the
Durable Object (which serves).

    POST   /admin/accounts/{key}          register (JSON body)          → 201 status (an existing live
                                          account: ``?replace=true``, else 409)
    GET    /admin/accounts/{key}          status                        → 200
    POST   /admin/accounts/{key}/refresh  refresh now                   → 200 outcome
    DELETE /admin/accounts/{key}          remove (``?revoke=false``)    → 200

``{key}`` is the account key ``{tenant}:{provider}:{account_id}``, percent-encoded as one path segment.
Every request carries ``Authorization: Bearer <FRESHTOKEN_ADMIN_TOKEN>`` (a Worker secret), compared in
constant time; without the secret configured the admin surface refuses everything.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import (
    AccountExists,
    ConfigError,
    FreshtokenError,
    InvalidAccountKey,
    NotRegistered,
    ProviderMismatch,
    RefreshError,
)
from ..redaction import redact
from . import values
from ._workers import Response, json_response

PREFIX = "/admin/accounts/"
ADMIN_TOKEN_VAR = "FRESHTOKEN_ADMIN_TOKEN"  # noqa: S105 - the name of the secret


@dataclass(frozen=True)
class Route:
    action: str  # register | status | refresh | remove
    key: str
    query: dict[str, list[str]]


def parse(method: str, url: str, prefix: str = PREFIX) -> Route | None:
    """The admin route of a request, or None when the path is not an admin path or the method is wrong."""
    parts = urlsplit(url)
    path = parts.path
    if not path.startswith(prefix):
        return None
    segments = path[len(prefix):].split("/")
    if not segments[0] or len(segments) > 2:
        return None
    key = unquote(segments[0])
    sub = segments[1] if len(segments) == 2 else ""
    method = method.upper()
    action = {
        ("POST", ""): "register",
        ("PUT", ""): "register",
        ("GET", ""): "status",
        ("POST", "refresh"): "refresh",
        ("DELETE", ""): "remove",
    }.get((method, sub))
    if action is None:
        return None
    return Route(action, key, parse_qs(parts.query))


#: The longest message an error reply carries.
DETAIL_LIMIT = 300


def error_reply(exc: FreshtokenError, key: str, secrets: Iterable[str | None]) -> Any:
    """The reply to an admin request that ended in ``exc``: its status and code, and its message with every one of
    ``secrets`` (the request's and the configuration's) and every token-like run redacted, as the embedded admin
    API's replies are (freshtoken.redaction). A message is freshtoken's own, yet it may quote what it was given."""
    def detail() -> str:
        return redact(str(exc), secrets, limit=DETAIL_LIMIT)

    if isinstance(exc, NotRegistered):
        return json_response({"error": "not_registered", "key": key}, 404)
    if isinstance(exc, AccountExists):  # over a live account without ?replace=true
        return json_response({"error": "account_exists", "detail": detail()}, 409)
    if isinstance(exc, ProviderMismatch):
        return json_response({"error": "provider_mismatch", "detail": detail()}, 400)
    if isinstance(exc, ConfigError | InvalidAccountKey | RefreshError):
        return json_response({"error": "invalid_request", "detail": detail()}, 400)
    return json_response({"error": "failed", "detail": exc.__class__.__name__}, 500)


def admin_token(env: Any, var: str = ADMIN_TOKEN_VAR) -> str | None:
    token = values.get_attr(env, var)
    return token if isinstance(token, str) and token else None


def authorize(request: Any, env: Any, var: str = ADMIN_TOKEN_VAR) -> Any | None:
    """None when the request carries the admin bearer token; otherwise the error ``Response``."""
    expected = admin_token(env, var)
    if expected is None:
        return json_response({"error": "admin_disabled", "detail": f"{var} is not configured"}, 503)
    if not bearer_matches(request, expected):
        return json_response({"error": "unauthorized"}, 401, {"www-authenticate": 'Bearer realm="freshtoken"'})
    return None


def bearer_matches(request: Any, expected: str) -> bool:
    """The request's ``Authorization: Bearer <credentials>`` is ``expected`` (compared in constant time)."""
    given = values.header(request, "authorization") or ""
    scheme, _, credentials = given.partition(" ")
    ok = hmac.compare_digest(credentials.strip().encode("utf-8"), expected.encode("utf-8"))
    return scheme.lower() == "bearer" and ok


async def forward(request: Any, env: Any, *, binding: str = "REFRESHER", var: str = ADMIN_TOKEN_VAR,
                  prefix: str = PREFIX) -> Any:
    """Gateway side: authenticate, then hand an admin request to the account's Durable Object
    (``idFromName(key)``). Unknown paths get 404 without waking any object."""
    route = parse(request.method, request.url, prefix)
    if route is None:
        return json_response({"error": "not_found"}, 404)
    denied = authorize(request, env, var)
    if denied is not None:
        return denied
    namespace = getattr(env, binding)
    stub = namespace.get(namespace.idFromName(route.key))
    body = None if request.method.upper() in ("GET", "HEAD", "DELETE") else await request.text()
    headers = {"authorization": values.header(request, "authorization") or ""}
    content_type = values.header(request, "content-type")
    if content_type:
        headers["content-type"] = content_type
    response = await stub.fetch(request.url, values.fetch_init(request.method.upper(), headers, body))
    text = await response.text()
    out_type = values.header(response, "content-type") or "application/json"
    return Response(text, status=int(response.status), headers={"content-type": out_type, "cache-control": "no-store"})
