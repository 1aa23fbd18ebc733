"""Machine accounts through the operator surfaces: ``freshtoken accounts add --strategy ...`` (no refresh token;
the credential is the client's configuration, a secret from the environment) and the admin API's
``POST /accounts`` with ``strategy``. Nothing secret appears in any output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from freshtoken.admin import create_app
from freshtoken.cli import main
from freshtoken.host.config import load_settings
from freshtoken.host.factory import build_host
from tests.admin.support import ADMIN_TOKEN, CLIENT_SECRET, env, sandbox, write_config

from .conftest import KeyPair

__all__ = ["env", "sandbox"]  # the fixtures, used by name
AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def machine_clients(token_url: str) -> str:
    return f"""
[clients.machine]
provider = "generic"
client_id = "ui-client"
client_secret = {{ env = "FT_TEST_CLIENT_SECRET" }}
auth_method = "client_secret_basic"
[clients.machine.provider_options]
token_url = "{token_url}"
timeout = 5.0
[clients.machine.provider_options.strategy_options.client_credentials]
scope = "reports:read"

[clients.signer]
provider = "generic"
client_id = "ui-client"
private_key = {{ env = "FT_TEST_SIGNING_KEY" }}
[clients.signer.provider_options]
token_url = "{token_url}"
timeout = 5.0
[clients.signer.provider_options.strategy_options.jwt_bearer]
issuer = "svc@ui"
"""


@pytest.fixture
def config(env: Path, sandbox: Any, keys: tuple[KeyPair, KeyPair], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("FT_TEST_SIGNING_KEY", keys[0].private_pem)
    sandbox.app.machine.trust_issuer("svc@ui", keys[0].public_pem)
    yield str(write_config(env, sandbox.token_url, extra=machine_clients(sandbox.token_url)))


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def no_secret(text: str, keys: tuple[KeyPair, KeyPair]) -> None:
    assert CLIENT_SECRET not in text
    assert keys[0].private_pem.splitlines()[3] not in text


def test_cli_adds_machine_accounts_without_a_refresh_token(config: str, sandbox: Any,
                                                           keys: tuple[KeyPair, KeyPair]) -> None:
    r = cli("-c", config, "accounts", "add", "t1:generic:reports", "--client", "machine",
            "--strategy", "client_credentials", "--json")
    assert r.exit_code == 0, r.stderr
    view = json.loads(r.stdout)
    assert view["strategy"] == "client_credentials" and view["has_refresh_token"] is False
    r = cli("-c", config, "accounts", "refresh", "t1:generic:reports", "--json")
    assert r.exit_code == 0, r.stderr
    assert sandbox.app.last_request["params"] == {"grant_type": "client_credentials", "scope": "reports:read"}
    r = cli("-c", config, "accounts", "add", "t1:generic:signer", "--client", "signer", "--strategy", "jwt_bearer")
    assert r.exit_code == 0, r.stderr
    r = cli("-c", config, "accounts", "refresh", "t1:generic:signer")
    assert r.exit_code == 0, r.stderr
    assert sandbox.app.machine.last_claims["iss"] == "svc@ui"
    shown = cli("-c", config, "accounts", "show", "t1:generic:signer")
    assert "strategy:        jwt_bearer" in shown.stdout and "refresh token:   none" in shown.stdout
    token = cli("-c", config, "token", "get", "t1:generic:reports")
    assert token.exit_code == 0 and token.stdout.strip().startswith("at-")
    for result in (r, shown, token):
        no_secret(result.stdout + result.stderr, keys)


def test_cli_refuses_a_refresh_token_for_a_machine_strategy(config: str, keys: tuple[KeyPair, KeyPair]) -> None:
    r = cli("-c", config, "accounts", "add", "t1:generic:x", "--client", "machine", "--strategy",
            "client_credentials", "--refresh-token", "rt-not-wanted")
    assert r.exit_code != 0 and "holds no refresh token" in r.stderr and "Traceback" not in r.stderr
    assert "rt-not-wanted" not in r.stderr
    r = cli("-c", config, "accounts", "add", "t1:generic:x", "--client", "machine", "--strategy", "no such")
    assert r.exit_code != 0 and "strategy" in r.stderr


async def test_admin_api_registers_a_machine_account(config: str, sandbox: Any,
                                                     keys: tuple[KeyPair, KeyPair]) -> None:
    host = build_host(load_settings(Path(config)))
    try:
        app = create_app(host.runtime, token=ADMIN_TOKEN, metrics=host.metrics, secrets=[CLIENT_SECRET])
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8787",
                                     headers={"content-type": "application/json"}) as api:
            r = await api.post("/accounts", headers=AUTH,
                               json={"key": "t1:generic:api", "client": "machine", "strategy": "client_credentials"})
            assert r.status_code == 201, r.text
            assert r.json()["strategy"] == "client_credentials" and r.json()["has_refresh_token"] is False
            r = await api.post("/accounts/t1:generic:api/refresh", headers=AUTH)
            assert r.status_code == 200 and r.json()["kind"] == "refreshed", r.text
            r = await api.get("/accounts/t1:generic:api", headers=AUTH)
            assert r.json()["status"] == "active" and r.json()["scope"] == "reports:read"
            r = await api.post("/accounts", headers=AUTH, json={
                "key": "t1:generic:api2", "client": "machine", "strategy": "client_credentials",
                "refresh_token": "rt-not-wanted"})
            assert r.status_code in (400, 422) and "holds no refresh token" in r.json()["message"]
            assert "rt-not-wanted" not in r.text
            r = await api.post("/accounts", headers=AUTH, json={"key": "t1:generic:s", "client": "signer",
                                                               "strategy": "jwt_bearer"})
            assert r.status_code == 201, r.text
            no_secret(r.text, keys)
    finally:
        await host.aclose()


def test_providers_lists_the_strategies() -> None:
    r = cli("providers", "--json")
    data = json.loads(r.stdout)
    assert {"refresh_token", "client_credentials", "jwt_bearer", "github_app_installation"} <= set(data["strategies"])
    by_name = {p["name"]: p for p in data["providers"]}
    assert by_name["generic"]["strategies"] == ["refresh_token", "client_credentials", "jwt_bearer"]
    assert by_name["google"]["strategies"] == ["refresh_token", "jwt_bearer"]  # an installed plugin's own
    assert by_name["github"]["strategies"] == ["refresh_token", "github_app_installation"]
    human = cli("providers").stdout
    assert "strategies: client_credentials, github_app_installation, jwt_bearer, refresh_token" in human
