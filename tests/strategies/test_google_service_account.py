"""Google service accounts (the ``jwt_bearer`` strategy of the google plugin) against a loopback endpoint that
checks the assertion as Google documents it and replays Google's documented answer.

Source: "Using OAuth 2.0 for Server to Server Applications",
https://developers.google.com/identity/protocols/oauth2/service-account#httprest — the JWT header
``{"alg":"RS256","typ":"JWT"}`` (``kid`` the key id), the claim set ``iss`` (the service account's email),
``scope`` (space-delimited), ``aud`` (``https://oauth2.googleapis.com/token``, the key's ``token_uri``), ``exp``
(at most one hour after ``iat``), ``iat``, and ``sub`` only for domain-wide delegation; the request
``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=...``; the answer
``{"access_token": "1/8xbJqaOZXSUZbHLl5EOtu1pxz3fmmetKx9W8CV4t79M", "scope": "...", "token_type": "Bearer",
"expires_in": 3600}``, no refresh token; a bad signature answers ``invalid_grant`` "Invalid JWT Signature.".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import freshtoken_google
import pytest
from joserfc import jwk, jws, jwt

from freshtoken import ManualClock, OAuthClient, TokenReader

from .conftest import KeyPair, MachineHost
from .loopback import form_endpoint

EMAIL = "761326798069-r5mljlln1rd4lrbhg75efgigp36m78j5@developer.gserviceaccount.com"
SCOPE = "https://www.googleapis.com/auth/devstorage.read_only"
DOCUMENTED_ANSWER = {
    "access_token": "1/8xbJqaOZXSUZbHLl5EOtu1pxz3fmmetKx9W8CV4t79M",
    "scope": SCOPE,
    "token_type": "Bearer",
    "expires_in": 3600,
}


class GoogleTokenEndpoint:
    """POST /token: verifies the service-account assertion as Google documents it, answers as Google does."""

    def __init__(self, public_pem: str, clock: ManualClock) -> None:
        self.key = jwk.import_key(public_pem, "RSA")
        self.clock = clock
        self.seen: list[dict[str, Any]] = []
        self.url = ""

    def answer(self, path: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded") or path != "/token":
            return 400, {"error": "invalid_request"}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or set(form) != {
            "grant_type", "assertion"
        }:
            return 400, {"error": "invalid_request", "error_description": f"unexpected parameters {sorted(form)}"}
        try:
            header = jws.extract_compact(form["assertion"].encode()).protected
            claims = jwt.decode(form["assertion"], self.key, algorithms=["RS256"]).claims
        except Exception:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        now = self.clock.now()
        ok = (
            header.get("alg") == "RS256" and header.get("typ") == "JWT" and header.get("kid") == "kid-1"
            and claims.get("iss") == EMAIL and claims.get("scope") == SCOPE and claims.get("aud") == self.url
            and claims["iat"] <= now < claims["exp"] and claims["exp"] - claims["iat"] <= 3600
        )
        if not ok:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: claims"}
        self.seen.append(dict(claims))
        return 200, DOCUMENTED_ANSWER


@pytest.fixture
def google(keys: tuple[KeyPair, KeyPair], clock: ManualClock) -> Iterator[GoogleTokenEndpoint]:
    endpoint = GoogleTokenEndpoint(keys[0].public_pem, clock)
    with form_endpoint(endpoint.answer) as served:
        endpoint.url = served.base + "/token"
        yield endpoint


def service_account_client(endpoint: GoogleTokenEndpoint, key: KeyPair) -> OAuthClient:
    sa_key = {  # the shape of a downloaded service-account key file
        "type": "service_account", "project_id": "demo", "private_key_id": "kid-1",
        "private_key": key.private_pem, "client_email": EMAIL, "client_id": "113",
        "token_uri": endpoint.url,
    }
    return OAuthClient(
        name="gsa", provider="google", client_id="113", private_key=json.dumps(sa_key),
        provider_options={"token_url": endpoint.url, "strategy_options": {"jwt_bearer": {"scope": SCOPE}}},
    )


async def test_google_service_account_token_refreshes_ahead_of_expiry(
    google: GoogleTokenEndpoint, keys: tuple[KeyPair, KeyPair], host_factory: Callable[..., MachineHost]
) -> None:
    host = host_factory({"gsa": service_account_client(google, keys[0])}, extra_plugins=(freshtoken_google,))
    await host.rt.register("acme:google:storage", client="gsa", strategy="jwt_bearer")
    assert await host.rt.run_due() == 1
    assert "sub" not in google.seen[0]  # no delegation: Google wants no sub
    record = await TokenReader(host.kv, clock=host.clock).get("acme:google:storage")
    assert record.access_token == DOCUMENTED_ANSWER["access_token"]
    assert record.expires_at == int(host.clock.now() + 3600) and record.scope == SCOPE
    for _ in range(3):
        assert host.store.next_alarm_at() == pytest.approx(host.clock.now() + 3600 - 600)
        assert await host.step() == 1
    assert len(google.seen) == 4 and len({c["jti"] for c in google.seen}) == 4
    status = await host.rt.status("acme:google:storage")
    assert status["status"] == "active" and status["has_refresh_token"] is False


async def test_domain_wide_delegation_sends_the_user_as_sub(
    google: GoogleTokenEndpoint, keys: tuple[KeyPair, KeyPair], host_factory: Callable[..., MachineHost]
) -> None:
    host = host_factory({"gsa": service_account_client(google, keys[0])}, extra_plugins=(freshtoken_google,))
    await host.rt.register("acme:google:alice", client="gsa", strategy="jwt_bearer",
                           account_data={"subject": "alice@acme.example"})
    assert await host.rt.run_due() == 1
    assert google.seen[0]["sub"] == "alice@acme.example"


async def test_a_key_google_does_not_know_is_misconfigured(
    google: GoogleTokenEndpoint, keys: tuple[KeyPair, KeyPair], host_factory: Callable[..., MachineHost]
) -> None:
    host = host_factory({"gsa": service_account_client(google, keys[1])}, extra_plugins=(freshtoken_google,))
    await host.rt.register("acme:google:storage", client="gsa", strategy="jwt_bearer")
    assert await host.rt.run_due() == 1
    status = await host.rt.status("acme:google:storage")
    assert status["status"] == "misconfigured" and "Invalid JWT Signature" in str(status["last_error"])
    assert "reauth_required" not in host.events.names()


async def test_a_google_client_without_a_service_account_key_is_refused_at_registration(
    google: GoogleTokenEndpoint, keys: tuple[KeyPair, KeyPair], host_factory: Callable[..., MachineHost]
) -> None:
    from freshtoken import ConfigError

    pem_only = OAuthClient(name="gsa", provider="google", client_id="113", private_key=keys[0].private_pem,
                           provider_options={"token_url": google.url})
    host = host_factory({"gsa": pem_only}, extra_plugins=(freshtoken_google,))
    with pytest.raises(ConfigError, match="service account's JSON key"):
        await host.rt.register("acme:google:storage", client="gsa", strategy="jwt_bearer")
    with pytest.raises(ConfigError, match="does not support strategy 'client_credentials'"):
        await host.rt.register("acme:google:storage", client="gsa", strategy="client_credentials")
