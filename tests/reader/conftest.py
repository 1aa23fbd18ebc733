"""Fixtures of the reader tests: the core rig (refresher + sandbox), the server fixtures (redis-server)."""

from __future__ import annotations

import pytest

from tests.core.conftest import Rig

PLUGIN = "tests.fixtures_servers.servers"


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(PLUGIN):
        config.pluginmanager.import_plugin(PLUGIN)


@pytest.fixture
async def rig(sandbox):
    r = Rig(sandbox)
    yield r
    await r.http.aclose()
