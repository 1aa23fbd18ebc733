"""``freshtoken worker --temporal …`` (the click command of freshtoken.temporal.cli) from a config file: clients and
a Redis KV from freshtoken.toml, keys from FRESHTOKEN_ENCRYPTION_KEYS; SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest

from freshtoken import TokenReader
from freshtoken.kv.redis import RedisKV
from freshtoken.temporal import TemporalAccounts
from freshtoken.temporal.client import connect
from freshtoken.temporal.codec import EncryptionCodec
from tests.fixtures_servers.servers import Process

pytestmark = [pytest.mark.temporal, pytest.mark.redis]

REPO = Path(__file__).resolve().parents[2]


async def test_worker_command_from_config_refreshes_and_stops_on_sigterm(
    temporal_dev_server, redis_server, sandbox, encryption_keys, tmp_path
):
    config = tmp_path / "freshtoken.toml"
    config.write_text(f"""
[clients.sandbox]
provider = "generic"
client_id = "sandbox-client"
client_secret = {{ env = "SANDBOX_SECRET" }}
[clients.sandbox.provider_options]
token_url = "{sandbox.token_url}"

[kv]
backend = "redis"
url = {{ env = "REDIS_URL" }}
prefix = "cli:"
""")
    queue = f"ft-cli-{uuid.uuid4().hex[:6]}"
    code = "import sys; from freshtoken.temporal.cli import worker; worker(sys.argv[1:])"
    env = dict(os.environ, FRESHTOKEN_CONFIG=str(config), FRESHTOKEN_ENCRYPTION_KEYS=encryption_keys,
               SANDBOX_SECRET="sandbox-secret", REDIS_URL=redis_server)
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        proc = Process.start([sys.executable, "-c", code, "--temporal", temporal_dev_server.target,
                              "--task-queue", queue, "--log-level", "warning"],
                             log_path=tmp_path / "worker.log", cwd=str(REPO))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    kv = RedisKV(url=redis_server)
    try:
        deadline = time.monotonic() + 60
        while "Temporal worker on" not in proc.log_tail():
            assert proc.alive() and time.monotonic() < deadline, proc.log_tail()
            await asyncio.sleep(0.05)
        client = await connect(temporal_dev_server.target, codec=EncryptionCodec.from_spec(encryption_keys))
        accounts = TemporalAccounts(client, task_queue=queue)
        key = f"cli{uuid.uuid4().hex[:6]}:generic:user-1"
        await accounts.register(key, client="sandbox", refresh_token=sandbox.mint()["refresh_token"])
        deadline = time.monotonic() + 30
        while await kv.get(f"cli:{key}") is None:
            assert time.monotonic() < deadline, proc.log_tail()
            await asyncio.sleep(0.05)
        record = await TokenReader(kv).get(f"cli:{key}")
        assert record.generation == 1 and record.access_token and record.token_type == "Bearer"
        deadline = time.monotonic() + 10  # visibility is eventually consistent
        while True:
            listed = {a["key"]: a for a in await accounts.list_accounts(with_status=True)}
            if key in listed:
                assert listed[key]["status"] == "active" and not listed[key].get("refresh_token")
                break
            assert time.monotonic() < deadline, "the account is not listed"
            await asyncio.sleep(0.2)
    finally:
        await kv.aclose()
        if proc.alive():
            os.killpg(proc.pid, signal.SIGTERM)
            proc.popen.wait(40)
    assert proc.popen.returncode == 0, proc.log_tail()
