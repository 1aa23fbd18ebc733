"""The interop servers themselves: real grants, rotation, reuse detection, grace window, client auth.

These tests use only httpx and the fixtures (no SDK code), so a failure here is about the servers or
the fixtures, never about freshtoken.
"""

from __future__ import annotations

import asyncio
import base64
import time

import httpx
import pytest

from .conftest import DOT_GRACE_SECONDS
from .servers import TRICKY_SECRET, AuthServer, DotServer, OidcProviderServer, authenticate


def _error(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("error"))
    except ValueError:
        return f"HTTP {resp.status_code} {resp.text[:100]}"


def test_mint_tokens(auth_server: AuthServer) -> None:
    t0 = time.monotonic()
    tokens = auth_server.mint_tokens("basic")
    elapsed = time.monotonic() - t0
    assert tokens["token_type"].lower() == "bearer"
    assert tokens["access_token"] and tokens["refresh_token"]
    assert tokens["expires_in"] == auth_server.access_token_ttl
    assert elapsed < 5, f"minting took {elapsed:.2f} s"


CLIENT_CASES = [("oidc", "basic"), ("oidc", "post"), ("oidc", "jwt"), ("oidc", "public"),
                ("dot", "basic"), ("dot", "post"), ("dot", "public")]  # fmt: skip


