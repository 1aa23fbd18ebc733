"""The sandbox's machine grants verify what they are sent: each claim of a JWT bearer assertion (RFC 7523 §3)
and the GitHub App JWT; an assertion wrong in any one way is refused. (These checks are what make the
strategies' end-to-end tests meaningful.)"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from joserfc import jwk, jwt

from freshtoken.sandbox.server import SandboxServer

from .conftest import KeyPair

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture
def real_time_sandbox() -> Any:
    with SandboxServer(lifetime=3600).run_in_thread() as server:
        yield server


def signed(claims: dict[str, Any], key: KeyPair) -> str:
    return jwt.encode({"alg": "RS256"}, claims, jwk.import_key(key.private_pem, "RSA"))


def good(sandbox: SandboxServer) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": "svc", "sub": "svc", "aud": sandbox.token_url, "iat": now, "exp": now + 300,
            "jti": f"j-{time.monotonic_ns()}"}


@pytest.mark.parametrize("change", [
    {"aud": "http://elsewhere.example/token"},
    {"exp": -10},          # relative: already passed
    {"iat": 3600},         # relative: in the future
    {"exp": 7200},         # relative: more than an hour after iat
    {"jti": None},
    {"sub": None},
    {"iss": "someone-else"},
])
def test_each_claim_is_checked(real_time_sandbox: SandboxServer, keys: tuple[KeyPair, KeyPair],
                               change: dict[str, Any]) -> None:
    trusted, _ = keys
    real_time_sandbox.app.machine.trust_issuer("svc", trusted.public_pem)
    ok = good(real_time_sandbox)
    assert httpx.post(real_time_sandbox.token_url, data={"grant_type": JWT_BEARER,
                                                         "assertion": signed(ok, trusted)}).status_code == 200
    bad = good(real_time_sandbox)
    for name, value in change.items():
        if value is None:
            del bad[name]
        elif name in ("exp", "iat"):
            bad[name] = bad["iat"] + value  # relative to iat
        else:
            bad[name] = value
    answer = httpx.post(real_time_sandbox.token_url, data={"grant_type": JWT_BEARER, "assertion": signed(bad, trusted)})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant", answer.text


def test_a_signature_by_another_key_is_refused(real_time_sandbox: SandboxServer,
                                               keys: tuple[KeyPair, KeyPair]) -> None:
    trusted, stranger = keys
    real_time_sandbox.app.machine.trust_issuer("svc", trusted.public_pem)
    answer = httpx.post(real_time_sandbox.token_url,
                        data={"grant_type": JWT_BEARER, "assertion": signed(good(real_time_sandbox), stranger)})
    assert answer.status_code == 400 and answer.json()["error_description"] == "Invalid JWT Signature."


def test_client_credentials_needs_the_client_authenticated(real_time_sandbox: SandboxServer) -> None:
    url = real_time_sandbox.token_url
    ok = httpx.post(url, data={"grant_type": "client_credentials", "scope": "a b"},
                    auth=("sandbox-client", "sandbox-secret"))
    assert ok.status_code == 200 and ok.json()["scope"] == "a b" and "refresh_token" not in ok.json()
    wrong = httpx.post(url, data={"grant_type": "client_credentials"}, auth=("sandbox-client", "nope"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_github_app_jwt_lifetime_over_ten_minutes_is_refused(real_time_sandbox: SandboxServer,
                                                            keys: tuple[KeyPair, KeyPair]) -> None:
    trusted, _ = keys
    real_time_sandbox.app.machine.install_app("app1", trusted.public_pem, "99")
    now = int(time.time())
    url = f"{real_time_sandbox.url}/app/installations/99/access_tokens"

    def post(claims: dict[str, Any]) -> httpx.Response:
        return httpx.post(url, headers={"Authorization": f"Bearer {signed(claims, trusted)}",
                                        "Accept": "application/vnd.github+json"})

    ok = post({"iss": "app1", "iat": now - 60, "exp": now + 540})
    assert ok.status_code == 201 and ok.json()["token"].startswith("ghs_") and ok.json()["expires_at"].endswith("Z")
    assert post({"iss": "app1", "iat": now - 60, "exp": now + 3600}).status_code == 401
    assert post({"iss": "app1", "iat": now - 700, "exp": now - 100}).status_code == 401
