"""Load the server fixtures as a plugin unless the root conftest already did (``pytest_plugins``)."""

from __future__ import annotations

import pytest

PLUGIN = "tests.fixtures_servers.servers"


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(PLUGIN):
        config.pluginmanager.import_plugin(PLUGIN)


import os  # noqa: E402
from collections.abc import Iterator  # noqa: E402

from freshtoken.embedded import generate_key  # noqa: E402
from freshtoken.sandbox.server import SandboxServer  # noqa: E402


@pytest.fixture(scope="session")
def encryption_keys() -> str:
    """One key spec for every client and worker of the session (as FRESHTOKEN_ENCRYPTION_KEYS)."""
    return os.environ.get("FRESHTOKEN_TEST_TEMPORAL_KEYS") or generate_key("t1")


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer(lifetime=3600).run_in_thread() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxServer]:
    app = sandbox_server.app
    app.faults.clear()
    app.lifetime, app.rotate, app.latency = 3600, True, 0.0
    if hasattr(app, "outage"):
        app.outage = None
    yield sandbox_server
    app.faults.clear()
