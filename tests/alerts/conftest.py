from __future__ import annotations

from collections.abc import Iterator

import pytest

from freshtoken.sandbox import SandboxServer
from tests.admin.support import sandbox_server, set_env


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with sandbox_server(lifetime=3600).run_in_thread() as server:
        yield server


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path, sandbox: SandboxServer):
    """Secrets and the encryption key in the environment; cwd in a fresh folder; sandbox faults cleared."""
    set_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    sandbox.app.faults.clear()
    yield tmp_path
    sandbox.app.faults.clear()
