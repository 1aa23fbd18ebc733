"""The demo in-process: the human output (snapshots when not on a terminal) and Ctrl-C-like stopping."""

from __future__ import annotations

import asyncio
import io

from freshtoken.sandbox.demo import demo_main, render


async def test_demo_human_output_and_summary() -> None:
    out = io.StringIO()
    summary = await demo_main(duration=2.5, out=out, live=False)
    text = out.getvalue()
    assert "ephemeral AES-256-GCM key" in text and "FRESHTOKEN_ENCRYPTION_KEYS" in text
    assert "ACCOUNT" in text and "EXPIRES IN" in text and "demo:sandbox:alice" in text
    assert "summary after" in text and "expired tokens served:   0" in text
    # seven accounts: the sixth, demo:sandbox:frank, is connected from nothing (sign-in, consent, PKCE code
    # exchange); the seventh, demo:sandbox:reports-job, is a machine account (client credentials, no refresh token)
    assert summary["expired_tokens_served"] == 0 and summary["accounts"] == 7
    assert "demo:sandbox:frank" in text and "connected from nothing" in text
    assert "demo:sandbox:reports-job" in text and "client credentials" in text
    assert summary["sandbox"]["client_credentials_tokens"] >= 1
    job = next(a for a in summary["per_account"] if a["key"] == "demo:sandbox:reports-job")
    assert job["status"] == "active" and job["refreshes"] >= 1


async def test_demo_stops_on_the_stop_event() -> None:
    stop = asyncio.Event()
    out = io.StringIO()
    task = asyncio.ensure_future(demo_main(duration=None, as_json=True, out=out, stop=stop))
    await asyncio.sleep(1.5)
    stop.set()
    summary = await asyncio.wait_for(task, 10)
    assert summary["duration_s"] < 5 and summary["expired_tokens_served"] == 0
    assert '"expired_tokens_served": 0' in out.getvalue()


def test_render_table() -> None:
    rows = [{"key": "a:b:c", "status": "active", "expires_at": 160.0, "alarm_at": 130.0, "refresh_count": 2,
             "generation": 3, "last_error": None}]
    lines = render(rows, now=100.0)
    assert lines[0].split() == ["ACCOUNT", "STATUS", "EXPIRES", "IN", "NEXT", "REFRESH", "REFRESHES", "GEN", "LAST", "ERROR"]
    assert lines[1].split() == ["a:b:c", "active", "60s", "30s", "2", "3"]
