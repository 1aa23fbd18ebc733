"""``POST /accounts`` passes every registration field through to the account (token_type and
refresh_token_expires_at were refused before the Registration model)."""

from __future__ import annotations

import json
import time

import httpx

from freshtoken.host.factory import Host
from tests.admin.support import ADMIN_TOKEN
from tests.registration_roundtrip import check, every_field, with_expires_in

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
KEY = "t1:generic:rt"


async def _record(h: Host, key: str) -> dict | None:
    raw = await h.kv.get(key)
    return None if raw is None else json.loads(raw)


async def test_every_field_reaches_the_account(api: httpx.AsyncClient, host: Host, sandbox) -> None:
    before = time.time()
    reg = every_field("sandbox", sandbox.mint("ui-client")["refresh_token"], before)
    body = {"key": KEY, **reg.to_payload()}
    del body["replace"]
    r = await api.post("/accounts", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    check(r.json(), await _record(host, KEY), reg, expires=(before + 3600, before + 3600))
    assert reg.secret("refresh_token") not in r.text and reg.secret("access_token") not in r.text

    before = time.time()
    again = with_expires_in("sandbox", sandbox.mint("ui-client")["refresh_token"], before)
    body = {"key": KEY, **again.to_payload()}
    del body["replace"]
    r = await api.post("/accounts", json=body, headers=AUTH)
    assert r.status_code == 409, r.text  # replace is still explicit
    r = await api.post("/accounts", params={"replace": "true"}, json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    check(r.json(), await _record(host, KEY), again, expires=(before + 1800, time.time() + 1800))


async def test_body_problems_are_named(api: httpx.AsyncClient, sandbox) -> None:
    base = {"key": KEY, "client": "sandbox", "refresh_token": "rt-planted-7aa1"}
    for extra, field in (({"replace": True}, "replace"), ({"token_typo": "MAC"}, "token_typo"),
                         ({"expires_at": 2e9, "expires_in": 60}, "expires_in, not both"),
                         ({"token_type": ""}, "token_type")):
        r = await api.post("/accounts", json={**base, **extra}, headers=AUTH)
        assert r.status_code == 422, r.text
        assert field in r.text and "rt-planted-7aa1" not in r.text
