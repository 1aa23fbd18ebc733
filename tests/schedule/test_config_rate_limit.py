"""``[clients.X] rate_limit`` reaches the embedded runtime's planner; a bad value is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from freshtoken.embedded import generate_key
from freshtoken.errors import ConfigError
from freshtoken.host.config import load_settings
from freshtoken.host.factory import build_host
from freshtoken.schedule import CapacityPlanner

CONFIG = """
[clients.acme]
provider = "generic"
client_id = "acme-client"
client_secret = {{ env = "FT_SCHED_SECRET" }}
rate_limit = {rate}
[clients.acme.provider_options]
token_url = "https://auth.acme.example/token"

[clients.other]
provider = "generic"
client_id = "other-client"
client_secret = {{ env = "FT_SCHED_SECRET" }}
[clients.other.provider_options]
token_url = "https://auth.other.example/token"

[runtime]
database = "state.db"
concurrency = 8

[kv]
backend = "sqlite"
path = "kv.db"
"""


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FT_SCHED_SECRET", "s3cret-value")
    monkeypatch.setenv("FRESHTOKEN_ENCRYPTION_KEYS", generate_key("test"))
    monkeypatch.delenv("FRESHTOKEN_CONFIG", raising=False)


async def test_the_client_rate_limit_reaches_the_planner(tmp_path: Path, env: None) -> None:
    path = tmp_path / "freshtoken.toml"
    path.write_text(CONFIG.format(rate=20))
    host = build_host(load_settings(path))
    planner = host.runtime.planner
    assert isinstance(planner, CapacityPlanner)
    assert planner.rate_limits == {"acme": 20.0} and planner.concurrency == 8
    assert host.runtime.stats()["capacity_per_second"] == pytest.approx(0.8 * 8 / 0.5)
    await host.aclose()


def test_a_bad_rate_limit_is_named(tmp_path: Path, env: None) -> None:
    path = tmp_path / "freshtoken.toml"
    path.write_text(CONFIG.format(rate=0))
    with pytest.raises(ConfigError, match=r"clients\.acme\.rate_limit"):
        load_settings(path)
