"""The Registration model: one definition of the fields, one payload form, secrets never shown, and the
refresher takes it unchanged (every field lands in the state and the KV record)."""

from __future__ import annotations

import json

import pytest

from freshtoken.errors import ConfigError, ReauthRequired
from freshtoken.registration import InvalidRegistration, Registration, registration_of
from tests.registration_roundtrip import check, every_field, with_expires_in

RT, AT = "rt-planted-5d2a", "at-planted-8e0c"


def test_the_payload_round_trips_every_field_and_is_plain_json() -> None:
    for reg in (every_field("c", RT, 1000.0, access_token=AT), with_expires_in("c", RT, 1000.0)):
        payload = reg.to_payload()
        assert set(payload) == Registration.field_names()
        assert json.loads(json.dumps(payload)) == payload
        assert payload["refresh_token"] == RT
        assert Registration.from_payload(payload) == reg


def test_secrets_are_masked_everywhere_but_the_payload() -> None:
    reg = Registration(client="c", refresh_token=RT, access_token=AT)
    for text in (repr(reg), str(reg), json.dumps(reg.model_dump(mode="json")), reg.model_dump_json()):
        assert RT not in text and AT not in text
    assert reg.secret_values() == [RT, AT]
    with pytest.raises(KeyError):
        reg.secret("client")


def test_bad_fields_are_named_without_their_values() -> None:
    cases = [
        ({"refresh_token": RT}, "client"),
        ({"client": "c", "refresh_token": RT, "refresh_tokn": RT}, "refresh_tokn"),
        ({"client": "c", "refresh_token": RT, "expires_at": 5.0, "expires_in": 5.0}, "not both"),
        ({"client": "c", "refresh_token": RT, "token_type": ""}, "token_type"),
        ({"client": "c", "refresh_token": RT, "account_data": {"a": 1}}, "account_data.a"),
        ({"client": "c", "refresh_token": 123}, "refresh_token"),
    ]
    for data, named in cases:
        with pytest.raises(InvalidRegistration) as info:
            Registration.from_payload(data)
        assert isinstance(info.value, ConfigError) and named in str(info.value), str(info.value)
        assert RT not in str(info.value) and all(RT not in p["message"] for p in info.value.problems)


def test_given_whole_or_as_fields() -> None:
    reg = Registration(client="c", refresh_token=RT)
    assert registration_of(reg, {}) is reg
    assert registration_of(None, {"client": "c", "refresh_token": RT}) == reg
    with pytest.raises(TypeError, match="not both"):
        registration_of(reg, {"scope": "x"})
    assert reg.expiry(10.0) is None
    assert Registration(client="c", expires_in=5.0).expiry(10.0) == 15.0
    assert Registration(client="c", expires_at=7.0).expiry(10.0) == 7.0


async def test_the_refresher_stores_every_field(rig) -> None:
    now = rig.clock.now()
    grant = rig.sandbox.mint()
    reg = every_field("sandbox", grant["refresh_token"], now)
    state = await rig.refresher.register(reg)
    view = state.public()
    record = rig.kv.get_sync(rig.refresher.kv_key)
    check(view, None if record is None else json.loads(record), reg, expires=(now + 3600, now + 3600))
    assert state.refresh_token is not None and state.refresh_token.get_secret_value() == grant["refresh_token"]

    rig.clock.advance(5)
    again = with_expires_in("sandbox", rig.sandbox.mint()["refresh_token"], now)
    state = await rig.refresher.register(again)
    record = rig.kv.get_sync(rig.refresher.kv_key)
    check(state.public(), None if record is None else json.loads(record), again, expires=(now + 1805, now + 1805))


async def test_the_refresher_refuses_a_registration_for_another_client(rig) -> None:
    with pytest.raises(ConfigError, match=r"names client 'other'.*'sandbox'"):
        await rig.refresher.register(Registration(client="other", refresh_token=RT))
    with pytest.raises(ReauthRequired, match="refresh token is required"):
        await rig.refresher.register()  # the keyword form: client defaults to the refresher's
    assert await rig.storage.load() is None
