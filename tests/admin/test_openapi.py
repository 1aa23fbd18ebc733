"""/openapi.json (validated with openapi-spec-validator, covering every route of the app, and real answers
validated against it), RFC 3339 twins of timestamps, and the /ready probe's four checks."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from starlette.routing import Route

from freshtoken.admin import create_app
from freshtoken.admin.readiness import ReadyLimits
from freshtoken.embedded import generate_key
from freshtoken.host.factory import Host
from tests.admin.support import ADMIN_TOKEN, CLIENT_SECRET

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _routes(app: Any) -> set[tuple[str, str]]:
    inner = app
    while not hasattr(inner, "routes"):
        inner = inner.app  # BrowserGuard -> BearerAuth -> Starlette
    out = set()
    for route in inner.routes:
        assert isinstance(route, Route)
        path = route.path.replace("{key:path}", "{key}")
        for method in route.methods or ():
            if method != "HEAD":
                out.add((method.lower(), path))
    return out


def _check(doc: dict[str, Any], status: int, path: str, method: str, body: Any) -> None:
    """Validate a real answer against the document's schema for (path, method, status)."""
    response = doc["paths"][path][method]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    Draft202012Validator({**schema, "components": doc["components"]}).validate(body)


async def test_document_is_valid_and_covers_every_route(api: httpx.AsyncClient, host: Host) -> None:
    r = await api.get("/openapi.json")  # no token needed: it shows no account
    assert r.status_code == 200
    doc = r.json()
    validate(doc)  # raises on an invalid OpenAPI 3.1 document
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    app = create_app(host.runtime, token=ADMIN_TOKEN)
    assert _routes(app) == documented
    assert doc["paths"]["/accounts"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"] \
        == "#/components/schemas/RegisterBody"
    register = doc["components"]["schemas"]["RegisterBody"]
    assert {"key", "client"} <= set(register["required"])  # the model that validates requests


async def test_real_answers_match_the_document(api: httpx.AsyncClient, sandbox) -> None:
    doc = (await api.get("/openapi.json")).json()
    grant = sandbox.mint("ui-client")
    r = await api.post("/accounts", json={"key": "t1:generic:o1", "client": "sandbox",
                                          "refresh_token": grant["refresh_token"]}, headers=AUTH)
    assert r.status_code == 201, r.text
    _check(doc, 201, "/accounts", "post", r.json())
    r = await api.post("/accounts/t1:generic:o1/refresh", headers=AUTH)
    _check(doc, 200, "/accounts/{key}/refresh", "post", r.json())
    r = await api.get("/accounts/t1:generic:o1", headers=AUTH)
    view = r.json()
    _check(doc, 200, "/accounts/{key}", "get", view)
    # epoch seconds with an RFC 3339 twin
    assert isinstance(view["expires_at"], float)
    parsed = dt.datetime.fromisoformat(view["expires_at_rfc3339"].replace("Z", "+00:00"))
    assert abs(parsed.timestamp() - view["expires_at"]) < 0.001
    r = await api.get("/accounts", headers=AUTH)
    _check(doc, 200, "/accounts", "get", r.json())
    assert r.json()["accounts"][0]["alarm_at_rfc3339"].endswith("Z")
    r = await api.get("/accounts/t1:generic:nobody", headers=AUTH)
    _check(doc, 404, "/accounts/{key}", "get", r.json())
    r = await api.post("/accounts", json={"key": "t1:generic:o2"}, headers=AUTH)
    assert r.status_code == 422
    _check(doc, 422, "/accounts", "post", r.json())
    r = await api.get("/health")
    _check(doc, 200, "/health", "get", r.json())
    r = await api.delete("/accounts/t1:generic:o1", params={"revoke": "false"}, headers=AUTH)
    _check(doc, 200, "/accounts/{key}", "delete", r.json())
    assert CLIENT_SECRET not in str(doc)


async def _ready(host: Host, **limits: float) -> httpx.Response:
    app = create_app(host.runtime, token=ADMIN_TOKEN, ready_limits=ReadyLimits(**limits))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8787") as c:
        return await c.get("/ready")


async def test_ready_checks_each_condition(host: Host, sandbox) -> None:
    r = await _ready(host)
    assert r.status_code == 503 and r.json()["checks"]["scheduler"]["ok"] is False  # not started yet
    stop = asyncio.Event()
    task = asyncio.ensure_future(host.runtime.run(stop))
    try:
        for _ in range(100):
            if host.runtime.stats()["running"]:
                break
            await asyncio.sleep(0.05)
        r = await _ready(host)
        assert r.status_code == 200, r.json()
        assert {k for k, c in r.json()["checks"].items() if c["ok"]} == {"database", "keys", "scheduler", "overdue"}

        # an alarm overdue beyond the limit (an account whose alarm was due an hour ago, under another lease
        # owner's expired lease it is still due: the scheduler would take it, so stop the scheduler first)
        stop.set()
        await task
        grant = sandbox.mint("ui-client")
        await host.runtime.register("t1:generic:late", client="sandbox", refresh_token=grant["refresh_token"])
        db = sqlite3.connect(host.runtime.store.path)
        with db:
            db.execute("UPDATE accounts SET alarm_at = ? WHERE key = ?", (host.runtime.clock.now() - 3600,
                                                                          "t1:generic:late"))
        db.close()
        body = (await _ready(host, max_overdue=600)).json()
        assert body["checks"]["overdue"]["ok"] is False and body["checks"]["overdue"]["value"] >= 3600 - 5

        # the database does not take writes: another connection holds the write lock
        blocker = sqlite3.connect(host.runtime.store.path, timeout=0, check_same_thread=False)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            body = (await _ready(host)).json()
            assert body["checks"]["database"]["ok"] is False
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()

        # keys that do not open the database (the store re-checks with its current codec)
        from freshtoken.embedded import AesGcmCodec

        saved = host.runtime.store.codec
        host.runtime.store.codec = AesGcmCodec.from_spec(generate_key("wrong"))
        try:
            body = (await _ready(host)).json()
            assert body["checks"]["keys"]["ok"] is False and "'test'" in body["checks"]["keys"]["detail"]
            assert "wrong:" not in str(body)
        finally:
            host.runtime.store.codec = saved
    finally:
        stop.set()
        if not task.done():
            await task


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
async def test_ready_read_only_database(host: Host) -> None:
    path = host.runtime.store.path
    os.chmod(path, 0o400)
    try:
        host.runtime.store.close()  # reopened read-only on next use
        body = (await _ready(host)).json()
        assert body["checks"]["database"]["ok"] is False
    finally:
        os.chmod(path, 0o600)
