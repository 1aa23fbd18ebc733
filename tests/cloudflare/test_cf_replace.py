"""The Durable Object's register route on real workerd: over a live account it needs ``?replace=true`` (else 409,
nothing changed); replacing revokes the old grant at the sandbox; a key naming another provider is a 400."""

from __future__ import annotations

from .conftest import CF


async def test_register_over_a_live_account_needs_replace(cf: CF) -> None:
    app = cf.sandbox.app
    first = await cf.register()
    assert first["status"] == "pending"
    state = (await cf.storage())["state"]
    old_rt = state["refresh_token"]
    new_rt = cf.sandbox.mint()["refresh_token"]

    r = await cf.admin("POST", body={"client": "sandbox", "refresh_token": new_rt})
    assert r.status_code == 409 and r.json()["error"] == "account_exists", r.text
    assert "replace=true" in r.json()["detail"] and new_rt not in r.text
    assert (await cf.storage())["state"]["refresh_token"] != new_rt
    assert not app.families[app._by_token[old_rt]].revoked

    r = await cf.admin("POST", body={"client": "sandbox", "refresh_token": new_rt}, params={"replace": "true"})
    assert r.status_code == 201, r.text
    assert app.families[app._by_token[old_rt]].revoked
    assert not app.families[app._by_token[new_rt]].revoked
    assert (await cf.storage())["state"]["refresh_token"] in (new_rt, app.families[app._by_token[new_rt]].current)

    r = await cf.admin("POST", key="acme:google:user-1", body={"client": "sandbox", "refresh_token": new_rt})
    assert r.status_code == 400 and r.json()["error"] == "provider_mismatch", r.text
    assert (await cf.admin("GET", key="acme:google:user-1")).status_code == 404
