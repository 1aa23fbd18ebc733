"""Plant secrets (client secret, admin token, refresh tokens, access tokens, a provider that echoes the refresh
token in its error) and look for them in logs, API responses, CLI output, metrics, files and exception text."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from freshtoken.admin import create_app
from freshtoken.cli import main
from freshtoken.errors import FreshtokenError
from freshtoken.host.config import load_settings
from freshtoken.host.factory import build_host
from freshtoken.sandbox.server import Fault
from tests.admin.support import ADMIN_TOKEN, CLIENT_SECRET, write_config
from tests.raw_files import raw_bytes

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def sandbox_secrets(sandbox) -> set[str]:
    """Every refresh token the sandbox ever issued."""
    out = set()
    for fam in sandbox.app.families.values():
        out.add(fam.current)
        if fam.previous:
            out.add(fam.previous)
    return out


async def test_no_planted_secret_anywhere(
    env: Path, sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = write_config(env, sandbox.token_url)
    host = build_host(load_settings(config))
    app = create_app(host.runtime, token=ADMIN_TOKEN, metrics=host.metrics,
                     secrets=host.settings.secret_values())
    seen: list[str] = []  # every text produced for a human or a client
    access_tokens: set[str] = set()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1",
                                     headers={"content-type": "application/json"}) as api:
            async def call(method: str, path: str, **kw: Any) -> httpx.Response:
                r = await api.request(method, path, headers=AUTH, **kw)
                seen.append(r.text)
                return r

            # a healthy account, registered with a current access token, then refreshed (rotation)
            g1 = sandbox.mint("ui-client")
            access_tokens.add(g1["access_token"])
            await call("POST", "/accounts", json={"key": "t1:generic:ok", "client": "sandbox",
                                                  "refresh_token": g1["refresh_token"],
                                                  "access_token": g1["access_token"], "expires_at": 4e9})
            await call("POST", "/accounts/t1:generic:ok/refresh")
            record = json.loads(await host.kv.get("t1:generic:ok"))
            access_tokens.add(record["access_token"])
            # a provider that echoes the refresh token in a retryable error, then in an invalid_grant
            g2 = sandbox.mint("ui-client")
            await call("POST", "/accounts", json={"key": "t1:generic:echo", "client": "sandbox",
                                                  "refresh_token": g2["refresh_token"]})
            sandbox.app.inject(
                Fault(503, {"error": "server_error", "error_description": f"cannot use {g2['refresh_token']}"}),
                Fault(400, {"error": "invalid_grant", "error_description": f"{g2['refresh_token']} revoked"}),
            )
            await call("POST", "/accounts/t1:generic:echo/refresh")
            await call("POST", "/accounts/t1:generic:echo/refresh")
            # bad requests that carry secrets
            await call("POST", "/accounts", json={"key": "bad key", "client": "sandbox",
                                                  "refresh_token": "PLANTED-rt-in-bad-request"})
            await call("POST", "/accounts", json={"key": "t:generic:x", "client": "sandbox",
                                                  "refresh_token": ["PLANTED-rt-as-list"]})
            await call("POST", "/accounts", json={"key": "t:generic:x", "client": "nope",
                                                  "refresh_token": "PLANTED-rt-unknown-client"})
            await call("POST", "/accounts", content=b'{"refresh_token": "PLANTED-rt-in-bad-json"',
                       )
            for path in ("/accounts", "/accounts/t1:generic:ok", "/accounts/t1:generic:echo", "/metrics"):
                await call("GET", path)
            seen.append((await api.get("/health")).text)
            # wrong tokens near the real one
            r = await api.get("/accounts", headers={"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"})
            seen.append(r.text)

        state = await host.runtime.status("t1:generic:echo")
        assert state["status"] == "reauth_required"
        seen.append(json.dumps(state))
        # exception text
        for bad in (lambda: host.runtime.register("t1:generic:z", client="sandbox", refresh_token=None,
                                                  access_token="PLANTED-at-no-rt"),
                    lambda: host.runtime.register("t1:generic:z", client="ghost", refresh_token="PLANTED-rt-ghost")):
            with pytest.raises(FreshtokenError) as info:
                await bad()
            seen.append(str(info.value))
            seen.append(repr(info.value))
    finally:
        await host.aclose()

    # the CLI, on the same files (token get excepted: printing the token is its job)
    runner = CliRunner()
    for args in (["accounts", "list"], ["accounts", "list", "--json"], ["accounts", "show", "t1:generic:ok"],
                 ["accounts", "show", "t1:generic:echo", "--json"], ["accounts", "refresh", "t1:generic:ok"],
                 ["accounts", "refresh", "t1:generic:echo", "--json"], ["accounts", "remove", "t1:generic:ok"]):
        r = await asyncio.to_thread(runner.invoke, main, ["-c", str(config), *args])
        assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
        seen.append(r.stdout + r.stderr)
    monkeypatch.setenv("FT_TEST_CLIENT_SECRET", "")
    r = await asyncio.to_thread(runner.invoke, main, ["-c", str(config), "accounts", "list"])
    assert r.exit_code == 2
    seen.append(r.stdout + r.stderr)

    planted = {CLIENT_SECRET, ADMIN_TOKEN, *sandbox_secrets(sandbox), *access_tokens,
               "PLANTED-rt-in-bad-request", "PLANTED-rt-as-list", "PLANTED-rt-unknown-client",
               "PLANTED-rt-in-bad-json", "PLANTED-at-no-rt", "PLANTED-rt-ghost"}
    assert len(planted) > 10
    everything = "\n".join(seen)
    assert "status:          active" in everything and '"status": "reauth_required"' in everything
    assert "removed t1:generic:ok" in everything and "environment variable FT_TEST_CLIENT_SECRET" in everything
    assert "[redacted]" in everything  # the echoing provider's text was kept, minus the token
    for secret in planted:
        assert secret not in everything, f"leaked {secret[:12]}... in outputs"
        assert secret not in caplog.text, f"leaked {secret[:12]}... in logs"
    # at rest: the state file holds no plaintext secret; KV holds access tokens only
    state_db = raw_bytes(sorted(env.glob("state.db*")))  # noqa: ASYNC240
    kv_files = raw_bytes(sorted(env.glob("kv.db*")))  # noqa: ASYNC240
    for secret in planted:
        assert secret.encode() not in state_db
        if secret not in access_tokens:
            assert secret.encode() not in kv_files
