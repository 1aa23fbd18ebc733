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


@pytest.fixture(scope="session")
def sdk_written(sandbox_server) -> dict[str, str]:
    """Records the SDK wrote (tests/reader/sdk_records.py), key -> value."""
    import asyncio

    from .sdk_records import sdk_records

    return asyncio.run(sdk_records(sandbox_server))
