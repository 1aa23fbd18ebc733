"""The Durable Object's register route passes every registration field through to the account, on real workerd
(the body is read as a :class:`~freshtoken.registration.Registration`)."""

from __future__ import annotations

import time

import pytest

from ..registration_roundtrip import check, every_field, with_expires_in
from .conftest import CF, KEY

pytestmark = pytest.mark.workerd


def _body(reg) -> dict:
    body = reg.to_payload()
    del body["replace"]  # a query parameter
    return body


async def test_every_field_reaches_the_account(cf: CF):
    before = time.time()
    reg = every_field("sandbox", cf.sandbox.mint()["refresh_token"], before)
    r = await cf.admin("POST", body=_body(reg))
    assert r.status_code == 201, r.text
    check(r.json(), await cf.kv_record(KEY), reg, expires=(before + 3600, before + 3600))
    check((await cf.admin("GET")).json(), await cf.kv_record(KEY), reg, expires=(before + 3600, before + 3600))

    before = time.time()
    again = with_expires_in("sandbox", cf.sandbox.mint()["refresh_token"], before)
    assert (await cf.admin("POST", body=_body(again))).status_code == 409  # replace is still explicit
    r = await cf.admin("POST", body=_body(again), params={"replace": "true"})
    assert r.status_code == 201, r.text
    check(r.json(), await cf.kv_record(KEY), again, expires=(before + 1800, time.time() + 1800))


async def test_body_problems_are_named(cf: CF):
    base = {"client": "sandbox", "refresh_token": "rt-planted-3e9f"}
    for extra, detail in (({"replace": True}, "unknown fields: ['replace']"),
                          ({"expires_at": 2e9, "expires_in": 60}, "expires_in, not both"),
                          ({"token_type": ""}, "token_type"), ({"client": ""}, "client")):
        r = await cf.admin("POST", body={**base, **extra})
        assert r.status_code == 400 and detail in r.json()["detail"], r.text
        assert "rt-planted-3e9f" not in r.text
    assert (await cf.storage())["entries"] == {}
