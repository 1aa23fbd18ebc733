"""EmbeddedRuntime.register over an existing account needs ``replace=True``; the old grant is then revoked."""

from __future__ import annotations

from pathlib import Path

import pytest

from freshtoken import OAuthClient
from freshtoken.errors import AccountExists, ConfigError
from freshtoken.sandbox.server import SandboxServer
from tests.embedded.conftest import Host, sandbox_client


def family(sandbox: SandboxServer, refresh_token: str):
    return sandbox.app.families[sandbox.app._by_token[refresh_token]]


def revocable(sandbox: SandboxServer, name: str = "sandbox", **kw) -> OAuthClient:
    return sandbox_client(sandbox, name, revocation_url=f"{sandbox.url}/revoke", **kw)


async def test_replace_is_explicit_and_revokes_the_old_grant(tmp_path: Path, codec, sandbox) -> None:
    host = Host(tmp_path, codec, sandbox, clients={"sandbox": revocable(sandbox)})
    try:
        old, new = sandbox.mint()["refresh_token"], sandbox.mint()["refresh_token"]
        await host.rt.register("t1:sandbox:a", client="sandbox", refresh_token=old)
        assert (await host.rt.refresh_now("t1:sandbox:a")).kind == "refreshed"
        with pytest.raises(AccountExists, match=r"'t1:sandbox:a' is already registered .*replace") as info:
            await host.rt.register("t1:sandbox:a", client="sandbox", refresh_token=new)
        assert new not in str(info.value)
        assert (await host.rt.status("t1:sandbox:a"))["generation"] == 1  # untouched
        assert (await host.rt.refresh_now("t1:sandbox:a")).kind == "refreshed"
        assert family(sandbox, old).refreshes == 2 and not family(sandbox, old).revoked

        view = await host.rt.register("t1:sandbox:a", client="sandbox", refresh_token=new, replace=True)
        assert view["status"] == "pending"
        assert family(sandbox, old).revoked and not family(sandbox, new).revoked
        assert (await host.rt.refresh_now("t1:sandbox:a")).kind == "refreshed"
        assert family(sandbox, new).refreshes == 1
    finally:
        await host.rt.aclose()


async def test_a_dead_grant_is_reauthorised_without_replace(tmp_path: Path, codec, sandbox) -> None:
    host = Host(tmp_path, codec, sandbox, clients={"sandbox": revocable(sandbox)})
    try:
        await host.rt.register("t1:sandbox:d", client="sandbox", refresh_token="rt-unknown")
        assert (await host.rt.refresh_now("t1:sandbox:d")).kind == "reauth_required"
        grant = sandbox.mint()
        view = await host.rt.register("t1:sandbox:d", client="sandbox", refresh_token=grant["refresh_token"])
        assert view["status"] == "pending"
        assert (await host.rt.refresh_now("t1:sandbox:d")).kind == "refreshed"
    finally:
        await host.rt.aclose()


async def test_the_key_must_name_the_clients_provider(tmp_path: Path, codec, sandbox) -> None:
    clients = {"sandbox": revocable(sandbox), "loose": revocable(sandbox, "loose").model_copy(
        update={"provider_mismatch_ok": True})}
    host = Host(tmp_path, codec, sandbox, clients=clients)
    try:
        grant = sandbox.mint()
        with pytest.raises(ConfigError, match=r"'google'.*'generic'.*provider_mismatch_ok"):
            await host.rt.register("t1:google:a", client="sandbox", refresh_token=grant["refresh_token"])
        assert host.rt.list_accounts() == []
        await host.rt.register("t1:generic:a", client="sandbox", refresh_token=grant["refresh_token"])
        await host.rt.register("t1:sandbox:a", client="sandbox", refresh_token=grant["refresh_token"])
        await host.rt.register("t1:google:a", client="loose", refresh_token=grant["refresh_token"])
        assert len(host.rt.list_accounts()) == 3
    finally:
        await host.rt.aclose()
