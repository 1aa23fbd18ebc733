"""``--log-format json``: a real ``freshtoken serve`` against the sandbox; every stderr line is a JSON object, one
INFO line per refresh, failure, re-authorisation and recovery with its fields, and no secret in any encoding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from freshtoken.redaction import secret_forms
from freshtoken.sandbox.server import Fault
from tests.admin.support import ADMIN_TOKEN, CLIENT_ID, CLIENT_SECRET, write_config
from tests.ops.serve_process import ServeProcess

KEY = "acme:generic:42"
#: A query string on the token endpoint: a deployment may carry a key there; it must never be logged.
QUERY_SECRET = "PLANTEDquerysecret9c1"


def issued_tokens(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every access and refresh token the sandbox hands out from now on (recorded at the source)."""
    seen: list[str] = []
    original = sandbox.app._token_body

    def recording(rt: str | None) -> dict[str, Any]:
        body: dict[str, Any] = original(rt)
        seen.extend(v for k, v in body.items() if k in ("access_token", "refresh_token") and v)
        return body

    monkeypatch.setattr(sandbox.app, "_token_body", recording)
    return seen


def assert_no_secret(text: str, secrets: list[str]) -> None:
    lowered = text.lower()
    for secret in secrets:
        for form in secret_forms(secret, CLIENT_ID):
            assert form not in lowered, f"a form of a secret ({secret[:6]}...) is in the log: {form!r}"


@pytest.mark.parametrize("where", ["serve", "group", "config"])
def test_serve_json_logs_one_line_per_refresh_failure_reauth_recovery(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    tokens = issued_tokens(sandbox, monkeypatch)
    grant = sandbox.mint(CLIENT_ID)
    tokens += [grant["access_token"], grant["refresh_token"]]
    extra = '\n[logging]\nformat = "json"\n' if where == "config" else ""
    config = write_config(env, f"{sandbox.token_url}?audit={QUERY_SECRET}", extra=extra)
    serve = ServeProcess(config, group_args=("--log-format", "json") if where == "group" else (),
                         serve_args=("--log-format", "json") if where == "serve" else ())
    try:
        url = serve.wait_for(r"admin API on (http://[^\s;]+)").group(1)
        auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        with httpx.Client(base_url=url, headers=auth, trust_env=False, timeout=30) as api:
            r = api.post("/accounts", json={"key": KEY, "client": "sandbox", "refresh_token": grant["refresh_token"],
                                            "access_token": grant["access_token"], "expires_in": 3600})
            assert r.status_code == 201, r.text
            assert api.post(f"/accounts/{KEY}/refresh", json={}).json()["kind"] == "refreshed"
            sandbox.app.inject(Fault(503, {"error": "temporarily_unavailable",
                                           "error_description": f"echo {CLIENT_SECRET}"}))
            assert api.post(f"/accounts/{KEY}/refresh", json={}).json()["kind"] == "retry_scheduled"
            assert api.post(f"/accounts/{KEY}/refresh", json={}).json()["kind"] == "refreshed"
            sandbox.app.inject(Fault(400, {"error": "invalid_grant", "error_description": "revoked by the user"}))
            assert api.post(f"/accounts/{KEY}/refresh", json={}).json()["kind"] == "reauth_required"
        serve.wait_until(lambda: sum('"reauth_required"' in line for line in serve.lines) >= 1)
    finally:
        code = serve.stop()
    assert code == 0, "\n".join(serve.lines)
    records = serve.json_lines()  # every line, not only ours
    assert all({"ts", "level", "logger", "message"} <= set(r) for r in records)
    ours = [r for r in records if r["logger"] == "freshtoken.refreshes"]
    by_event = [r["event"] for r in ours if r["event"] != "registered"]
    assert by_event == ["refreshed", "refresh_failed", "refreshed", "recovered", "reauth_required"], ours
    assert all(r["level"] == "INFO" and r["key"] == KEY and r["provider"] == "generic" for r in ours)
    refreshed, failed, again, recovered, reauth = [r for r in ours if r["event"] != "registered"]
    for r in (refreshed, failed, again, reauth):
        host_path = sandbox.token_url.split("://", 1)[1]
        assert r["endpoint"] == host_path, r  # host and path, no query
        assert isinstance(r["duration_s"], float) and r["duration_s"] >= 0
        assert isinstance(r["generation"], int)
    assert refreshed["outcome"] == "refreshed" and refreshed["next_alarm"].endswith("Z")
    assert again["generation"] == refreshed["generation"] + 1
    assert failed["outcome"] == "retryable" and failed["failures"] == 1 and failed["next_alarm"]
    assert "temporarily_unavailable" in failed["error"] and "[redacted]" in failed["error"]
    assert recovered["previous_status"] == "retrying" and recovered["failures"] == 1
    assert reauth["outcome"] == "reauth_required" and reauth["next_alarm"] is None
    text = "\n".join(serve.lines)
    assert QUERY_SECRET not in text and "audit=" not in text
    assert len(tokens) >= 6
    assert_no_secret(text, [*tokens, CLIENT_SECRET, ADMIN_TOKEN])


@pytest.mark.parametrize("args", [("serve", "--log-format", "json"), ("--log-format", "json", "serve")])
def test_a_configuration_error_is_a_json_line_too(env: Path, sandbox: Any, args: tuple[str, ...]) -> None:
    config = write_config(env, sandbox.token_url, extra='\n[metrics]\nlisten = "nowhere"\n')
    group, serve_args = (args[:2], args[3:]) if args[0] == "--log-format" else ((), args[1:])
    serve = ServeProcess(config, group_args=group, serve_args=serve_args)
    serve.proc.wait(timeout=60)  # it stops by itself (liveness bound only)
    code = serve.stop()
    assert code == 2, serve.lines
    [line] = serve.json_lines()
    assert line["level"] == "ERROR" and "metrics.listen" in line["message"] and line["message"].startswith("error: ")
