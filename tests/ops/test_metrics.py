"""Prometheus metrics after real refreshes against the sandbox, parsed with prometheus-client's own parser:
counter / histogram / gauge types, labels and values; /metrics on its own address without the admin token."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from freshtoken.admin import create_app
from freshtoken.clock import ManualClock
from freshtoken.host.config import load_settings
from freshtoken.host.factory import build_host
from freshtoken.observability.metrics_server import MetricsServer
from freshtoken.sandbox.server import Fault
from tests.admin.support import ADMIN_TOKEN, CLIENT_ID, write_config
from tests.ops.serve_process import ServeProcess

LEAD = 600.0


def families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(fams: dict[str, Any], family: str, sample: str, **labels: str) -> float:
    for s in fams[family].samples:
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    raise AssertionError(f"no sample {sample}{labels} in {family}: {fams[family].samples}")


async def test_metrics_types_labels_values_after_real_refreshes(env: Path, sandbox: Any) -> None:
    clock = ManualClock(time.time())
    host = build_host(load_settings(write_config(env, sandbox.token_url)), clock=clock)
    server = MetricsServer(host.metrics, host="127.0.0.1", port=0)  # type: ignore[arg-type]
    await server.start()
    try:
        a, b = sandbox.mint(CLIENT_ID), sandbox.mint(CLIENT_ID)
        rt = host.runtime
        await rt.register("t1:generic:a", client="sandbox", refresh_token=a["refresh_token"])
        await rt.register("t1:generic:b", client="sandbox", refresh_token=b["refresh_token"],
                          access_token=b["access_token"], expires_in=3600)
        assert await rt.run_due() == 1  # a, due at once; b holds a fresh token
        clock.advance(3600 - LEAD + 120)  # both alarms are now 120 s (and a bit) overdue
        async with httpx.AsyncClient(trust_env=False) as http:
            fams = families((await http.get(server.url)).text)
            assert fams["freshtoken_oldest_overdue_alarm_seconds"].type == "gauge"
            assert 120 <= value(fams, "freshtoken_oldest_overdue_alarm_seconds",
                                "freshtoken_oldest_overdue_alarm_seconds") < 200
            assert value(fams, "freshtoken_tokens_due_unrefreshed", "freshtoken_tokens_due_unrefreshed") == 2
            assert await rt.run_due() == 2
            sandbox.app.inject(Fault(503, {"error": "temporarily_unavailable"}))
            assert (await rt.refresh_now("t1:generic:a")).kind.value == "retry_scheduled"
            sandbox.app.inject(Fault(400, {"error": "invalid_grant"}))
            assert (await rt.refresh_now("t1:generic:b")).kind.value == "reauth_required"
            r = await http.get(server.url)  # no token: its own address
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
            assert (await http.get(server.url.replace("/metrics", "/accounts"))).status_code == 404
            fams = families(r.text)
            assert value(fams, "freshtoken_accounts", "freshtoken_accounts", status="retrying") == 1
            assert value(fams, "freshtoken_accounts", "freshtoken_accounts", status="reauth_required") == 1
            assert value(fams, "freshtoken_tokens_due_unrefreshed", "freshtoken_tokens_due_unrefreshed") == 1
            assert value(fams, "freshtoken_oldest_overdue_alarm_seconds",
                         "freshtoken_oldest_overdue_alarm_seconds") == 0
            assert (await rt.refresh_now("t1:generic:a")).kind.value == "refreshed"  # a recovers
            r = await http.get(server.url)
        fams = families(r.text)
        assert "t1:generic" not in r.text  # no per-account label
        f = fams["freshtoken_refreshes"]
        assert f.type == "counter"
        assert value(fams, "freshtoken_refreshes", "freshtoken_refreshes_total", provider="generic",
                     outcome="refreshed") == 4
        assert value(fams, "freshtoken_refreshes", "freshtoken_refreshes_total", provider="generic",
                     outcome="retryable") == 1
        assert value(fams, "freshtoken_refreshes", "freshtoken_refreshes_total", provider="generic",
                     outcome="reauth_required") == 1
        assert fams["freshtoken_recoveries"].type == "counter"
        assert value(fams, "freshtoken_recoveries", "freshtoken_recoveries_total", provider="generic",
                     via="refresh") == 1
        lat = fams["freshtoken_alarm_lateness_seconds"]
        assert lat.type == "histogram"
        # the two alarms fired 120 s late, the first refresh on time; manual refreshes are not lateness
        assert value(fams, lat.name, f"{lat.name}_count", provider="generic") == 3
        assert value(fams, lat.name, f"{lat.name}_bucket", provider="generic", le="60.0") == 1
        assert value(fams, lat.name, f"{lat.name}_bucket", provider="generic", le="300.0") == 3
        dur = fams["freshtoken_refresh_duration_seconds"]
        assert dur.type == "histogram"
        assert value(fams, dur.name, f"{dur.name}_count", provider="generic") == 6
        assert fams["freshtoken_accounts"].type == "gauge"
        assert value(fams, "freshtoken_accounts", "freshtoken_accounts", status="active") == 1
        assert value(fams, "freshtoken_tokens_due_unrefreshed", "freshtoken_tokens_due_unrefreshed") == 0
        # the runtime's counts are counters now, its state stays gauges
        assert fams["freshtoken_runtime_refreshes_ok"].type == "counter"
        assert value(fams, "freshtoken_runtime_refreshes_ok", "freshtoken_runtime_refreshes_ok_total") >= 3
        assert fams["freshtoken_runtime_alarms_fired"].type == "counter"
        assert fams["freshtoken_runtime_outcomes"].type == "counter"
        assert fams["freshtoken_runtime_in_flight"].type == "gauge"
        # the background WAL checkpoints of the state and KV files: counted, none failed
        for name in ("checkpoints_state", "checkpoints_kv", "checkpoint_errors_state", "checkpoint_errors_kv"):
            assert fams[f"freshtoken_runtime_{name}"].type == "counter", name
        assert value(fams, "freshtoken_runtime_checkpoint_errors_kv", "freshtoken_runtime_checkpoint_errors_kv_total") == 0
        # still on the admin API, behind the token
        app = create_app(rt, token=ADMIN_TOKEN, metrics=host.metrics)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as api:
            assert (await api.get("/metrics")).status_code == 401
            ok = await api.get("/metrics", headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
            assert ok.status_code == 200 and "freshtoken_refreshes_total" in ok.text
    finally:
        await server.stop()
        await host.aclose()


@pytest.mark.parametrize("where", ["flag", "config"])
def test_serve_metrics_listen_without_the_admin_token(env: Path, sandbox: Any, where: str) -> None:
    extra = '\n[metrics]\nlisten = "127.0.0.1:0"\n' if where == "config" else ""
    serve = ServeProcess(write_config(env, sandbox.token_url, extra=extra),
                         serve_args=("--metrics-listen", "127.0.0.1:0") if where == "flag" else ())
    try:
        metrics_url = serve.wait_for(r"metrics on (http://\S+/metrics)").group(1)
        admin_url = serve.wait_for(r"admin API on (http://[^\s;]+)").group(1)
        r = httpx.get(metrics_url, trust_env=False)
        assert r.status_code == 200
        assert families(r.text)["freshtoken_refreshes"].type == "counter"
        assert httpx.get(f"{admin_url}/metrics", trust_env=False).status_code == 401
        assert httpx.post(metrics_url.replace("/metrics", "/accounts"), json={}, trust_env=False).status_code == 404
    finally:
        assert serve.stop() == 0, "\n".join(serve.lines)
