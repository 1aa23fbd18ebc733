"""The embedded runtime passes every registration field through to the account (the model, or keyword fields)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from freshtoken.registration import Registration
from tests.embedded.conftest import Host
from tests.registration_roundtrip import check, every_field, with_expires_in


async def _record(host: Host, key: str) -> dict | None:
    raw = await host.kv.get(key)
    return None if raw is None else json.loads(raw)


async def test_every_field_reaches_the_account(tmp_path: Path, codec, sandbox) -> None:
    host = Host(tmp_path, codec, sandbox)
    try:
        now = host.clock.now()
        grant = sandbox.mint()
        reg = every_field("sandbox", grant["refresh_token"], now)
        view = await host.rt.register("t1:sandbox:a", reg)
        check(view, await _record(host, "t1:sandbox:a"), reg, expires=(now + 3600, now + 3600))
        stored = host.store.load_state("t1:sandbox:a")
        assert stored is not None and stored.refresh_token is not None and stored.access_token is not None
        assert stored.refresh_token.get_secret_value() == grant["refresh_token"]

        # the keyword form builds the same model; expires_in counts from the registration; replace is honoured
        again = with_expires_in("sandbox", sandbox.mint()["refresh_token"], now)
        host.clock.advance(10)
        view = await host.rt.register("t1:sandbox:a", **again.to_payload())
        check(view, await _record(host, "t1:sandbox:a"), again, expires=(now + 1810, now + 1810))

        static = every_field("sandbox", None, now, expires_at=None, never_expires=True)
        view = await host.rt.register("t1:sandbox:s", static)
        check(view, await _record(host, "t1:sandbox:s"), static, expires=(0, 0))
        assert host.store.get_alarm("t1:sandbox:s") is None
    finally:
        await host.rt.aclose()


async def test_a_registration_is_given_whole_or_as_fields_not_both(tmp_path: Path, codec, sandbox) -> None:
    host = Host(tmp_path, codec, sandbox)
    try:
        reg = Registration(client="sandbox", refresh_token="rt-x")
        with pytest.raises(TypeError, match="not both"):
            await host.rt.register("t1:sandbox:a", reg, scope="read")
        with pytest.raises(ValueError, match="token_typo"):
            await host.rt.register("t1:sandbox:a", client="sandbox", refresh_token="rt-x", token_typo="MAC")
        assert host.rt.list_accounts() == []
    finally:
        await host.rt.aclose()
