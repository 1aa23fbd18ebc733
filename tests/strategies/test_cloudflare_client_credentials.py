"""client_credentials on the Cloudflare runtime, in real workerd (miniflare) through the tests/cloudflare
harness: registered through the Worker's admin API without a refresh token, the Durable Object's alarm gets the
first token with the client's secret (a Worker secret), writes KV, and refreshes again ahead of expiry; the
state in real DO storage holds no refresh token. All waits are real time (tokens live 12 s; a token that short
refreshes half-way, ahead of its expiry: freshtoken.lead.refresh_at)."""

from __future__ import annotations

from typing import Any

import pytest

from freshtoken.lead import refresh_at
from freshtoken.sandbox.server import SandboxServer
from tests.cloudflare.conftest import running_cf
from tests.cloudflare.harness import wait_for

pytestmark = pytest.mark.workerd

KEY = "acme:generic:edge-jobs"


async def test_client_credentials_in_a_durable_object_refresh_ahead_of_expiry(sandbox: SandboxServer) -> None:
    sandbox.app.lifetime = 12  # the next alarm comes 6 s after each token
    machine = sandbox.app.machine
    before = machine.stats.client_credentials
    options = {"lead": 5.0, "strategy_options": {"client_credentials": {"scope": "edge"}}}
    async with running_cf(sandbox, options) as cf:
        r = await cf.admin("POST", KEY, body={"client": "sandbox", "strategy": "client_credentials"})
        assert r.status_code == 201, r.text
        assert r.json()["strategy"] == "client_credentials" and r.json()["has_refresh_token"] is False

        async def generation(n: int) -> dict[str, Any] | None:
            record = await cf.kv_record(KEY)
            return record if record and record["generation"] >= n else None

        first = await wait_for(lambda: generation(1), timeout=20, what="the first token in KV")
        second = await wait_for(lambda: generation(2), timeout=30, what="a refresh ahead of expiry")
        assert second["access_token"] != first["access_token"] and second["scope"] == "edge"
        assert second["refreshed_at"] < first["expires_at"]  # the next token came before the last one expired
        stored = await cf.between_alarms(KEY, timeout=20)  # (the next alarm may be running: CI failed so once)
        state = stored["state"]
        assert state["strategy"] == "client_credentials" and state["refresh_token"] is None
        assert state["previous_refresh_token"] is None and state["status"] == "active"
        assert state["next_refresh_at"] == pytest.approx(refresh_at(state["issued_at"], state["expires_at"], 5.0))
        assert state["next_refresh_at"] < state["expires_at"]
        assert stored["alarm"] == round(state["next_refresh_at"] * 1000)
    assert machine.stats.client_credentials - before >= 2
    assert sandbox.app.last_request["params"]["grant_type"] == "client_credentials"
    assert sandbox.app.last_request["headers"]["authorization"].startswith("Basic ")  # the client's secret
