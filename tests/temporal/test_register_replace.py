"""The Temporal runtime: registering over a live account needs ``replace=True``, as in the embedded runtime;
the replaced grant is revoked at the sandbox."""

from __future__ import annotations

import pytest

from freshtoken.errors import AccountExists

from .support import CLIENT, in_process_worker, new_key, with_codec

pytestmark = pytest.mark.temporal


async def test_register_over_a_live_account_needs_replace(temporal_time_skipping, sandbox, encryption_keys):
    client = with_codec(temporal_time_skipping.client, encryption_keys)
    async with in_process_worker(client, sandbox, revocation_url=f"{sandbox.url}/revoke") as (accounts, _a, _kv):
        k = new_key()
        old, new = sandbox.mint()["refresh_token"], sandbox.mint()["refresh_token"]
        await accounts.register(k, client=CLIENT, refresh_token=old)
        assert (await accounts.refresh_now(k)).kind == "refreshed"
        with pytest.raises(AccountExists, match=r"already registered.*replace"):
            await accounts.register(k, client=CLIENT, refresh_token=new)
        families = sandbox.app.families
        assert not families[sandbox.app._by_token[old]].revoked
        assert families[sandbox.app._by_token[new]].refreshes == 0
        view = await accounts.register(k, client=CLIENT, refresh_token=new, replace=True)
        assert view["status"] == "pending"
        assert families[sandbox.app._by_token[old]].revoked
        assert (await accounts.refresh_now(k)).kind == "refreshed"
        assert families[sandbox.app._by_token[new]].refreshes >= 1
