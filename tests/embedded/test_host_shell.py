"""The host shell (freshtoken.host.shell) and the outcome kinds, directly and through the embedded runtime: one message
for an unknown client, the KV prefix and margin applied, one re-arm policy after an unexpected error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from freshtoken.errors import ConfigError
from freshtoken.host.shell import HostShell, lookup_client
from freshtoken.http import TokenHTTP
from freshtoken.kv import MemoryKV
from freshtoken.outcome import Outcome, OutcomeKind
from freshtoken.reader import TokenReader

from .conftest import Host, plugins, sandbox_client


def test_outcome_kinds_failed_and_one_serialisation() -> None:
    failed = {k.value for k in OutcomeKind if k.failed}
    assert failed == {"retry_scheduled", "misconfigured", "reauth_required"}
    for kind in OutcomeKind:
        o = Outcome(kind.value, next_alarm=12.5, error="e", generation=3)  # a str is converted
        assert o.kind is kind and o.failed is kind.failed
        assert Outcome.from_dict(o.to_dict()) == o
        assert o.to_dict() == {"kind": kind.value, "next_alarm": 12.5, "error": "e", "generation": 3}
    assert Outcome.from_dict({"kind": "removed", "removed": True, "view": {}}) == Outcome(OutcomeKind.REMOVED)
    with pytest.raises(ValueError, match="unknown outcome kind 'refreshd'; known kinds: refreshed, "):
        Outcome("refreshd")
    with pytest.raises(ValueError, match="must be a mapping with a 'kind'"):
        Outcome.from_dict({"next_alarm": 1.0})


async def test_the_shell_looks_up_clients_with_one_message_and_checks_its_settings(sandbox: Any) -> None:
    client = sandbox_client(sandbox)
    http = TokenHTTP()
    try:
        shell = HostShell(clients={"sandbox": client}, plugins=plugins(), http=http, kv=MemoryKV(), kv_prefix="p/",
                          kv_margin=120)
        assert shell.client("sandbox") is client
        with pytest.raises(ConfigError, match=r"^unknown client 'nope'; configured clients: sandbox$"):
            shell.client("nope")
        with pytest.raises(ConfigError, match=r"^unknown client None; configured clients: none$"):
            lookup_client({}, None)
        assert shell.kv_key("t1:sandbox:a") == "p/t1:sandbox:a"
        provider = await shell.provider(client)
        from freshtoken.clock import ManualClock
        from freshtoken.storage import MemoryStorage

        refresher = shell.refresher("t1:sandbox:a", client=client, provider=provider, storage=MemoryStorage(),
                                    clock=ManualClock(), rng=__import__("random").Random(1))
        assert refresher.kv_key == "p/t1:sandbox:a" and refresher.kv_margin == 120.0
        for bad in ({"kv_margin": -1}, {"error_backoff": 0}, {"kv_prefix": 3}):
            with pytest.raises(ConfigError, match=next(iter(bad))):
                HostShell(clients={}, plugins=plugins(), http=http, kv=MemoryKV(), **bad)  # type: ignore[arg-type]

    finally:
        await http.aclose()

async def test_embedded_applies_the_kv_prefix_and_margin(host_factory: Callable[..., Host]) -> None:
    h = host_factory(kv_prefix="tenant-a/", kv_margin=900.0)
    (key,) = await h.add(1)
    assert await h.rt.run_due() == 1
    st = await h.rt.status(key)
    # the sandbox issues hour-long tokens; lead 600 s, but the margin says 900 s before expiry at the latest
    assert st["status"] == "active" and st["next_refresh_at"] == pytest.approx(st["expires_at"] - 900)
    record = await TokenReader(h.kv, clock=h.clock).get("tenant-a/" + key)
    assert record.generation == st["generation"] == 1
    assert await h.kv.get(key) is None
    assert await h.rt.remove(key) is True
    assert await h.kv.get("tenant-a/" + key) is None


async def test_embedded_rearms_an_unexpected_error_by_the_one_policy(host_factory: Callable[..., Host]) -> None:
    h = host_factory(error_backoff=100.0)
    keys = await h.add(5)
    h.rt.clients.pop("sandbox")  # the accounts' client is gone from the configuration
    now = h.clock.now()
    assert await h.rt.run_due() == 5
    delays = []
    for key in keys:
        st = await h.rt.status(key)
        assert st["last_error_kind"] == "config" and "runtime: ConfigError: unknown client 'sandbox'" in st["last_error"]
        delays.append(st["alarm_at"] - now)
    assert all(50.0 <= d <= 150.0 for d in delays), delays  # error_backoff with ±50 % jitter
    assert len(set(delays)) == 5  # jittered: not one thundering instant
    assert h.rt.stats()["outcomes"]["error_rearmed"] == 5
