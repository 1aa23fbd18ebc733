"""Refresher.register over an existing account: AccountExists unless ``replace``; replacing revokes the old grant
(RFC 7009, at the loopback sandbox) when the refresh token changes; the key must name the client's provider."""

from __future__ import annotations

import logging
import socket

import pytest

from freshtoken import OAuthClient
from freshtoken.errors import AccountExists, ConfigError
from freshtoken.state import Status
from tests.core.conftest import Rig


def family(sandbox, refresh_token: str):
    return sandbox.app.families[sandbox.app._by_token[refresh_token]]


def revocable_rig(sandbox, key: str = "acme:generic:user-1", revocation_url: str | None = None) -> Rig:
    return Rig(sandbox, key, revocation_url=revocation_url or f"{sandbox.url}/revoke")


async def test_every_live_state_needs_replace(sandbox) -> None:
    rig = revocable_rig(sandbox)
    try:
        old = sandbox.mint()
        await rig.refresher.register(refresh_token=old["refresh_token"])  # pending
        for status in ("pending", "active"):
            with pytest.raises(AccountExists, match=f"already registered .*{status}.*replace"):
                await rig.refresher.register(refresh_token=sandbox.mint()["refresh_token"])
            assert (await rig.fire()).kind == "refreshed"  # then active
        state = await rig.storage.load()
        assert state is not None and state.status is Status.ACTIVE and state.generation == 2
        # a static token too
        static = revocable_rig(sandbox, "acme:generic:static")
        await static.refresher.register(refresh_token=None, access_token="at-static", never_expires=True)
        with pytest.raises(AccountExists, match="static"):
            await static.refresher.register(refresh_token=None, access_token="at-other", never_expires=True)
        await static.refresher.register(refresh_token=None, access_token="at-other", never_expires=True, replace=True)
        await static.http.aclose()
        assert not family(sandbox, old["refresh_token"]).revoked
    finally:
        await rig.http.aclose()


async def test_replace_revokes_the_old_grant_only_when_it_changes(sandbox) -> None:
    rig = revocable_rig(sandbox)
    try:
        old, new = sandbox.mint(), sandbox.mint()
        await rig.refresher.register(refresh_token=old["refresh_token"])
        await rig.fire()
        current_old = (await rig.storage.load()).refresh_token.get_secret_value()
        # the same refresh token again (e.g. new account data): nothing to revoke
        await rig.refresher.register(refresh_token=current_old, replace=True)
        assert not family(sandbox, old["refresh_token"]).revoked
        assert (await rig.fire()).kind == "refreshed"
        # a new grant: the old one is revoked, the new one is live
        state = await rig.refresher.register(refresh_token=new["refresh_token"], replace=True)
        assert state.status is Status.PENDING and state.generation == 2
        assert family(sandbox, old["refresh_token"]).revoked
        assert not family(sandbox, new["refresh_token"]).revoked
        assert (await rig.fire()).kind == "refreshed"
        assert family(sandbox, new["refresh_token"]).refreshes == 1
    finally:
        await rig.http.aclose()


async def test_a_dead_grant_needs_no_replace_and_is_not_revoked(sandbox) -> None:
    rig = revocable_rig(sandbox)
    try:
        old = sandbox.mint()
        await rig.refresher.register(refresh_token=old["refresh_token"])
        await rig.fire()
        family(sandbox, old["refresh_token"]).revoked = True  # the user revoked the app at the provider
        assert (await rig.refresher.refresh_now()).kind == "reauth_required"
        requests = sandbox.app.stats.requests
        new = sandbox.mint()
        await rig.refresher.register(refresh_token=new["refresh_token"])
        assert (await rig.fire()).kind == "refreshed"
        assert sandbox.app.stats.requests == requests + 1  # the refresh only: no revocation for a dead grant
    finally:
        await rig.http.aclose()


async def test_a_failed_revocation_does_not_undo_the_replace(sandbox, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{closed.getsockname()[1]}/revoke"
    rig = revocable_rig(sandbox, revocation_url=dead_url)
    try:
        old, new = sandbox.mint(), sandbox.mint()
        await rig.refresher.register(refresh_token=old["refresh_token"])
        caplog.set_level(logging.WARNING)
        await rig.refresher.register(refresh_token=new["refresh_token"], replace=True)
        assert "revocation failed" in caplog.text and old["refresh_token"] not in caplog.text
        assert (await rig.fire()).kind == "refreshed"
        assert family(sandbox, new["refresh_token"]).refreshes == 1
    finally:
        await rig.http.aclose()


async def test_the_key_must_name_the_clients_provider_or_the_client(sandbox) -> None:
    rig = revocable_rig(sandbox, "acme:google:user-1")
    try:
        with pytest.raises(ConfigError, match=r"provider part 'google'.*'generic'.*provider_mismatch_ok"):
            await rig.refresher.register(refresh_token="rt-x")
        assert await rig.storage.load() is None
        rig.refresher.client = OAuthClient(name="sandbox", provider="generic", client_id="sandbox-client",
                                           client_secret="sandbox-secret", provider_mismatch_ok=True)
        await rig.refresher.register(refresh_token="rt-x")
        assert await rig.storage.load() is not None
    finally:
        await rig.http.aclose()
    named = revocable_rig(sandbox, "acme:sandbox:user-1")  # the client's own name
    try:
        await named.refresher.register(refresh_token="rt-y")
    finally:
        await named.http.aclose()
