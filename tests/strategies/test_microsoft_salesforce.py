"""Microsoft Entra ID app-only tokens (client_credentials with a certificate: private_key_jwt) and Salesforce's
JWT bearer flow, each against a loopback endpoint that checks the request as the provider documents it and
replays the provider's documented answer.

Microsoft: https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow —
``POST /{tenant}/oauth2/v2.0/token`` with ``scope=https://graph.microsoft.com/.default``,
``grant_type=client_credentials``, ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``
and ``client_assertion`` (a JWT: ``aud`` the token endpoint, ``iss`` = ``sub`` = the client id, ``jti``, ``exp``,
``x5t`` header); the answer ``{"token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ0eXAiOiJKV1Qi..."}``.

Salesforce: https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm — ``iss`` the
consumer key, ``sub`` the user name, ``aud`` ``https://login.salesforce.com`` (``https://test.salesforce.com`` for a
sandbox), ``exp`` within 3 minutes; the answer ``{"access_token": "00Dxx0000001gPL!AR8AQ...", "scope": "web openid
api id", "instance_url": "https://yourInstance.salesforce.com", "id": "https://yourInstance.salesforce.com/id/...",
"token_type": "Bearer"}`` (no expires_in, no refresh token).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import freshtoken_microsoft
import freshtoken_salesforce
import pytest
from joserfc import jwk, jws, jwt

from freshtoken import ConfigError, OAuthClient, TokenReader

from .conftest import KeyPair, MachineHost
from .loopback import form_endpoint

TENANT = "0b7e1f36-3d5c-4f8e-9a51-4f2f0c1d2e3f"
APP = "535fb089-9ff3-47b6-9bfb-4f1264799865"
X5T = "hOBcHZi846VCHSJbFAs26Go9VTQ"
SF_KEY = "3MVG9lKcPoNINVBIPJjdw1J9LLM82HnFVVX19KY1uA5mu0QqEWhqKpoW3svG3X"
COUNTER = itertools.count()


async def test_microsoft_app_only_token_with_a_certificate(
    keys: tuple[KeyPair, KeyPair], host_factory: Callable[..., MachineHost]
) -> None:
    trusted, _ = keys
    public = jwk.import_key(trusted.public_pem, "RSA")
    path = f"/{TENANT}/oauth2/v2.0/token"

    def answer(p: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        assert p == path
        try:
            header = jws.extract_compact(form["client_assertion"].encode()).protected
            claims = jwt.decode(form["client_assertion"], public, algorithms=["RS256"]).claims
        except Exception:
            return 401, {"error": "invalid_client", "error_description": "AADSTS700027: Client assertion failed"}
        ok = (
            form.get("grant_type") == "client_credentials"
            and form.get("scope") == "https://graph.microsoft.com/.default"
            and form.get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            and claims.get("iss") == claims.get("sub") == APP and claims.get("aud") == endpoint.base + path
            and header.get("x5t") == X5T and "client_secret" not in form and "refresh_token" not in form
        )
        if not ok:
            return 400, {"error": "invalid_request", "error_description": f"AADSTS90014: {sorted(form)}"}
        return 200, {"token_type": "Bearer", "expires_in": 3599, "access_token": f"eyJ0eXAiOiJKV1Qi.{next(COUNTER)}"}

    with form_endpoint(answer) as endpoint:
        client = OAuthClient(
            name="graph", provider="microsoft", client_id=APP, auth_method="private_key_jwt",
            private_key=trusted.private_pem, jwt_alg="RS256", jwt_headers={"x5t": X5T},
            provider_options={"token_url": endpoint.base + "/{tenant}/oauth2/v2.0/token"},
        )
        host = host_factory({"graph": client}, extra_plugins=(freshtoken_microsoft,))
        await host.rt.register("acme:microsoft:graph", client="graph", strategy="client_credentials",
                               account_data={"tenant": TENANT})
        assert await host.rt.run_due() == 1
        record = await TokenReader(host.kv, clock=host.clock).get("acme:microsoft:graph")
        assert record.expires_at == int(host.clock.now() + 3599)
        for _ in range(2):
            assert host.store.next_alarm_at() == pytest.approx(host.clock.now() + 3599 - 600)
            assert await host.step() == 1
        assert len(endpoint.requests) == 3
        assert (await host.rt.status("acme:microsoft:graph"))["status"] == "active"


def salesforce_endpoint(trusted: KeyPair, audience: str) -> Any:
    public = jwk.import_key(trusted.public_pem, "RSA")

    def answer(p: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            claims = jwt.decode(form["assertion"], public, algorithms=["RS256"]).claims
        except Exception:
            return 400, {"error": "invalid_grant", "error_description": "invalid assertion"}
        if (
            p != "/services/oauth2/token" or form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer"
            or claims.get("iss") != SF_KEY or claims.get("sub") != "integration@acme.example"
            or claims.get("aud") != audience or not 0 < claims["exp"] - claims["iat"] <= 180
        ):
            return 400, {"error": "invalid_grant", "error_description": "audience is invalid"}
        return 200, {
            "access_token": f"00Dxx0000001gPL!AR8AQ.{next(COUNTER)}", "scope": "web openid api id",
            "instance_url": "https://yourInstance.salesforce.com",
            "id": "https://yourInstance.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS",
            "token_type": "Bearer",
        }

    return answer


@pytest.mark.parametrize(("my_domain", "audience"), [
    ("acme.my.salesforce.com", "https://login.salesforce.com"),
    ("acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"),
])
async def test_salesforce_jwt_bearer_flow(
    keys: tuple[KeyPair, KeyPair], host_factory: Callable[..., MachineHost], my_domain: str, audience: str
) -> None:
    trusted, _ = keys
    with form_endpoint(salesforce_endpoint(trusted, audience)) as endpoint:
        client = OAuthClient(
            name="sf", provider="salesforce", client_id=SF_KEY, private_key=trusted.private_pem,
            provider_options={"token_url": endpoint.base + "/services/oauth2/token", "default_lifetime": 900},
        )
        host = host_factory({"sf": client}, extra_plugins=(freshtoken_salesforce,))
        with pytest.raises(ConfigError, match="needs account data 'username'"):
            await host.rt.register("acme:salesforce:integration", client="sf", strategy="jwt_bearer",
                                   account_data={"my_domain": my_domain})
        await host.rt.register("acme:salesforce:integration", client="sf", strategy="jwt_bearer",
                               account_data={"my_domain": my_domain, "username": "integration@acme.example"})
        assert await host.rt.run_due() == 1
        record = await TokenReader(host.kv, clock=host.clock).get("acme:salesforce:integration")
        assert record.extras["instance_url"] == "https://yourInstance.salesforce.com"
        assert record.expires_at == int(host.clock.now() + 900)  # no expires_in: the session timeout
        assert host.store.next_alarm_at() == pytest.approx(host.clock.now() + 900 - 600)
        assert await host.step() == 1
        status = await host.rt.status("acme:salesforce:integration")
        assert status["status"] == "active" and status["has_refresh_token"] is False
        assert len(endpoint.requests) == 2
