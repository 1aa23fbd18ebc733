"""Fixtures for the Cloudflare runtime: the loopback sandbox token endpoint, and real workerd (miniflare)
bridged to the SDK's Durable Object and the example gateway Worker running in this process."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from freshtoken.cloudflare.fetch_http import FetchTokenHTTP
from freshtoken.sandbox.server import SandboxServer

from .harness import AbortSignal, Bridge, Workerd, fetch, node_available, wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "cloudflare-worker" / "src" / "entry.py"
ADMIN_TOKEN = "test-admin-token-0123456789"
#: The example gateway's GATEWAY_KEY: its callers send it as a Bearer credential.
GATEWAY_KEY = "test-gateway-key-9876543210"
KEY = "acme:generic:user-1"


def load_example() -> Any:
    """The example Worker's module (``examples/cloudflare-worker/src/entry.py``), imported as is."""
    spec = importlib.util.spec_from_file_location("freshtoken_cf_example_entry", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = SandboxServer(lifetime=3600)
    await server.start()
    yield server
    await server.stop()


def client_config(sandbox: Any, **provider: Any) -> str:
    options = {"token_url": sandbox.token_url, "revocation_url": f"{sandbox.url}/revoke", "timeout": 5.0, **provider}
    return json.dumps({"sandbox": {"provider": "generic", "client_id": "sandbox-client",
                                   "auth_method": "client_secret_basic", "provider_options": options}})


class CF:
    """Real workerd + the bridge + the sandbox, with helpers for the admin API and for observing the
    real DO storage and KV (through JavaScript only)."""

    def __init__(self, workerd: Workerd, bridge: Bridge, sandbox: Any) -> None:
        self.workerd = workerd
        self.bridge = bridge
        self.sandbox = sandbox

    @property
    def http(self) -> Any:
        return self.workerd.client

    async def admin(self, method: str, key: str = KEY, action: str = "", *, body: Any = None,
                    token: str | None = ADMIN_TOKEN, params: dict[str, str] | None = None) -> Any:
        path = f"/admin/accounts/{quote(key, safe='')}" + (f"/{action}" if action else "")
        headers = {} if token is None else {"authorization": f"Bearer {token}"}
        return await self.http.request(method, path, json=body, headers=headers, params=params)

    async def gateway(self, path: str, *, key: str | None = GATEWAY_KEY) -> Any:
        """GET ``path`` from the example's gateway, as a caller holding ``key`` (None: no credentials)."""
        return await self.http.get(path, headers={} if key is None else {"authorization": f"Bearer {key}"})

    async def register(self, key: str = KEY, **extra: Any) -> dict[str, Any]:
        grant = self.sandbox.mint()
        r = await self.admin("POST", key, body={"client": "sandbox", "refresh_token": grant["refresh_token"], **extra})
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def storage(self, key: str = KEY) -> dict[str, Any]:
        data = await self.workerd.storage(key)
        raw = data["entries"].get("freshtoken:state")
        data["state"] = json.loads(raw) if raw else None
        return data

    async def between_alarms(self, key: str = KEY, timeout: float = 10.0) -> dict[str, Any]:
        """DO storage once the running alarm has set the next one. An alarm saves the state, writes KV, then
        sets the next alarm, and while it runs ``getAlarm()`` is null ("If getAlarm is called while an alarm is
        already running, it returns null unless setAlarm has also been called since the alarm handler started
        running": https://developers.cloudflare.com/durable-objects/api/alarms/). A read that waited only for
        the state or the KV record can land before that last step (CI failed so, twice, in two tests)."""

        async def probe() -> dict[str, Any] | None:
            stored = await self.storage(key)
            return stored if stored["alarm"] is not None else None

        return dict(await wait_for(probe, timeout=timeout, what="the next alarm set"))

    async def kv(self, key: str = KEY) -> dict[str, Any]:
        return await self.workerd.kv(key)

    async def kv_record(self, key: str = KEY) -> dict[str, Any] | None:
        entry = await self.kv(key)
        return json.loads(entry["value"]) if entry["value"] else None


@pytest.fixture
def cf_options() -> dict[str, Any]:
    """Provider options for the sandbox client (override in a test module to change the policy)."""
    return {}


def require_node() -> None:
    if node_available() is None:
        if os.environ.get("FRESHTOKEN_REQUIRE_WORKERD") or os.environ.get("CI"):
            pytest.fail("workerd tests required but node / the harness's node_modules are missing")
        pytest.skip("node or tests/cloudflare/harness/node_modules missing (run ci.d/cloudflare.sh)")


@contextlib.asynccontextmanager
async def running_cf(sandbox: Any, cf_options: dict[str, Any], *, persist_dir: Path | None = None,
                     extra_vars: dict[str, str] | None = None) -> AsyncIterator[CF]:
    """Real workerd + the bridge, the example's classes, token requests to ``sandbox`` (anything with
    ``url``, ``token_url``, ``mint()`` and ``app``). With ``persist_dir``, DO storage and KV survive a
    restart of workerd (``cf.workerd.stop()`` / ``kill()`` then ``start()``)."""
    require_node()
    example = load_example()

    class TokenRefresher(example.TokenRefresher):  # type: ignore[name-defined,misc]
        """The example's class; token requests go out through workerd's fetch(), as through
        ``js.fetch`` in a Python Worker (with workerd's ``AbortSignal``, as ``js.AbortSignal``)."""

        def make_http(self) -> FetchTokenHTTP:
            return FetchTokenHTTP(fetch, abort_signal=AbortSignal)

    bridge = Bridge(do_class=TokenRefresher, worker_class=example.Default)
    await bridge.start()
    workerd = Workerd(bridge, persist_dir=persist_dir, vars={
        "FRESHTOKEN_ADMIN_TOKEN": ADMIN_TOKEN,
        "GATEWAY_KEY": GATEWAY_KEY,
        "FRESHTOKEN_CLIENTS": client_config(sandbox, **cf_options),
        "FRESHTOKEN_CLIENT_SECRET_SANDBOX": "sandbox-secret",
        "UPSTREAM_BASE_URL": sandbox.url,
        **(extra_vars or {}),
    })
    try:
        started = time.monotonic()
        await workerd.start()
        workerd.info["python_start_s"] = round(time.monotonic() - started, 3)
        yield CF(workerd, bridge, sandbox)
    finally:
        await workerd.stop()
        await bridge.stop()
    assert not bridge.errors, "bridge errors:\n" + "\n".join(bridge.errors)


@pytest.fixture
def cf_vars() -> dict[str, str]:
    """Extra Worker vars (override in a test module)."""
    return {}


@pytest.fixture
async def cf(sandbox: SandboxServer, cf_options: dict[str, Any], cf_vars: dict[str, str]) -> AsyncIterator[CF]:
    async with running_cf(sandbox, cf_options, extra_vars=cf_vars) as env:
        yield env


__all__ = ["ADMIN_TOKEN", "CF", "KEY", "load_example", "require_node", "running_cf"]