@pytest.mark.parametrize(("server_name", "label"), CLIENT_CASES, ids=[f"{s}-{c}" for s, c in CLIENT_CASES])
def test_every_client_auth_method_mints_and_refreshes(
    request: pytest.FixtureRequest, server_name: str, label: str
) -> None:
    server: AuthServer = request.getfixturevalue(f"{server_name}_server")
    tokens = server.mint_tokens(label)
    resp = server.refresh(label, tokens["refresh_token"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["access_token"] != tokens["access_token"]


def test_refresh_rotates(auth_server: AuthServer) -> None:
    rt0 = auth_server.mint_tokens("post")["refresh_token"]
    r1 = auth_server.refresh("post", rt0)
    assert r1.status_code == 200, r1.text
    rt1 = r1.json()["refresh_token"]
    assert rt1 != rt0
    r2 = auth_server.refresh("post", rt1)
    assert r2.status_code == 200, r2.text
    assert r2.json()["refresh_token"] not in (rt0, rt1)


def test_replaying_a_used_refresh_token_fails_and_revokes_the_family(auth_server: AuthServer) -> None:
    rt0 = auth_server.mint_tokens("post")["refresh_token"]
    r1 = auth_server.refresh("post", rt0)
    assert r1.status_code == 200, r1.text
    rt1 = r1.json()["refresh_token"]

    replay = auth_server.refresh("post", rt0)
    assert replay.status_code == 400 and _error(replay) == "invalid_grant", replay.text

    # RFC 9700 §4.14.2: reuse detection kills the whole family, including the legitimate successor.
    after = auth_server.refresh("post", rt1)
    assert after.status_code == 400 and _error(after) == "invalid_grant", after.text


async def test_two_concurrent_refreshes_kill_the_grant(auth_server: AuthServer) -> None:
    """Why the SDK must never overlap two refreshes of one account: one wins, one loses, and the loser's
    replay revokes the family, so the winner's brand-new refresh token is already dead."""
    rt = auth_server.mint_tokens("post")["refresh_token"]
    form, headers = authenticate(
        auth_server.client("post"), {"grant_type": "refresh_token", "refresh_token": rt}, auth_server.token_endpoint
    )
    async with httpx.AsyncClient(trust_env=False) as http:
        r1, r2 = await asyncio.gather(
            *(http.post(auth_server.token_endpoint, data=form, headers=headers) for _ in "ab")
        )
    assert sorted([r1.status_code, r2.status_code]) == [200, 400], (r1.text, r2.text)
    winner = r1 if r1.status_code == 200 else r2
    assert _error(auth_server.refresh("post", winner.json()["refresh_token"])) == "invalid_grant"


def test_dot_grace_period_replay_returns_the_same_pair(dot_grace_server: DotServer) -> None:
    assert dot_grace_server.grace_period == DOT_GRACE_SECONDS
    rt0 = dot_grace_server.mint_tokens("post")["refresh_token"]
    first = dot_grace_server.refresh("post", rt0)
    assert first.status_code == 200, first.text
    # The response is "lost"; the client retries with the old refresh token within the window.
    retry = dot_grace_server.refresh("post", rt0)
    assert retry.status_code == 200, retry.text
    assert retry.json()["access_token"] == first.json()["access_token"]
    assert retry.json()["refresh_token"] == first.json()["refresh_token"]
    # And the successor still works (no family revocation inside the window).
    nxt = dot_grace_server.refresh("post", first.json()["refresh_token"])
    assert nxt.status_code == 200, nxt.text


def test_dot_without_grace_period_has_no_window(dot_server: DotServer) -> None:
    assert dot_server.grace_period == 0
    rt0 = dot_server.mint_tokens("post")["refresh_token"]
    assert dot_server.refresh("post", rt0).status_code == 200
    assert _error(dot_server.refresh("post", rt0)) == "invalid_grant"


def test_basic_auth_needs_form_urlencoded_credentials(auth_server: AuthServer) -> None:
    client = auth_server.client("basic")
    assert client.secret == TRICKY_SECRET
    tokens = auth_server.mint_tokens(client)  # the code exchange used urlencoded Basic credentials
    raw = base64.b64encode(f"{client.client_id}:{client.secret}".encode()).decode()
    with auth_server.http() as http:
        resp = http.post(
            auth_server.token_endpoint,
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            headers={"Authorization": f"Basic {raw}", "Accept": "application/json"},
        )
    # Not urlencoded first: oidc-provider refuses the header, DOT decodes "+" to " " and the secret fails.
    assert resp.status_code in (400, 401), resp.text
    assert _error(resp) in ("invalid_request", "invalid_client"), resp.text
    # The refresh token was not consumed by the refused request.
    ok = auth_server.refresh(client, tokens["refresh_token"])
    assert ok.status_code == 200, ok.text


def test_wrong_secret_is_invalid_client(auth_server: AuthServer) -> None:
    tokens = auth_server.mint_tokens("post")
    with auth_server.http() as http:
        resp = http.post(
            auth_server.token_endpoint,
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": auth_server.client("post").client_id,
                "client_secret": "wrong",
            },
        )
    assert resp.status_code in (400, 401), resp.text
    assert _error(resp) == "invalid_client"


def test_revocation_endpoint(auth_server: AuthServer) -> None:
    rt = auth_server.mint_tokens("post")["refresh_token"]
    assert auth_server.revoke("post", rt).status_code == 200
    assert _error(auth_server.refresh("post", rt)) == "invalid_grant"


def test_oidc_refresh_token_expires(oidc_server: OidcProviderServer) -> None:
    stale = oidc_server.mint_tokens("short_rt")
    issued = time.time()
    fresh = oidc_server.mint_tokens("short_rt")
    assert oidc_server.refresh("short_rt", fresh["refresh_token"]).status_code == 200  # the client works
    time.sleep(max(0.0, issued + 2.05 - time.time()))  # short_rt refresh tokens live 2 s
    resp = oidc_server.refresh("short_rt", stale["refresh_token"])
    assert resp.status_code == 400 and _error(resp) == "invalid_grant", resp.text
    # The in-memory adapter may already have evicted it ("not found") or still hold it ("is expired").
    assert "refresh token is expired" in oidc_server.log(5) or "refresh token not found" in oidc_server.log(5)


def test_oidc_private_key_jwt_is_checked(oidc_server: OidcProviderServer) -> None:
    from .servers import Client, generate_rsa_jwk

    tokens = oidc_server.mint_tokens("jwt")
    good = oidc_server.client("jwt")
    assert good.private_jwk is not None
    other_key, _ = generate_rsa_jwk(good.private_jwk["kid"])  # same kid, wrong key
    forged = Client("jwt", good.client_id, "private_key_jwt", private_jwk=other_key)
    resp = oidc_server.refresh(forged, tokens["refresh_token"])
    assert resp.status_code == 401 and _error(resp) == "invalid_client", resp.text
    assert oidc_server.refresh(good, tokens["refresh_token"]).status_code == 200
