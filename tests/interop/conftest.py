"""Session-scoped fixtures: real OAuth 2.0 authorization servers on 127.0.0.1.

* ``oidc_server`` — oidc-provider (Node), strict: rotation with reuse detection (a replay revokes the grant),
  ``clockTolerance: 0``, Basic credentials must be form-urlencoded. Clients: ``basic`` (tricky secret),
  ``post``, ``jwt`` (private_key_jwt, RS256, key generated per session), ``public``, ``short_rt``
  (refresh tokens live 2 s), ``short_at`` (access tokens live 60 s).
* ``dot_server`` — django-oauth-toolkit, rotation + reuse protection, no grace period.
* ``dot_grace_server`` — the same with ``REFRESH_TOKEN_GRACE_PERIOD_SECONDS`` = 30.

Each fixture starts its server on first use and stops it (its whole process group) at session end.
Nothing is installed here: see ``ci.d/interop.sh``. Missing dependencies skip locally, fail under CI=true.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from . import servers

DOT_GRACE_SECONDS = 30

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.interop)


@pytest.fixture(scope="session")
def interop_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("interop")


@pytest.fixture(scope="session")
def oidc_server(interop_workdir: Path) -> Iterator[servers.OidcProviderServer]:
    ok, why = servers.oidc_available()
    servers.require(ok, why)
    server = servers.start_oidc(interop_workdir)
    try:
        yield server
    finally:
        server.process.stop()


@pytest.fixture(scope="session")
def dot_template_db(interop_workdir: Path) -> Path:
    ok, why = servers.dot_available()
    servers.require(ok, why)
    return servers.prepare_dot_db(interop_workdir)


@pytest.fixture(scope="session")
def dot_server(dot_template_db: Path, interop_workdir: Path) -> Iterator[servers.DotServer]:
    server = servers.start_dot(dot_template_db, interop_workdir, name="dot")
    try:
        yield server
    finally:
        server.process.stop()


@pytest.fixture(scope="session")
def dot_grace_server(dot_template_db: Path, interop_workdir: Path) -> Iterator[servers.DotServer]:
    server = servers.start_dot(dot_template_db, interop_workdir, name="dot-grace", grace_period=DOT_GRACE_SECONDS)
    try:
        yield server
    finally:
        server.process.stop()


@pytest.fixture(params=["oidc", "dot"])
def auth_server(request: pytest.FixtureRequest) -> servers.AuthServer:
    """Either server, for tests that hold for both."""
    name = "oidc_server" if request.param == "oidc" else "dot_server"
    server: servers.AuthServer = request.getfixturevalue(name)
    return server
