"""client_credentials against real authorization servers: oidc-provider (its clientCredentials feature, the
token endpoint found by discovery) and django-oauth-toolkit (an application of grant type client-credentials),
each with a client allowed the grant (``machine`` in tests/interop/servers.py). The embedded runtime gets the
first token, refreshes ahead of expiry, and every token it writes is live at the server (RFC 7662
introspection). A wrong secret is refused by the server (invalid_client) and ends misconfigured, never reauth."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from freshtoken import ManualClock, OAuthClient, TokenReader
from tests.interop.conftest import dot_server, dot_template_db, interop_workdir, oidc_server
from tests.interop.servers import AuthServer

from .conftest import MachineHost

pytestmark = pytest.mark.interop
__all__ = ["dot_server", "dot_template_db", "interop_workdir", "oidc_server"]  # the fixtures, used by name

LEAD = 120.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(time.time())  # the servers keep real time


@pytest.fixture(params=["oidc", "dot"])
def server(request: pytest.FixtureRequest) -> AuthServer:
    value: AuthServer = request.getfixturevalue("oidc_server" if request.param == "oidc" else "dot_server")
    return value


def machine_client(server: AuthServer, *, secret: str | None = None) -> OAuthClient:
    client = server.client("machine")
    options: dict[str, Any] = {
        "lead": LEAD, "timeout": 10.0,
        "strategy_options": {"client_credentials": {"scope": "api" if server.kind == "oidc-provider" else "read"}},
    }
    if server.kind == "oidc-provider":
        options["issuer"] = server.issuer  # the token endpoint by discovery
    else:
        options["token_url"] = server.token_endpoint
    return OAuthClient(name="machine", provider="generic", client_id=client.client_id,
                       client_secret=secret or client.secret, auth_method="client_secret_basic",
                       provider_options=options)


async def test_client_credentials_at_a_real_server_refresh_ahead_of_expiry(
    server: AuthServer, host_factory: Callable[..., MachineHost]
) -> None:
    host = host_factory({"machine": machine_client(server)})
    await host.rt.register("acme:generic:machine", client="machine", strategy="client_credentials")
    reader = TokenReader(host.kv, clock=host.clock)
    tokens = []
    assert await host.rt.run_due() == 1
    for _ in range(3):
        record = await reader.get("acme:generic:machine")
        assert record.expires_at is not None
        assert host.store.next_alarm_at() == pytest.approx(record.expires_at - LEAD, abs=2.0)
        seen = server.introspect("machine", record.access_token)
        assert seen["active"] is True, seen
        tokens.append(record.access_token)
        assert await host.step() == 1
    assert len(set(tokens)) == 3
    status = await host.rt.status("acme:generic:machine")
    assert status["status"] == "active" and status["has_refresh_token"] is False and status["refresh_count"] == 4


async def test_a_wrong_secret_at_a_real_server_is_misconfigured(
    server: AuthServer, host_factory: Callable[..., MachineHost]
) -> None:
    host = host_factory({"machine": machine_client(server, secret="not-the-secret-0123456789")})
    await host.rt.register("acme:generic:machine", client="machine", strategy="client_credentials")
    assert await host.rt.run_due() == 1
    status = await host.rt.status("acme:generic:machine")
    assert status["status"] == "misconfigured" and "invalid_client" in str(status["last_error"]), status
    assert "reauth_required" not in host.events.names()
