"""The Durable Object on real workerd uses the host shell: the KV prefix and margin apply (FRESHTOKEN_KV_PREFIX,
FRESHTOKEN_KV_MARGIN), as on the other runtimes."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import CF, KEY
from .harness import wait_for

pytestmark = pytest.mark.workerd

PREFIX = "tenant-a/"


@pytest.fixture
def cf_vars() -> dict[str, str]:
    return {"FRESHTOKEN_KV_PREFIX": PREFIX, "FRESHTOKEN_KV_MARGIN": "900"}


async def test_the_object_writes_under_the_kv_prefix_and_keeps_the_margin(cf: CF) -> None:
    await cf.register()

    async def written() -> dict[str, Any] | None:
        return await cf.kv_record(PREFIX + KEY)

    record = await wait_for(written, timeout=15, what="the KV record under the prefix")
    assert record["generation"] == 1
    assert await cf.kv_record(KEY) is None  # nothing under the bare key
    state = (await cf.storage())["state"]
    # hour-long sandbox tokens, lead 600 s: the 900 s margin decides the next refresh
    assert state["next_refresh_at"] == pytest.approx(state["expires_at"] - 900, abs=0.01)
    # removal deletes the prefixed record
    r = await cf.admin("DELETE")
    assert r.status_code == 200 and r.json()["removed"] is True, r.text
    assert await cf.kv_record(PREFIX + KEY) is None
