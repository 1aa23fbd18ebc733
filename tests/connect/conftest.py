"""Fixtures of the connect tests (see support.py): the sandbox, the environment, a host with a ManualClock."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from freshtoken.clock import ManualClock
from freshtoken.host.config import load_settings
from freshtoken.host.factory import build_host
from freshtoken.plugins import Plugins
from tests.connect.support import Recorder, env, sandbox, write_config  # noqa: F401 - fixtures


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(time.time())


@pytest.fixture
async def host(env: Path, sandbox: Any, recorder: Recorder, clock: ManualClock) -> Any:  # noqa: F811
    plugins = Plugins()
    plugins.register(recorder, name="connect-test-recorder")
    h = build_host(load_settings(write_config(env, sandbox.url)), plugins=plugins, clock=clock)
    yield h
    await h.aclose()
