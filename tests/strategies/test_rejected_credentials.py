"""A machine strategy whose credential is refused ends ``misconfigured``: alerted once, retried slowly (the
policy's misconfigured_delay) so that a fixed configuration heals, and never ``reauth_required`` — there is
no user to send back through a consent screen. And the server's replay protection: an assertion whose jti was
seen is refused."""

from __future__ import annotations

from collections.abc import Callable

import freshtoken_github
import httpx
import pytest

from freshtoken import RetryPolicy
from freshtoken.sandbox.server import SandboxServer
from freshtoken.strategies import jwt_bearer

from .conftest import CLIENT_SECRET, KeyPair, MachineHost
from .test_embedded_strategies import app_client, cc_client, jwt_client

SLOW = RetryPolicy().misconfigured_delay


async def assert_misconfigured_not_reauth(host: MachineHost, key: str) -> dict[str, object]:
    """First attempt and one slow retry: misconfigured both times, one alert, no re-auth, the alarm kept."""
    started = host.clock.now()
    assert await host.rt.run_due() == 1
    status = await host.rt.status(key)
    assert status["status"] == "misconfigured", status
    assert status["alarm_at"] == pytest.approx(started + SLOW)
    assert await host.step() == 1  # the slow retry comes, and fails the same way
    again = await host.rt.status(key)
    assert again["status"] == "misconfigured" and again["failures"] == 2
    assert again["alarm_at"] == pytest.approx(started + 2 * SLOW)
    failed = [e for n, e in host.events.seen if n == "refresh_failed"]
    assert [e.alert for e in failed] == [True, False]  # alerted once
    assert "reauth_required" not in host.events.names()
    return again


async def test_client_credentials_with_a_wrong_secret_is_misconfigured_and_heals_when_fixed(
    machine_sandbox: SandboxServer, host_factory: Callable[..., MachineHost]
) -> None:
    host = host_factory({"m2m": cc_client(machine_sandbox)})
    machine_sandbox.app.clients["sandbox-client"] = "rotated-at-the-provider"  # the secret no longer works
    await host.rt.register("acme:generic:orders", client="m2m", strategy="client_credentials")
    status = await assert_misconfigured_not_reauth(host, "acme:generic:orders")
    assert "invalid_client" in str(status["last_error"])
    machine_sandbox.app.clients["sandbox-client"] = CLIENT_SECRET  # fixed: the next slow retry heals
    assert await host.step() == 1
    assert (await host.rt.status("acme:generic:orders"))["status"] == "active"


async def test_jwt_bearer_signed_with_an_unknown_key_is_misconfigured_not_reauth(
    machine_sandbox: SandboxServer, host_factory: Callable[..., MachineHost], keys: tuple[KeyPair, KeyPair]
) -> None:
    trusted, stranger = keys
    machine_sandbox.app.machine.trust_issuer("svc@sandbox", trusted.public_pem)
    host = host_factory({"svc": jwt_client(machine_sandbox, stranger)})
    await host.rt.register("acme:generic:svc", client="svc", strategy="jwt_bearer")
    status = await assert_misconfigured_not_reauth(host, "acme:generic:svc")  # the server says invalid_grant
    assert "invalid_grant" in str(status["last_error"])


async def test_github_app_with_a_revoked_key_is_misconfigured(
    machine_sandbox: SandboxServer, host_factory: Callable[..., MachineHost], keys: tuple[KeyPair, KeyPair]
) -> None:
    trusted, stranger = keys
    machine_sandbox.app.machine.install_app("Iv1.sandboxapp", trusted.public_pem, "7")
    host = host_factory({"app": app_client(machine_sandbox, stranger)}, extra_plugins=(freshtoken_github,))
    await host.rt.register("acme:github:install-7", client="app", strategy="github_app_installation",
                           account_data={"installation_id": "7"})
    status = await assert_misconfigured_not_reauth(host, "acme:github:install-7")
    assert "HTTP 401" in str(status["last_error"])


async def test_github_app_uninstalled_is_misconfigured(
    machine_sandbox: SandboxServer, host_factory: Callable[..., MachineHost], keys: tuple[KeyPair, KeyPair]
) -> None:
    trusted, _ = keys
    machine_sandbox.app.machine.install_app("Iv1.sandboxapp", trusted.public_pem, "7")
    host = host_factory({"app": app_client(machine_sandbox, trusted)}, extra_plugins=(freshtoken_github,))
    await host.rt.register("acme:github:install-8", client="app", strategy="github_app_installation",
                           account_data={"installation_id": "8"})
    status = await assert_misconfigured_not_reauth(host, "acme:github:install-8")
    assert "HTTP 404" in str(status["last_error"])


async def test_a_replayed_assertion_is_refused_by_the_server(
    machine_sandbox: SandboxServer, host_factory: Callable[..., MachineHost], keys: tuple[KeyPair, KeyPair],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trusted, _ = keys
    machine_sandbox.app.machine.trust_issuer("svc@sandbox", trusted.public_pem)
    host = host_factory({"svc": jwt_client(machine_sandbox, trusted)})
    await host.rt.register("acme:generic:svc", client="svc", strategy="jwt_bearer")
    assert await host.rt.run_due() == 1
    first = machine_sandbox.app.last_request["params"]
    # the same assertion, sent again by anyone who saw it: refused
    async with httpx.AsyncClient() as http:
        again = await http.post(machine_sandbox.token_url, data=first)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert "replayed" in again.json()["error_description"]
    assert machine_sandbox.app.machine.stats.replays_refused == 1
    # a client that reused its jti would be refused too, and end misconfigured (not reauth)
    monkeypatch.setattr(jwt_bearer, "new_jti", lambda: str(machine_sandbox.app.machine.last_claims["jti"]))
    assert await host.step() == 1
    status = await host.rt.status("acme:generic:svc")
    assert status["status"] == "misconfigured" and machine_sandbox.app.machine.stats.replays_refused == 2


def test_each_assertion_has_a_unique_jti(keys: tuple[KeyPair, KeyPair]) -> None:
    from freshtoken.strategies.assertion import new_jti

    assert len({new_jti() for _ in range(1000)}) == 1000


async def test_a_user_grant_still_needs_its_refresh_token(
    machine_sandbox: SandboxServer, host_factory: Callable[..., MachineHost]
) -> None:
    from freshtoken import ReauthRequired

    host = host_factory({"m2m": cc_client(machine_sandbox)})
    with pytest.raises(ReauthRequired, match="refresh token is required"):
        await host.rt.register("acme:generic:user", client="m2m")  # strategy refresh_token by default
