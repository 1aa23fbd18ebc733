"""Every strategy on the embedded runtime, against the loopback sandbox, in virtual time: the first token at
registration, then a refresh ahead of each expiry (lead = 600 s), the token in KV, nothing per-account that is
not needed; the server verifies what it is sent (client authentication, the assertion's claims, the app JWT)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import freshtoken_github
import pytest

from freshtoken import ConfigError, OAuthClient, TokenReader
from freshtoken.sandbox.server import SandboxServer

from .conftest import CLIENT_ID, CLIENT_SECRET, HOUR, KeyPair, MachineHost

LEAD = 600.0


def cc_client(sandbox: SandboxServer, *, secret: str = CLIENT_SECRET, **options: object) -> OAuthClient:
    return OAuthClient(
        name="m2m", provider="generic", client_id=CLIENT_ID, client_secret=secret,
        provider_options={"token_url": sandbox.token_url, "timeout": 5.0,
                          "strategy_options": {"client_credentials": {"scope": "orders:read"}}, **options},
    )


def jwt_client(sandbox: SandboxServer, key: KeyPair, *, issuer: str = "svc@sandbox") -> OAuthClient:
    return OAuthClient(
        name="svc", provider="generic", client_id=CLIENT_ID, private_key=key.private_pem,
        provider_options={"token_url": sandbox.token_url, "timeout": 5.0,
                          "strategy_options": {"jwt_bearer": {"issuer": issuer, "scope": "reports"}}},
    )


def app_client(sandbox: SandboxServer, key: KeyPair, *, app_id: str = "Iv1.sandboxapp") -> OAuthClient:
    return OAuthClient(
        name="app", provider="github", client_id=app_id, private_key=key.private_pem,
        provider_options={"timeout": 5.0, "strategy_options": {"github_app_installation": {"api_url": sandbox.url}}},
    )


async def refreshes_ahead(host: MachineHost, key: str, rounds: int) -> list[str]:
    """Step through ``rounds`` alarms; each comes LEAD seconds before the token in KV expires. The tokens seen."""
    reader = TokenReader(host.kv, clock=host.clock)
    seen = []
    for _ in range(rounds):
        record = await reader.get(key)
        seen.append(record.access_token)
        alarm = host.store.next_alarm_at()
        assert alarm is not None and record.expires_at is not None
        assert alarm == pytest.approx(record.expires_at - LEAD, abs=1.0)  # ahead of expiry, by the lead
        assert await host.step() == 1
    return seen


def test_generic_declares_the_machine_strategies() -> None:
    from freshtoken.providers.generic import GenericProvider

    assert set(GenericProvider.strategies) >= {"refresh_token", "client_credentials", "jwt_bearer"}


async def test_client_credentials_refreshes_ahead_of_expiry(
    machine_sandbox: SandboxServer, host_factory: Callable[..., MachineHost]
) -> None:
    host = host_factory({"m2m": cc_client(machine_sandbox)})
    view = await host.rt.register("acme:generic:orders-api", client="m2m", strategy="client_credentials")
    assert view["strategy"] == "client_credentials" and view["has_refresh_token"] is False
    assert await host.rt.run_due() == 1
    sent = machine_sandbox.app.last_request["params"]
    assert sent["grant_type"] == "client_credentials" and sent["scope"] == "orders:read"
    tokens = await refreshes_ahead(host, "acme:generic:orders-api", 4)
    assert len(set(tokens)) == 4
    assert machine_sandbox.app.machine.stats.client_credentials == 5
    status = await host.rt.status("acme:generic:orders-api")
    assert status["status"] == "active" and status["has_refresh_token"] is False and status["scope"] == "orders:read"
    assert host.events.names().count("refresh_succeeded") == 5


async def test_jwt_bearer_claims_are_verified_by_the_server_and_refresh_ahead(
    machine_sandbox: SandboxServer, host_factory: Callable[..., MachineHost], keys: tuple[KeyPair, KeyPair]
) -> None:
    trusted, _ = keys
    machine_sandbox.app.machine.trust_issuer("svc@sandbox", trusted.public_pem, subjects=["alice@acme.example"])
    host = host_factory({"svc": jwt_client(machine_sandbox, trusted)})
    await host.rt.register("acme:generic:alice", client="svc", strategy="jwt_bearer",
                           account_data={"subject": "alice@acme.example"})
    assert await host.rt.run_due() == 1
    claims = machine_sandbox.app.machine.last_claims
    assert claims["iss"] == "svc@sandbox" and claims["sub"] == "alice@acme.example"
    assert claims["aud"] == machine_sandbox.token_url
    assert claims["iat"] == int(host.clock.now()) and claims["exp"] == claims["iat"] + 300
    await refreshes_ahead(host, "acme:generic:alice", 3)
    assert machine_sandbox.app.machine.stats.jwt_bearer == 4
    assert len(machine_sandbox.app.machine.seen_jti) == 4  # a fresh jti each time
    assert machine_sandbox.app.last_request["params"]["scope"] == "reports"
    # RFC 7523 §2.1: the assertion is the credential; no client secret, no client_id beside it
    assert set(machine_sandbox.app.last_request["params"]) == {"grant_type", "assertion", "scope"}
    assert "authorization" not in machine_sandbox.app.last_request["headers"]


async def test_jwt_bearer_a_subject_the_issuer_may_not_act_for_is_refused(
    machine_sandbox: SandboxServer, host_factory: Callable[..., MachineHost], keys: tuple[KeyPair, KeyPair]
) -> None:
    trusted, _ = keys
    machine_sandbox.app.machine.trust_issuer("svc@sandbox", trusted.public_pem, subjects=["alice@acme.example"])
    host = host_factory({"svc": jwt_client(machine_sandbox, trusted)})
    await host.rt.register("acme:generic:mallory", client="svc", strategy="jwt_bearer",
                           account_data={"subject": "mallory@acme.example"})
    await host.rt.run_due()
    status = await host.rt.status("acme:generic:mallory")
    assert status["status"] == "misconfigured" and "subject" in status["last_error"]


async def test_github_app_installation_tokens_refresh_ahead_of_expires_at(
    machine_sandbox: SandboxServer, host_factory: Callable[..., MachineHost], keys: tuple[KeyPair, KeyPair]
) -> None:
    trusted, _ = keys
    machine_sandbox.app.machine.install_app("Iv1.sandboxapp", trusted.public_pem, "4242")
    host = host_factory({"app": app_client(machine_sandbox, trusted)}, extra_plugins=(freshtoken_github,))
    await host.rt.register("acme:github:install-4242", client="app", strategy="github_app_installation",
                           account_data={"installation_id": "4242"})
    assert await host.rt.run_due() == 1
    seen = machine_sandbox.app.machine.last_github
    assert seen["installation_id"] == "4242"
    assert seen["headers"]["accept"] == "application/vnd.github+json"
    assert seen["headers"]["x-github-api-version"] == "2022-11-28"
    record = await TokenReader(host.kv, clock=host.clock).get("acme:github:install-4242")
    assert record.access_token.startswith("ghs_")
    assert record.expires_at == int(host.clock.now() + HOUR)  # from the ISO-8601 expires_at
    await refreshes_ahead(host, "acme:github:install-4242", 3)
    assert machine_sandbox.app.machine.stats.installation_tokens == 4


async def test_machine_registrations_are_checked(
    machine_sandbox: SandboxServer, host_factory: Callable[..., MachineHost], keys: tuple[KeyPair, KeyPair]
) -> None:
    trusted, _ = keys
    host = host_factory({"m2m": cc_client(machine_sandbox), "app": app_client(machine_sandbox, trusted)},
                        extra_plugins=(freshtoken_github,))
    with pytest.raises(ConfigError, match="holds no refresh token"):
        await host.rt.register("acme:generic:x", client="m2m", strategy="client_credentials", refresh_token="rt-1")
    with pytest.raises(ConfigError, match="unknown strategy 'magic'"):
        await host.rt.register("acme:generic:x", client="m2m", strategy="magic")
    with pytest.raises(ConfigError, match="needs account data installation_id"):
        await host.rt.register("acme:github:y", client="app", strategy="github_app_installation")
    with pytest.raises(ConfigError, match="does not support strategy 'github_app_installation'"):
        await host.rt.register("acme:generic:y", client="m2m", strategy="github_app_installation")
    with pytest.raises(ConfigError, match="private_key"):
        await host.rt.register("acme:generic:z", client="m2m", strategy="jwt_bearer")
    assert await host.rt.run_due() == 0  # nothing was stored


async def test_the_private_key_is_never_in_a_file(
    machine_sandbox: SandboxServer, host_factory: Callable[..., MachineHost], keys: tuple[KeyPair, KeyPair],
    tmp_path: Path,
) -> None:
    trusted, _ = keys
    machine_sandbox.app.machine.trust_issuer("svc@sandbox", trusted.public_pem)
    host = host_factory({"svc": jwt_client(machine_sandbox, trusted)})
    await host.rt.register("acme:generic:svc", client="svc", strategy="jwt_bearer")
    await host.rt.run_due()
    assert (await host.rt.status("acme:generic:svc"))["status"] == "active"
    await host.close()
    body = trusted.private_pem.splitlines()[5].encode()
    assert body not in files_bytes(tmp_path)


def files_bytes(root: Path) -> bytes:
    return b"".join(f.read_bytes() for f in root.rglob("*") if f.is_file())
