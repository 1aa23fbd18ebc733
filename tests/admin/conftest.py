"""The shared sandbox and environment fixtures live in tests/admin/support.py; ``host`` (an embedded host built
from a config file) and ``api`` (its admin API through httpx's ASGITransport) are shared by the admin tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from freshtoken.admin import create_app
from freshtoken.host.config import load_settings
from freshtoken.host.factory import Host, build_host
from tests.admin.support import ADMIN_TOKEN, CLIENT_SECRET, env, sandbox, write_config  # noqa: F401 - fixtures


@pytest.fixture
async def host(env: Path, sandbox) -> Any:  # noqa: F811 - the imported fixtures
    h = build_host(load_settings(write_config(env, sandbox.token_url)))
    yield h
    await h.aclose()


@pytest.fixture
async def api(host: Host) -> Any:
    app = create_app(host.runtime, token=ADMIN_TOKEN, metrics=host.metrics, secrets=[CLIENT_SECRET])
    # the Host names the address served; state-changing requests are JSON (a web page cannot send them)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8787",
                                 headers={"content-type": "application/json"}) as client:
        yield client
