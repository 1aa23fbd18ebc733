"""Load the server fixtures as a plugin unless the root conftest already did (``pytest_plugins``)."""

from __future__ import annotations

import pytest

PLUGIN = "tests.fixtures_servers.servers"


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(PLUGIN):
        config.pluginmanager.import_plugin(PLUGIN)
