"""The admin API routes. Every answer is JSON; errors are ``{"error": code, "message": text}`` with 400 / 403 /
404 / 409 / 413 / 415 / 421 / 422 and never a stack trace or a secret.

    POST   /accounts                  register (body: key, client, refresh_token, account_data, ...);
                                      over an existing account ?replace=true, else 409
    GET    /accounts                  list (?limit=100&after=KEY&status=active) -> {accounts, next_after}
    GET    /accounts/{key}            state (no secret)
    POST   /accounts/{key}/refresh    refresh now -> outcome
    GET    /accounts/{key}/events     the account's event history, newest first (?limit=100&before=ID)
    DELETE /accounts/{key}            remove (?revoke=false to skip RFC 7009 revocation)
    GET    /health                    liveness (no token needed)
    GET    /ready                     readiness: database, keys, scheduler lag, oldest overdue alarm (no token)
    GET    /openapi.json              this API as OpenAPI 3.1, from the same models (no token; see .openapi)
    GET    /metrics                   Prometheus exposition (a full-scope token)

Timestamps are epoch seconds with an RFC 3339 twin beside each (``expires_at_rfc3339``).

Layers, outermost first: :class:`~.guard.BrowserGuard` (Host, Origin), :class:`~.auth.BearerAuth` (token and its
scope), then per route: ``Content-Type: application/json`` on state-changing requests (415), the body read with a
streaming limit (413) and parsed with a depth limit (400), the token's tenant scope (403 / 404).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import __version__
from ..errors import (
    AccountExists,
    ConfigError,
    FreshtokenError,
    InvalidAccountKey,
    NotRegistered,
    ProviderMismatch,
    RefreshError,
    redact,
)
from ..keys import AccountKey
from ..registration import SECRET_REGISTRATION_FIELDS, Registration
from ..state import SECRET_FIELDS, Status
from .auth import OPEN_PATHS, AdminToken, BearerAuth, Scope, request_scope
from .body import MAX_BODY, BodyError, InvalidBody, parse_json, query_flag, read_limited, validate_body
from .guard import BrowserGuard, HostPolicy, is_json
from .openapi import document
from .readiness import ReadyLimits, readiness
from .schemas import with_rfc3339

if TYPE_CHECKING:
    from ..embedded import EmbeddedRuntime
    from ..observability.metrics import Metrics

log = logging.getLogger("freshtoken.admin")

MAX_LIMIT = 1000


class RegisterBody(Registration):
    """``POST /accounts``: the account key and a :class:`~freshtoken.registration.Registration` (whose ``replace``
    is the query parameter ``?replace=true``, not a body field)."""

    key: str = Field(min_length=1, max_length=1024)

    def registration(self, *, replace: bool) -> Registration:
        return Registration.model_validate({**self.model_dump(exclude={"key", "replace"}), "replace": replace})


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(message)


def public(view: dict[str, Any]) -> dict[str, Any]:
    """Defence in depth: drop any secret field a view might carry; RFC 3339 twins of its timestamps."""
    return with_rfc3339({k: v for k, v in view.items() if k not in SECRET_FIELDS})


def create_app(
    runtime: EmbeddedRuntime,
    *,
    token: str | None = None,
    tokens: Sequence[AdminToken] = (),
    metrics: Metrics | None = None,
    secrets: Iterable[str] = (),
    listen_host: str = "127.0.0.1",
    allowed_hosts: Iterable[str] = (),
    connect_redirect_uri: str | None = None,
    connect_state_ttl: float | None = None,
    ready_limits: ReadyLimits | None = None,
    history: Any = None,
) -> Any:
    """The admin ASGI app. No ``token`` and no ``tokens``: no authentication (serve it on loopback only).

    ``token`` has the full scope; each of ``tokens`` its own (a tenant's accounts, or all). ``listen_host`` (the
    address served) and ``allowed_hosts`` are the host names requests may name (see :mod:`.guard`). ``secrets``
    are scrubbed from every error message (client secrets, the admin tokens...).
    """
    all_tokens = ([AdminToken(token)] if token else []) + list(tokens)
    known_secrets = [s for s in secrets if s] + [t.token for t in all_tokens if t.token]

    def error(status: int, code: str, message: str, extra: Iterable[str] = ()) -> JSONResponse:
        return JSONResponse(
            {"error": code, "message": redact(message, [*known_secrets, *extra])}, status_code=status
        )

    def handler(fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def wrapped(request: Request) -> Response:
            extra: list[str] = []
            request.state.secrets = extra
            try:
                if request.method in ("POST", "PUT", "PATCH", "DELETE") and not is_json(
                        request.headers.get("content-type")):
                    raise ApiError(415, "unsupported_media_type",
                                   f"{request.method} requests need 'Content-Type: application/json'")
                return await fn(request)
            except ApiError as exc:
                return error(exc.status, exc.code, exc.message, extra)
            except BodyError as exc:
                return error(exc.status, exc.code, exc.message, extra)
            except InvalidBody as exc:
                return JSONResponse({"error": "invalid_body", "message": redact(exc.message, [*known_secrets, *extra]),
                                     "problems": exc.problems}, status_code=422)
            except ClientDisconnect:
                return error(400, "disconnected", "the client went away before the request was read")
            except InvalidAccountKey as exc:
                return error(400, "invalid_key", str(exc), extra)
            except NotRegistered as exc:
                return error(404, "not_found", f"no account is registered under {str(exc)!r}", extra)
            except AccountExists as exc:
                return error(409, "account_exists", str(exc), extra)
            except ProviderMismatch as exc:
                return error(400, "provider_mismatch", str(exc), extra)
            except RefreshError as exc:  # e.g. register without a refresh token
                return error(422, exc.kind, str(exc), extra)
            except ConfigError as exc:
                if type(exc).__name__ == "DecryptionError":
                    log.error("admin: stored state cannot be decrypted (check FRESHTOKEN_ENCRYPTION_KEYS)")
                    return error(500, "decryption_failed", "stored state cannot be decrypted with the configured keys")
                return error(422, "invalid", str(exc), extra)
            except FreshtokenError as exc:
                status = 409 if type(exc).__name__ == "AccountBusy" else 400
                return error(status, "busy" if status == 409 else "error", str(exc), extra)
            except Exception as exc:
                log.error("admin: %s %s failed: %s", request.method, request.url.path, exc.__class__.__name__)
                return error(500, "internal_error", "internal error; see the server log")

        return wrapped

    async def read_json(request: Request) -> Any:
        return parse_json(await read_limited(request.headers.get("content-length"), request.stream(), MAX_BODY))

    def scope_of(request: Request) -> Scope:
        granted = request_scope(request.scope)
        if granted is None:  # cannot happen behind BearerAuth; refuse rather than assume
            raise ApiError(403, "forbidden", "this request carries no admin scope")
        return granted

    def account_key(request: Request) -> str:
        """The path's account key, validated; another tenant's account does not exist for a scoped token."""
        key = str(AccountKey.parse(request.path_params["key"]))
        if not scope_of(request).allows(key):
            raise NotRegistered(key)
        return key

    def full_scope(request: Request) -> None:
        if not scope_of(request).full:
            raise ApiError(403, "forbidden", f"{request.url.path} needs an admin token with the full scope ('*')")

    @handler
    async def register(request: Request) -> Response:
        replace = query_flag(request.query_params.get("replace"), "replace")
        raw = await read_json(request)
        if isinstance(raw, dict):
            for name in SECRET_REGISTRATION_FIELDS:
                if isinstance(raw.get(name), str):
                    request.state.secrets.append(raw[name])
            if "replace" in raw:
                message = "replace is a query parameter (POST /accounts?replace=true), not a body field"
                return JSONResponse({"error": "invalid_body", "message": message,
                                     "problems": [{"field": "replace", "message": message}]}, status_code=422)
        body = validate_body(RegisterBody, raw)
        key = str(AccountKey.parse(body.key))
        scope = scope_of(request)
        if not scope.allows(key):
            raise ApiError(403, "forbidden",
                           f"this admin token may only register accounts of tenant {scope.tenant!r} "
                           f"(keys '{scope.prefix}...')")
        view = await runtime.register(body.key, body.registration(replace=replace))
        return JSONResponse(public(view), status_code=201)

    @handler
    async def list_accounts(request: Request) -> Response:
        q = request.query_params
        try:
            limit = int(q.get("limit", "100"))
        except ValueError:
            raise ApiError(400, "invalid_query", "limit must be an integer") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiError(400, "invalid_query", f"limit must be between 1 and {MAX_LIMIT}")
        status = q.get("status")
        if status is not None and status not in {s.value for s in Status}:
            raise ApiError(400, "invalid_query", f"status must be one of {', '.join(s.value for s in Status)}")
        after = q.get("after")
        prefix = scope_of(request).prefix
        if prefix and (after is None or after < prefix):
            after = prefix  # a tenant's keys are one contiguous range, from just after its prefix
        rows = []
        for row in runtime.list_accounts(limit=limit, after=after, status=status):
            if not str(row["key"]).startswith(prefix):
                break  # past the tenant's range
            rows.append(public(row))
        next_after = rows[-1]["key"] if len(rows) == limit else None
        return JSONResponse({"accounts": rows, "next_after": next_after})

    @handler
    async def show(request: Request) -> Response:
        return JSONResponse(public(await runtime.status(account_key(request))))

    @handler
    async def refresh(request: Request) -> Response:
        key = account_key(request)
        outcome = await runtime.refresh_now(key)
        data = outcome.to_dict()
        data["key"] = key
        data["ok"] = not outcome.failed
        return JSONResponse(with_rfc3339(data))

    @handler
    async def account_events(request: Request) -> Response:
        from .account_events import events_answer

        return JSONResponse(events_answer(history, runtime, account_key(request), request.query_params))

    @handler
    async def remove(request: Request) -> Response:
        key = account_key(request)
        revoke = request.query_params.get("revoke", "true").lower() not in ("false", "0", "no")
        if not await runtime.remove(key, revoke=revoke):
            raise NotRegistered(key)
        return JSONResponse({"key": key, "removed": True})

    async def health(request: Request) -> Response:
        try:
            running = bool(runtime.stats().get("running"))
        except Exception:
            return JSONResponse({"status": "error"}, status_code=503)
        return JSONResponse({"status": "ok", "scheduler": "running" if running else "stopped", "version": __version__})

    async def ready(request: Request) -> Response:
        try:
            report = await readiness(runtime, ready_limits or ReadyLimits())
        except Exception as exc:
            log.error("admin: /ready failed: %s", exc.__class__.__name__)
            return JSONResponse({"status": "not_ready", "checks": {}}, status_code=503)
        return JSONResponse(report.model_dump(mode="json"), status_code=200 if report.status == "ready" else 503)

    async def openapi(request: Request) -> Response:
        return JSONResponse(document())

    @handler
    async def metrics_endpoint(request: Request) -> Response:
        full_scope(request)
        if metrics is None:
            return error(404, "not_found", "metrics are not enabled")
        from ..observability.metrics import CONTENT_TYPE_LATEST

        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(404, "not_found", f"no route {request.method} {request.url.path}")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return error(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}")

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/accounts", register, methods=["POST"]),
        Route("/accounts", list_accounts, methods=["GET"]),
        Route("/accounts/{key:path}/refresh", refresh, methods=["POST"]),
        Route("/accounts/{key:path}/events", account_events, methods=["GET"]),
        Route("/accounts/{key:path}", show, methods=["GET"]),
        Route("/accounts/{key:path}", remove, methods=["DELETE"]),
    ]
    from .connect import CALLBACK_PATH, connect_routes  # POST /connect, GET /connect/callback (admin/connect.py)

    routes += connect_routes(runtime, handler=handler, read_json=read_json, scope_of=scope_of,
                             redirect_uri=connect_redirect_uri, ttl=connect_state_ttl)
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})
    # the connect callback is reached by a browser from the provider: its one-time state authenticates it
    return BrowserGuard(BearerAuth(app, all_tokens, open_paths=OPEN_PATHS | {CALLBACK_PATH}),
                        HostPolicy(listen_host, allowed_hosts))
