"""The CLI through click's CliRunner, and as a real process (demo, serve + SIGTERM)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner, Result

from freshtoken.cli import main
from freshtoken.embedded.crypto import parse_keys
from tests.admin.support import write_config

BIN = Path(sys.executable).parent / "freshtoken"


def cli(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def config(env: Path, sandbox) -> str:
    return str(write_config(env, sandbox.token_url))


def assert_one_line_error(result: Result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def test_group_is_importable_and_extensible() -> None:
    assert isinstance(main, click.Group)
    assert {"providers", "serve", "accounts", "token", "keys", "config", "connect", "simulate", "demo"} \
        <= set(main.commands)
    assert set(main.commands["accounts"].commands) == {  # type: ignore[attr-defined]
        "add", "list", "show", "refresh", "remove", "events", "import", "export"}
    from freshtoken.cli import _optional

    _optional("no_such_module_here", "cmd")  # a missing optional module is skipped


def test_keys_generate() -> None:
    r = cli("keys", "generate", "--kid", "k1")
    assert r.exit_code == 0
    [(kid, key)] = parse_keys(r.stdout.strip())
    assert kid == "k1" and len(key) == 32
    r = cli("keys", "generate", "--json")
    assert json.loads(r.stdout)["env"] == "FRESHTOKEN_ENCRYPTION_KEYS"
    assert_one_line_error(cli("keys", "generate", "--kid", "bad kid!"), 2, "key id")


def test_providers() -> None:
    r = cli("providers", "--json")
    data = json.loads(r.stdout)
    generic = next(p for p in data["providers"] if p["name"] == "generic")
    assert generic["distribution"] == "freshtoken" and generic["version"]
    assert isinstance(data["broken"], list)
    r = cli("providers")
    assert r.stdout.splitlines()[0].split() == ["PROVIDER", "DISTRIBUTION", "VERSION", "PLUGIN"]


def test_accounts_lifecycle_and_token_get(config: str, sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    grant = sandbox.mint("ui-client")
    monkeypatch.setenv("MY_RT", grant["refresh_token"])
    r = cli("-c", config, "accounts", "add", "t1:generic:u1", "--client", "sandbox", "--refresh-token-env", "MY_RT")
    assert r.exit_code == 0 and r.stdout.strip() == "registered t1:generic:u1 (client sandbox, status pending)"

    r = cli("-c", config, "accounts", "list", "--json")
    [row] = json.loads(r.stdout)["accounts"]
    assert row["key"] == "t1:generic:u1" and row["status"] == "pending"

    r = cli("-c", config, "accounts", "refresh", "t1:generic:u1")
    assert r.exit_code == 0 and r.stdout.startswith("t1:generic:u1: refreshed (generation 1")

    r = cli("-c", config, "accounts", "show", "t1:generic:u1")
    assert "status:          active" in r.stdout and "stored (encrypted)" in r.stdout
    r = cli("-c", config, "accounts", "show", "t1:generic:u1", "--json")
    assert json.loads(r.stdout)["generation"] == 1

    r = cli("-c", config, "accounts", "list")
    assert r.stdout.splitlines()[0].split()[:3] == ["ACCOUNT", "CLIENT", "STATUS"]
    assert "t1:generic:u1" in r.stdout and "active" in r.stdout

    r = cli("-c", config, "token", "get", "t1:generic:u1")
    token = r.stdout.strip()
    assert r.exit_code == 0 and token.startswith("at-")
    r = cli("-c", config, "token", "get", "t1:generic:u1", "--json")
    record = json.loads(r.stdout)
    assert record["access_token"] == token and record["generation"] == 1 and "refresh_token" not in record

    r = cli("-c", config, "accounts", "remove", "t1:generic:u1", "--json")
    assert json.loads(r.stdout) == {"key": "t1:generic:u1", "removed": True}
    assert_one_line_error(cli("-c", config, "accounts", "remove", "t1:generic:u1"), 1, "no account is registered")
    assert_one_line_error(cli("-c", config, "token", "get", "t1:generic:u1"), 1, "no token in KV")


def test_refresh_token_from_stdin(config: str, sandbox) -> None:
    grant = sandbox.mint("ui-client")
    r = cli("-c", config, "accounts", "add", "t1:generic:stdin", "--client", "sandbox", "--refresh-token", "-",
            input=grant["refresh_token"] + "\n")
    assert r.exit_code == 0
    assert cli("-c", config, "accounts", "refresh", "t1:generic:stdin").exit_code == 0


def test_operation_failures_exit_1(config: str) -> None:
    r = cli("-c", config, "accounts", "add", "t1:generic:dead", "--client", "sandbox", "--refresh-token", "rt-unknown")
    assert r.exit_code == 0
    assert_one_line_error(cli("-c", config, "accounts", "refresh", "t1:generic:dead"), 1,
                          "reauth_required", "invalid_grant")
    r = cli("-c", config, "accounts", "refresh", "t1:generic:dead", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["ok"] is False
    assert_one_line_error(cli("-c", config, "accounts", "show", "t1:generic:nobody"), 1, "t1:generic:nobody")


def test_usage_and_config_errors_exit_2(config: str, env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = cli("-c", config, "accounts", "add", "t1:generic:x")
    assert r.exit_code == 2 and "--client" in r.stderr
    assert_one_line_error(cli("-c", "missing.toml", "accounts", "list"), 2, "missing.toml", "does not exist")
    bad = env / "bad.toml"
    bad.write_text("[runtime\n")
    assert_one_line_error(cli("-c", str(bad), "accounts", "list"), 2, "bad.toml", "not valid TOML")
    assert_one_line_error(cli("-c", config, "accounts", "add", "nocolons", "--client", "sandbox",
                              "--refresh-token", "x"), 2, "account key")
    assert_one_line_error(cli("-c", config, "accounts", "add", "t:generic:a", "--client", "nope",
                              "--refresh-token", "x"), 2, "unknown client 'nope'")
    assert_one_line_error(cli("-c", config, "accounts", "add", "t:generic:a", "--client", "sandbox",
                              "--refresh-token-env", "NOT_SET_ANYWHERE"), 2, "NOT_SET_ANYWHERE")
    monkeypatch.delenv("FT_TEST_ADMIN_TOKEN")
    assert_one_line_error(cli("-c", config, "serve", "--host", "0.0.0.0", "--port", "0"), 2,
                          "admin.token", "FT_TEST_ADMIN_TOKEN")
    monkeypatch.delenv("FRESHTOKEN_ENCRYPTION_KEYS")
    assert_one_line_error(cli("-c", config, "accounts", "list"), 2, "FRESHTOKEN_ENCRYPTION_KEYS is not set")


def test_serve_refuses_non_loopback_without_token(env: Path, sandbox) -> None:
    config = write_config(env, sandbox.token_url, admin_token=False)
    assert_one_line_error(cli("-c", str(config), "serve", "--host", "0.0.0.0", "--port", "0"), 2,
                          "refusing to serve the admin API on '0.0.0.0' without an admin token")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FRESHTOKEN_CONFIG", None)
    return env


def test_demo_as_a_real_process_serves_no_expired_token() -> None:
    proc = subprocess.run([str(BIN), "demo", "--duration", "8", "--json"], capture_output=True, text=True,
                          timeout=60, env=_env())
    assert proc.returncode == 0, proc.stderr
    summary: dict[str, Any] = json.loads(proc.stdout)
    assert summary["expired_tokens_served"] == 0
    assert summary["gateway"]["gaps_after_first_token"] == 0
    assert summary["gateway"]["served"] > 0
    assert summary["refreshes"] >= 2  # the new grant and the flaky provider's account, after a retry
    assert summary["refresh_failures"] >= 1
    assert summary["reauth_required"] == ["demo:sandbox:erin"]
    assert summary["sandbox"]["refresh_token_reuse_detected"] == 0
    assert summary["sandbox"]["overlapping_refreshes"] == 0
    assert "Traceback" not in proc.stderr


def test_serve_as_a_real_process_stops_cleanly_on_sigterm(env: Path, sandbox) -> None:
    config = write_config(env, sandbox.token_url)
    proc = subprocess.Popen([str(BIN), "-c", str(config), "serve", "--port", "0"], stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env={**_env(), **{k: os.environ[k] for k in (
                                "FT_TEST_CLIENT_SECRET", "FT_TEST_ADMIN_TOKEN", "FRESHTOKEN_ENCRYPTION_KEYS")}})
    try:
        url = None
        deadline = time.monotonic() + 20
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline() if proc.stderr else ""
            if not line:
                break
            m = re.search(r"admin API on (http://\S+)", line)
            url = m.group(1) if m else None
        assert url, "serve did not report its URL"
        assert httpx.get(f"{url}/health", trust_env=False).json()["status"] == "ok"
        assert httpx.get(f"{url}/accounts", trust_env=False).status_code == 401
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "freshtoken: stopped" in err and "Traceback" not in err


def test_missing_optional_dependency_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert_one_line_error(cli("demo", "--duration", "1"), 2, "pip install 'freshtoken[server]'")
