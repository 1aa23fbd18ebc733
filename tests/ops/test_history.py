"""The per-account event history: recorded from the event hooks off the refresh path (batched), bounded per
account, readable by ``GET /accounts/{key}/events`` (validated against its model) and ``accounts events KEY``,
and never a secret in the SQLite file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from freshtoken.admin import create_app
from freshtoken.admin.account_events import AccountEvents
from freshtoken.admin.auth import AdminToken, Scope
from freshtoken.host.config import load_settings
from freshtoken.host.factory import build_host
from freshtoken.redaction import secret_forms
from freshtoken.sandbox.server import Fault
from tests.admin.support import ADMIN_TOKEN, CLIENT_ID, CLIENT_SECRET, write_config
from tests.raw_files import raw_bytes

KEY = "t1:generic:h"
BIN = Path(sys.executable).parent / "freshtoken"
SCOPED = "PLANTED-scoped-token-t2-0b9e"


def issued(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = sandbox.app._token_body

    def recording(rt: str | None) -> dict[str, Any]:
        body: dict[str, Any] = original(rt)
        seen.extend(v for k, v in body.items() if k in ("access_token", "refresh_token") and v)
        return body

    monkeypatch.setattr(sandbox.app, "_token_body", recording)
    return seen


def rows(db: Path, key: str) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT type, data FROM account_events WHERE key = ? ORDER BY id", (key,)).fetchall()


async def test_history_records_every_kind_of_event_serves_them_and_holds_no_secret(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = issued(sandbox, monkeypatch)
    host = build_host(load_settings(write_config(env, sandbox.token_url)))
    assert host.history is not None
    host.history.flush_interval = 3600.0  # only an explicit read or close writes: the test sees the batching
    rt = host.runtime
    db = env / "state.db"
    try:
        grant = sandbox.mint(CLIENT_ID)
        tokens += [grant["access_token"], grant["refresh_token"]]
        await rt.register(KEY, client="sandbox", refresh_token=grant["refresh_token"])
        assert (await rt.refresh_now(KEY)).kind.value == "refreshed"
        # off the refresh path: nothing is in the table yet, the refresh is done
        assert rows(db, KEY) == [] and host.history.written == 0
        sandbox.app.inject(Fault(503, {"error": "temporarily_unavailable",
                                       "error_description": f"leaked {CLIENT_SECRET} and {grant['refresh_token']}"}))
        assert (await rt.refresh_now(KEY)).kind.value == "retry_scheduled"
        assert (await rt.refresh_now(KEY)).kind.value == "refreshed"
        sandbox.app.inject(Fault(400, {"error": "invalid_grant", "error_description": "revoked"}))
        assert (await rt.refresh_now(KEY)).kind.value == "reauth_required"
        again = sandbox.mint(CLIENT_ID)
        tokens += [again["access_token"], again["refresh_token"]]
        await rt.register(KEY, client="sandbox", refresh_token=again["refresh_token"])
        app = create_app(rt, token=ADMIN_TOKEN, tokens=[AdminToken(SCOPED, Scope.parse("t2:*"))],
                         metrics=host.metrics, history=host.history)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as api:
            auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
            r = await api.get(f"/accounts/{KEY}/events", headers=auth)
            assert r.status_code == 200, r.text
            answer = AccountEvents.model_validate(r.json())
            types = [e.type for e in answer.events]
            assert types == ["recovered", "replaced", "reauth_required", "recovered", "refreshed", "refresh_failed",
                             "refreshed", "registered"], types
            failed = answer.events[5]
            assert failed.data["kind"] == "retryable" and failed.data["consecutive_failures"] == 1
            assert "[redacted]" in failed.data["error"] and failed.data["endpoint"].endswith("/token")
            assert answer.events[0].data["via"] == "reauth" and answer.events[3].data["via"] == "refresh"
            assert all(e.at_rfc3339.endswith("Z") for e in answer.events)
            page = (await api.get(f"/accounts/{KEY}/events", params={"limit": 3}, headers=auth)).json()
            assert [e["type"] for e in page["events"]] == types[:3]
            older = (await api.get(f"/accounts/{KEY}/events", params={"before": page["next_before"]},
                                   headers=auth)).json()
            assert [e["type"] for e in older["events"]] == types[3:]
            assert (await api.get("/accounts/t1:generic:nobody/events", headers=auth)).status_code == 404
            assert (await api.get(f"/accounts/{KEY}/events", params={"limit": 0}, headers=auth)).status_code == 400
            scoped = {"authorization": f"Bearer {SCOPED}"}  # another tenant's token: the account does not exist
            assert (await api.get(f"/accounts/{KEY}/events", headers=scoped)).status_code == 404
        assert await rt.remove(KEY)
    finally:
        await host.aclose()
    assert [t for t, _ in rows(db, KEY)][-1] == "removed"  # closing the host wrote the last batch
    check_cli_and_files(env, types, tokens)


def check_cli_and_files(env: Path, types: list[str], tokens: list[str]) -> None:
    """After the host is closed: the CLI reads the history from the file, and no secret is in the files."""
    # the CLI reads it from the file, without the encryption keys
    env_vars = {k: v for k, v in os.environ.items() if k not in ("FRESHTOKEN_ENCRYPTION_KEYS", "FRESHTOKEN_CONFIG")}
    proc = subprocess.run([str(BIN), "-c", str(env / "freshtoken.toml"), "accounts", "events", KEY, "--json"],
                          capture_output=True, text=True, timeout=60, env=env_vars)
    assert proc.returncode == 0, proc.stderr
    assert [e["type"] for e in json.loads(proc.stdout)["events"]] == ["removed", *types]
    text = subprocess.run([str(BIN), "-c", str(env / "freshtoken.toml"), "accounts", "events", KEY],
                          capture_output=True, text=True, timeout=60, env=env_vars)
    assert text.returncode == 0 and "refresh_failed" in text.stdout and "retryable, 1 in a row" in text.stdout
    # no secret in any encoding anywhere in the database files
    raw = raw_bytes(env.glob("state.db*")).decode("latin-1").lower()
    assert len(tokens) >= 6
    for secret in [*tokens, CLIENT_SECRET]:
        assert not any(form in raw for form in secret_forms(secret, CLIENT_ID)), secret[:8]


async def test_history_is_bounded_per_account(env: Path, sandbox: Any) -> None:
    host = build_host(load_settings(write_config(env, sandbox.token_url, extra="\n[history]\nper_account = 5\n")))
    assert host.history is not None
    try:
        for key in ("t1:generic:busy", "t1:generic:quiet"):
            await host.runtime.register(key, client="sandbox", refresh_token=sandbox.mint(CLIENT_ID)["refresh_token"])
        for _ in range(12):
            assert (await host.runtime.refresh_now("t1:generic:busy")).kind.value == "refreshed"
        busy = host.history.events("t1:generic:busy", limit=1000)
        quiet = host.history.events("t1:generic:quiet", limit=1000)
    finally:
        await host.aclose()
    assert len(busy) == 5 and [e["type"] for e in busy] == ["refreshed"] * 5
    assert [e["data"]["generation"] for e in busy] == [12, 11, 10, 9, 8]  # the newest five
    assert [e["type"] for e in quiet] == ["registered"]
    assert len(rows(env / "state.db", "t1:generic:busy")) == 5


async def test_history_off(env: Path, sandbox: Any) -> None:
    host = build_host(load_settings(write_config(env, sandbox.token_url, extra="\n[history]\nper_account = 0\n")))
    try:
        assert host.history is None
        app = create_app(host.runtime, token=ADMIN_TOKEN, history=host.history)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as api:
            r = await api.get(f"/accounts/{KEY}/events", headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
        assert r.status_code == 404 and "history is off" in r.json()["message"]
    finally:
        await host.aclose()
