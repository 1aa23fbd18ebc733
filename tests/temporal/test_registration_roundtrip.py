"""The Temporal runtime passes every registration field from ``TemporalAccounts.register`` through the workflow
and the activity to the account (token_type and refresh_token_expires_at were dropped before the model)."""

from __future__ import annotations

import json
import time

import pytest

from freshtoken.errors import ConfigError
from freshtoken.registration import Registration

from ..registration_roundtrip import check, every_field, with_expires_in
from .support import CLIENT, in_process_worker, new_key, with_codec

pytestmark = pytest.mark.temporal


async def test_every_field_reaches_the_account(temporal_time_skipping, sandbox, encryption_keys):
    client = with_codec(temporal_time_skipping.client, encryption_keys)
    async with in_process_worker(client, sandbox) as (accounts, _a, kv):
        k = new_key()
        before = time.time()
        grant = sandbox.mint()
        reg = every_field(CLIENT, grant["refresh_token"], before)
        view = await accounts.register(k, reg)
        record = kv.get_sync(k)
        check(view, None if record is None else json.loads(record), reg, expires=(before + 3600, before + 3600))
        check(await accounts.status(k), None if record is None else json.loads(record), reg,
              expires=(before + 3600, before + 3600))

        before = time.time()
        again = with_expires_in(CLIENT, sandbox.mint()["refresh_token"], before)
        view = await accounts.register(k, **again.to_payload())  # the keyword form
        record = kv.get_sync(k)
        check(view, None if record is None else json.loads(record), again,
              expires=(before + 1800, time.time() + 1800))
        # the refresh token arrived as given: the provider accepts it
        assert (await accounts.refresh_now(k)).kind == "refreshed"
        assert sandbox.app.families[sandbox.app._by_token[again.secret("refresh_token")]].refreshes == 1


async def test_a_refused_registration_names_the_problem(temporal_time_skipping, sandbox, encryption_keys):
    client = with_codec(temporal_time_skipping.client, encryption_keys)
    async with in_process_worker(client, sandbox) as (accounts, _a, _kv):
        with pytest.raises(TypeError, match="not both"):
            await accounts.register(new_key(), Registration(client=CLIENT, refresh_token="rt-x"), scope="read")
        with pytest.raises(ConfigError, match="'nope'"):
            await accounts.register(new_key(), client="nope", refresh_token="rt-planted-0b1d")
