"""Microsoft Entra ID: the kit with a client secret and with private_key_jwt, tenant validation, and the
documented v2.0 refresh response and AADSTS errors (learn.microsoft.com/entra/identity-platform)."""

import base64
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from freshtoken_microsoft import MicrosoftProvider
from pydantic import SecretStr

from freshtoken import Misconfigured, OAuthClient, ReauthRequired, TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay, run_async

P = MicrosoftProvider()
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


class TestMicrosoftConformance(ProviderConformance):
    provider = P
    account_data = {"tenant": TENANT}
    valid_account_data = [{"tenant": t} for t in ("common", "organizations", "consumers", "contoso.onmicrosoft.com",
                                                  TENANT.upper())]
    hostile_account_data = [{"tenant": t} for t in (
        "contoso.com", "common/../../evil.com", "common@evil.com", "common#", "72f988bf-86f1-41af-91ab-2d7cd011db4",
        "contoso.onmicrosoft.com.evil.com", "evil.com#.onmicrosoft.com", "contoso\u212a.onmicrosoft.com",
    )]

    def success_body(self, *, access_token: str, refresh_token: str | None, expires_in: int | None) -> object:
        body = dict(super().success_body(access_token=access_token, refresh_token=refresh_token,  # type: ignore[arg-type]
                                         expires_in=expires_in))
        body.update(scope="https://graph.microsoft.com/Mail.Read", id_token="eyJ0eXAiOiJKV1Qi.e30.sig")
        if expires_in is not None:
            body.update(ext_expires_in=expires_in + 3600, refresh_in=expires_in // 2)
        return body

    def error_body(self, code: str, description: str) -> object:
        return {"error": code, "error_description": f"AADSTS700082: {description}", "error_codes": [700082],
                "timestamp": "2026-11-27 03:24:33Z", "trace_id": "0369", "correlation_id": "b70a"}


class TestMicrosoftPrivateKeyJWT(TestMicrosoftConformance):
    client = OAuthClient(name="kit", provider="microsoft", client_id="kit-client-id", auth_method="private_key_jwt",
                         private_key=SecretStr(_pem()), jwt_headers={"x5t": "hOBcHZi846VCHSJbFAs26Go9VTQ"})

    def test_assertion_is_for_the_tenant_endpoint(self) -> None:
        _, outcome, _ = run_async(lambda: self.refresh_once(self.success()))
        assert outcome.kind == "refreshed"
        assertion = self.endpoint.requests[-1].params["client_assertion"]
        header, claims = (json.loads(base64.urlsafe_b64decode(p + "==")) for p in assertion.split(".")[:2])
        assert header["alg"] == "RS256" and header["x5t"] == "hOBcHZi846VCHSJbFAs26Go9VTQ"
        assert claims["aud"] == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
        assert claims["iss"] == claims["sub"] == "kit-client-id"


def test_documented_refresh_response_uses_expires_in_not_ext_expires_in() -> None:
    tokens = replay(P, 200, {
        "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6Ik5HVEZ2ZEstZnl0aEV1Q", "token_type": "Bearer",
        "expires_in": 3599, "ext_expires_in": 3599 + 3600, "refresh_in": 1800,
        "scope": "https%3A%2F%2Fgraph.microsoft.com%2Fmail.read",
        "refresh_token": "AwABAAAAvPM1KaPlrEqdFSBzjqfTGAMxZGUTdM0t4B4", "id_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0",
    })
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 3599
    assert tokens.refresh_token is not None  # rotated on every use
    assert tokens.refresh_hint == KIT_NOW + 1800  # MSAL's refresh_in: taken when earlier than expiry - lead


def test_refresh_in_moves_the_alarm_earlier_than_the_lead() -> None:
    from freshtoken import refresh_at

    tokens = replay(P, 200, {"access_token": "a", "expires_in": 86399, "refresh_in": 43199})
    assert isinstance(tokens, TokenSet)
    at = refresh_at(tokens.issued_at, tokens.expires_at, P.lead, hint=tokens.refresh_hint)
    assert at == KIT_NOW + 43199


def test_documented_errors() -> None:
    inactive = {"error": "invalid_grant", "error_codes": [700082], "error_description":
                "AADSTS700082: The refresh token has expired due to inactivity. The token was issued on "
                "2018-10-19T17:26:59.8511467Z and was inactive for 90.00:00:00."}
    assert isinstance(replay(P, 400, inactive), ReauthRequired)
    mfa = {"error": "interaction_required", "error_codes": [50076],
           "error_description": "AADSTS50076: you must use multi-factor authentication to access this resource."}
    assert isinstance(replay(P, 400, mfa), ReauthRequired)
    scope = {"error": "invalid_scope", "error_codes": [70011], "error_description":
             "AADSTS70011: The provided value for the input parameter 'scope' isn't valid."}
    assert isinstance(replay(P, 400, scope), Misconfigured)
    secret = {"error": "invalid_client", "error_codes": [7000215],
              "error_description": "AADSTS7000215: Invalid client secret provided."}
    assert isinstance(replay(P, 401, secret), Misconfigured)
