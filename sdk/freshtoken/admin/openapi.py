"""``GET /openapi.json``: the admin API described from the same pydantic models that validate its requests and
shape its answers (OpenAPI 3.1, whose schemas are JSON Schema 2020-12, what pydantic emits).

Why Starlette and this table rather than FastAPI: the API's layers (Host/Origin guard, scoped bearer tokens, a
streaming body limit, a JSON depth limit, one error shape) are ASGI middleware and a handler wrapper that exist
and are attacked by tests; FastAPI would bring its own validation errors and body parsing in front of them. The
cost is this table: one :class:`Operation` per route, and ``tests/admin/test_openapi.py`` fails when a route of
the app is missing from it, so the document cannot drift from the routes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .. import __version__
from .schemas import AccountList, AccountView, ErrorBody, Health, Ready, RefreshResult, Removed

REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # "query" | "path"
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True)
class Operation:
    """One route: what it takes and what it answers (``responses``: status -> model, or None for no JSON)."""

    method: str
    path: str  # OpenAPI form: /accounts/{key}
    summary: str
    responses: dict[int, type[BaseModel] | None]
    body: type[BaseModel] | None = None
    params: tuple[Param, ...] = ()
    auth: bool = True
    tags: tuple[str, ...] = ()
    media: str = "application/json"


KEY = Param("key", "path", "The account key {tenant}:{provider}:{account_id} (URL-encoded).", required=True)
ERRORS = {400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody}


def core_operations() -> list[Operation]:
    from .app import RegisterBody

    return [
        Operation("get", "/health", "Liveness: the process answers.", {200: Health, 503: Health},
                  auth=False, tags=("probes",)),
        Operation("get", "/ready", "Readiness: database writable, keys decrypt, scheduler on time, no alarm "
                  "overdue beyond its limit.", {200: Ready, 503: Ready}, auth=False, tags=("probes",)),
        Operation("get", "/openapi.json", "This document.", {200: None}, auth=False, tags=("probes",)),
        Operation("get", "/metrics", "Prometheus exposition (a full-scope token).",
                  {200: None, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody}, tags=("metrics",),
                  media="text/plain"),
        Operation("post", "/accounts", "Register an account (over an existing one only with ?replace=true).",
                  {201: AccountView, 409: ErrorBody, 413: ErrorBody, 415: ErrorBody, 422: ErrorBody, **ERRORS},
                  body=RegisterBody, tags=("accounts",),
                  params=(Param("replace", "query", "Replace an existing account's grant.",
                                {"type": "boolean"}),)),
        Operation("get", "/accounts", "List accounts in key order (keyset pages).",
                  {200: AccountList, **ERRORS}, tags=("accounts",),
                  params=(Param("limit", "query", "Page size, 1-1000.", {"type": "integer", "minimum": 1,
                                                                         "maximum": 1000}),
                          Param("after", "query", "The last key of the previous page."),
                          Param("status", "query", "Only accounts with this status."))),
        Operation("get", "/accounts/{key}", "One account (no secret).", {200: AccountView, **ERRORS},
                  params=(KEY,), tags=("accounts",)),
        Operation("post", "/accounts/{key}/refresh", "Refresh now; the outcome.", {200: RefreshResult, **ERRORS},
                  params=(KEY,), tags=("accounts",)),
        Operation("delete", "/accounts/{key}", "Remove (and revoke, unless ?revoke=false).",
                  {200: Removed, **ERRORS}, tags=("accounts",),
                  params=(KEY, Param("revoke", "query", "Revoke the refresh token (RFC 7009).",
                                     {"type": "boolean"}))),
    ]


def connect_operations() -> list[Operation]:
    from .connect import CALLBACK_PATH, ConnectBody, ConnectCompleted, ConnectFailed, ConnectStarted

    return [
        Operation("post", "/connect", "Start connecting an account: the authorization URL to send the user to.",
                  {200: ConnectStarted, 201: ConnectStarted, 409: ErrorBody, 422: ErrorBody, **ERRORS},
                  body=ConnectBody, tags=("connect",)),
        Operation("get", CALLBACK_PATH, "The provider's redirect: exchanges the code, registers the account "
                  "(authenticated by the one-time state, not a token). HTML unless Accept: application/json.",
                  {200: ConnectCompleted, 400: ConnectFailed}, auth=False, tags=("connect",),
                  params=(Param("state", "query", "The one-time state of POST /connect.", required=True),
                          Param("code", "query", "The authorization code."),
                          Param("error", "query", "The provider's error (e.g. access_denied)."))),
    ]


def all_operations(extra: Iterable[Operation] = ()) -> list[Operation]:
    from .account_events import events_operation  # GET /accounts/{key}/events (admin/account_events.py)

    return [*core_operations(), events_operation(), *connect_operations(), *extra]


def _schema_ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def document(operations: Iterable[Operation] | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations`` (default: every route of the admin app)."""
    ops = list(all_operations() if operations is None else operations)
    models: dict[str, type[BaseModel]] = {}
    for op in ops:
        for model in [op.body, *op.responses.values()]:
            if model is not None:
                models[model.__name__] = model
    modes: list[tuple[type[BaseModel], Any]] = []
    for op in ops:
        if op.body is not None:
            modes.append((op.body, "validation"))
    for model in models.values():
        if (model, "validation") not in modes:
            modes.append((model, "serialization"))
    _, defs = models_json_schema(modes, ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        entry: dict[str, Any] = {"summary": op.summary, "operationId": _operation_id(op), "tags": list(op.tags),
                                 "responses": {}}
        if op.params:
            entry["parameters"] = [
                {"name": p.name, "in": p.where, "required": p.required or p.where == "path",
                 "description": p.description, "schema": p.schema} for p in op.params
            ]
        if op.body is not None:
            entry["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": _schema_ref(op.body)}}}
        for status, model in sorted(op.responses.items()):
            response: dict[str, Any] = {"description": _status_text(status)}
            if model is not None:
                response["content"] = {"application/json": {"schema": _schema_ref(model)}}
            elif op.media != "application/json" or op.path == "/openapi.json":
                response["content"] = {op.media: {"schema": {"type": "string" if op.media != "application/json"
                                                             else "object"}}}
            entry["responses"][str(status)] = response
        entry["security"] = [{"bearer": []}] if op.auth else []
        paths.setdefault(op.path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "freshtoken admin API", "version": __version__,
                 "description": "Registers accounts, shows their state (never a secret), refreshes, removes. "
                                "Timestamps are epoch seconds with an RFC 3339 twin (*_rfc3339)."},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "An admin token ([admin] token or [[admin.tokens]])."}},
        },
    }


def _operation_id(op: Operation) -> str:
    words = [w for w in op.path.replace("{", "").replace("}", "").replace(".", "_").split("/") if w]
    return "_".join([op.method, *words]) or op.method


def _status_text(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return str(status)
