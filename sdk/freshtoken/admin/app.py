"""The admin API routes. Every answer is JSON; errors are ``{"error": code, "message": text}`` with 400 / 404
/ 409 / 422 and never a stack trace or a secret.

    POST   /accounts                  register (body: key, client, refresh_token, account_data, ...)
    GET    /accounts                  list (?limit=100&after=KEY&status=active) -> {accounts, next_after}
    GET    /accounts/{key}            state (no secret)
    POST   /accounts/{key}/refresh    refresh now -> outcome
    DELETE /accounts/{key}            remove (?revoke=false to skip RFC 7009 revocation)
    GET    /health                    liveness (no token needed)
    GET    /metrics                   Prometheus exposition
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import __version__
from ..errors import (
    ConfigError,
    FreshtokenError,
    InvalidAccountKey,
    NotRegistered,
    RefreshError,
    redact,
)
from ..state import SECRET_FIELDS, Status
from .auth import BearerAuth

if TYPE_CHECKING:
    from ..embedded import EmbeddedRuntime
    from ..metrics import Metrics

log = logging.getLogger("freshtoken.admin")

MAX_LIMIT = 1000
MAX_BODY = 64 * 1024
FAILED_OUTCOMES = frozenset({"retry_scheduled", "misconfigured", "reauth_required"})


class RegisterBody(BaseModel):
    """``POST /accounts``."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=1024)
    client: str = Field(min_length=1)
    refresh_token: SecretStr | None = None
    account_data: dict[str, str] = Field(default_factory=dict)
    access_token: SecretStr | None = None
    expires_at: float | None = None
    scope: str | None = None
    never_expires: bool = False


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(message)


def public(view: dict[str, Any]) -> dict[str, Any]:
    """Defence in depth: drop any secret field a view might carry."""
    return {k: v for k, v in view.items() if k not in SECRET_FIELDS}


def create_app(
    runtime: EmbeddedRuntime,
    *,
    token: str | None,
    metrics: Metrics | None = None,
    secrets: Iterable[str] = (),
) -> Any:
    """The admin ASGI app. ``token`` None: no authentication (serve it on loopback only).

    ``secrets`` are scrubbed from every error message (client secrets, the admin token...).
    """
    known_secrets = [s for s in secrets if s] + ([token] if token else [])

    def error(status: int, code: str, message: str, extra: Iterable[str] = ()) -> JSONResponse:
        return JSONResponse(
            {"error": code, "message": redact(message, [*known_secrets, *extra])}, status_code=status
        )

    def handler(fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def wrapped(request: Request) -> Response:
            extra: list[str] = []
            request.state.secrets = extra
            try:
                return await fn(request)
            except ApiError as exc:
                return error(exc.status, exc.code, exc.message, extra)
            except InvalidAccountKey as exc:
                return error(400, "invalid_key", str(exc), extra)
            except NotRegistered as exc:
                return error(404, "not_found", f"no account is registered under {str(exc)!r}", extra)
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
        body = await request.body()
        if len(body) > MAX_BODY:
            raise ApiError(413, "too_large", f"request body is larger than {MAX_BODY} bytes")
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "invalid_json", "request body is not valid JSON") from None

    @handler
    async def register(request: Request) -> Response:
        raw = await read_json(request)
        if isinstance(raw, dict):
            for name in ("refresh_token", "access_token"):
                if isinstance(raw.get(name), str):
                    request.state.secrets.append(raw[name])
        try:
            body = RegisterBody.model_validate(raw)
        except ValidationError as exc:
            problems = [
                {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
                for e in exc.errors(include_input=False, include_url=False)
            ]
            text = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
            return JSONResponse({"error": "invalid_body", "message": text, "problems": problems}, status_code=422)
        view = await runtime.register(
            body.key,
            client=body.client,
            refresh_token=body.refresh_token.get_secret_value() if body.refresh_token else None,
            account_data=body.account_data,
            access_token=body.access_token.get_secret_value() if body.access_token else None,
            expires_at=body.expires_at,
            scope=body.scope,
            never_expires=body.never_expires,
        )
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
        rows = [public(r) for r in runtime.list_accounts(limit=limit, after=q.get("after"), status=status)]
        next_after = rows[-1]["key"] if len(rows) == limit else None
        return JSONResponse({"accounts": rows, "next_after": next_after})

    @handler
    async def show(request: Request) -> Response:
        return JSONResponse(public(await runtime.status(request.path_params["key"])))

    @handler
    async def refresh(request: Request) -> Response:
        key = request.path_params["key"]
        outcome = await runtime.refresh_now(key)
        data = dataclasses.asdict(outcome)
        data["key"] = key
        data["ok"] = outcome.kind not in FAILED_OUTCOMES
        return JSONResponse(data)

    @handler
    async def remove(request: Request) -> Response:
        key = request.path_params["key"]
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

    async def metrics_endpoint(request: Request) -> Response:
        if metrics is None:
            return error(404, "not_found", "metrics are not enabled")
        from ..metrics import CONTENT_TYPE_LATEST

        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(404, "not_found", f"no route {request.method} {request.url.path}")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return error(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}")

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/accounts", register, methods=["POST"]),
        Route("/accounts", list_accounts, methods=["GET"]),
        Route("/accounts/{key:path}/refresh", refresh, methods=["POST"]),
        Route("/accounts/{key:path}", show, methods=["GET"]),
        Route("/accounts/{key:path}", remove, methods=["DELETE"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})
    return BearerAuth(app, token)
