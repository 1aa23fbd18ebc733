"""Fixtures shared by every test directory: the loopback sandbox token endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from freshtoken.sandbox.server import SandboxServer, SandboxStats

#: Redis, Redis Cluster and Temporal servers, started on demand by the tests that use them.
pytest_plugins = ["tests.fixtures_servers.servers"]


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """One real loopback token endpoint for the session (rotating refresh tokens, reuse detection)."""
    with SandboxServer(lifetime=3600).run_in_thread() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxServer]:
    """The session's sandbox, reset to its defaults before and after each test."""

    def reset() -> None:
        app = sandbox_server.app
        app.faults.clear()
        app.lifetime, app.rotate, app.latency, app.grace, app.outage = 3600, True, 0.0, 0.0, None
        app.stats = SandboxStats()

    reset()
    yield sandbox_server
    reset()
