"""``freshtoken demo``: the main job on the embedded default, with no external server and no set-up.

1. Starts two sandbox authorization servers on 127.0.0.1 (:mod:`freshtoken.sandbox.server`): short-lived access tokens
   and rotating refresh tokens with reuse detection; the second one is *flaky* (every other token request
   fails with ``503 temporarily_unavailable``, by fault injection).
2. Uses a temporary folder for the SQLite state and KV, and an ephemeral AES-256-GCM key generated for this run
   only (a real deployment sets ``FRESHTOKEN_ENCRYPTION_KEYS``).
3. Registers a few accounts: fresh grants with no access token yet (refreshed at once), accounts with a
   current token (refreshed later, ahead of expiry), one on the flaky provider and one whose grant was revoked
   (``invalid_grant``: re-authorisation required, alerted once, never retried).
4. Runs the embedded runtime and, like a gateway, polls KV through :class:`~freshtoken.reader.TokenReader`,
   counting every expired token it was handed and every gap after an account's first token.
5. Shows a live table every second; ``--duration`` ends with a summary (``--json``: the summary as JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..client import OAuthClient
from ..errors import TokenUnavailable
from ..events import ReauthRequiredEvent, RefreshFailed, RefreshSucceeded, TokenExpired
from ..hookspecs import hookimpl
from ..plugins import Plugins
from ..reader import TokenReader
from .server import Fault, SandboxAuthServer, SandboxServer

if TYPE_CHECKING:
    import httpx

    from ..embedded import EmbeddedRuntime

#: The demo's refresh lead. Tokens this short (less than twice the lead) are refreshed half-way through
#: their life: a token living 40 s is refreshed 20 s after it was issued, 20 s before it expires.
DEMO_LEAD = 60.0
#: How often the demo's "gateway" reads every key from KV.
GATEWAY_POLL = 0.1

SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret"  # noqa: S105 - the local sandbox's built-in demo client


class FlakyAuthServer(SandboxAuthServer):
    """A sandbox whose token endpoint fails every ``every``-th request (the first of each pair) with a 503."""

    def __init__(self, *, every: int = 2, **options: Any) -> None:
        super().__init__(**options)
        self.every = every
        self._n = 0

    async def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if path == "/token" and method == "POST":
            self._n += 1
            if self._n % self.every == 1:
                self.inject(Fault(
                    status=503,
                    body={"error": "temporarily_unavailable", "error_description": "sandbox: injected outage"},
                    headers={"retry-after": "1"},
                ))
        return await super().handle(method, path, headers, body)


@dataclass
class DemoAccount:
    key: str
    client: str
    note: str
    #: seconds the registered access token still lives (None: register without one: refresh at once)
    token_left: float | None = None
    revoked: bool = False
    #: connected from nothing: the sandbox's sign-in and consent, PKCE, the code exchanged (freshtoken.connect)
    connected: bool = False
    #: how it gets its next token (freshtoken.strategies): a machine strategy registers with no grant at all
    strategy: str = "refresh_token"


def demo_accounts() -> list[DemoAccount]:
    return [
        DemoAccount("demo:sandbox:alice", "sandbox", "new grant: refreshed at once"),
        DemoAccount("demo:sandbox:bob", "sandbox", "has a token expiring in 75s", token_left=75),
        DemoAccount("demo:sandbox:carol", "sandbox", "has a token expiring in 85s", token_left=85),
        DemoAccount("demo:flaky:dave", "flaky", "provider fails every other request (503)"),
        DemoAccount("demo:sandbox:erin", "sandbox", "grant revoked: re-auth required", revoked=True),
        DemoAccount("demo:sandbox:frank", "sandbox", "connected from nothing: sign-in, consent, PKCE",
                    connected=True),
        DemoAccount("demo:sandbox:reports-job", "sandbox", "machine account: client credentials, no refresh token",
                    strategy="client_credentials"),
    ]


async def connect_from_nothing(runtime: EmbeddedRuntime, key: str, client: str, sandbox: SandboxServer,
                               http: httpx.AsyncClient) -> None:
    """What ``freshtoken connect`` does, with the demo playing the user: open the authorization URL (the sandbox's
    sign-in and consent form), approve as the sandbox's ``demo`` user, hand the redirect's code and state back."""
    import httpx

    from ..connect import ConnectFlow, MemoryStateStore

    flow = ConnectFlow.for_runtime(runtime, MemoryStateStore())
    redirect = "http://127.0.0.1/callback"  # read from the sandbox's answer, never followed
    started = await flow.start(key, client, redirect_uri=redirect)
    page = await http.get(started.authorization_url)
    page.raise_for_status()
    params = dict(httpx.URL(started.authorization_url).params)
    answer = await http.post(f"{sandbox.url}/authorize", data={
        **params, "username": "demo", "password": "demo-password", "action": "approve"})
    back = httpx.URL(answer.headers["location"]).params
    await flow.finish(back.get("state"), code=back.get("code"), redirect_uri=redirect)


class EventTally:
    """A plugin counting events, and keeping the last few as lines for the live view."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.lines: deque[str] = deque(maxlen=6)
        self.reauth: list[str] = []

    def _line(self, text: str) -> None:
        self.lines.append(f"{time.strftime('%H:%M:%S')}  {text}")

    @hookimpl
    def freshtoken_refresh_succeeded(self, event: RefreshSucceeded) -> None:
        self.counts["refreshed"] += 1
        self._line(f"{event.key}: refreshed (generation {event.generation}"
                   f"{', refresh token rotated' if event.rotated else ''}, {event.duration * 1000:.0f} ms)")

    @hookimpl
    def freshtoken_refresh_failed(self, event: RefreshFailed) -> None:
        self.counts["failed"] += 1
        retry = f", retry in {max(0.0, (event.retry_at or event.at) - event.at):.1f}s" if event.retry_at else ""
        self._line(f"{event.key}: failed ({event.kind}{retry}): {event.error[:70]}")

    @hookimpl
    def freshtoken_reauth_required(self, event: ReauthRequiredEvent) -> None:
        self.counts["reauth_required"] += 1
        self.reauth.append(event.key)
        self._line(f"{event.key}: ALERT re-authorisation required: {event.error[:60]}")

    @hookimpl
    def freshtoken_token_expired(self, event: TokenExpired) -> None:
        self.counts["token_expired"] += 1
        self._line(f"{event.key}: ALERT token expired in KV")


@dataclass
class Gateway:
    """Polls KV for every key the way a gateway would, counting what it was handed."""

    reader: TokenReader
    kv: Any
    keys: list[str]
    reads: int = 0
    served: int = 0
    expired_served: int = 0
    missing_after_first: int = 0
    refused_before_first: int = 0
    had_token: set[str] = field(default_factory=set)

    def poll(self) -> None:
        now = time.time()
        for key in self.keys:
            raw = self.kv.get_sync(key)
            self.reads += 1
            try:
                record = self.reader.check(key, raw)
            except TokenUnavailable as exc:
                if exc.reason == "reauth_required":
                    continue  # KV says why there is no token: the grant was refused (alerted on)
                if raw is not None:
                    self.expired_served += 1  # KV handed out a token that had already expired
                elif key in self.had_token:
                    self.missing_after_first += 1  # a gap: the token vanished before its replacement
                else:
                    self.refused_before_first += 1
                continue
            if record.expires_at is not None and record.expires_at <= now:
                self.expired_served += 1
            else:
                self.served += 1
                self.had_token.add(key)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), GATEWAY_POLL)


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = round(seconds)
    return f"{s}s" if abs(s) < 120 else f"{s // 60}m{abs(s) % 60:02d}s"


def render(rows: list[dict[str, Any]], now: float) -> list[str]:
    headers = ["ACCOUNT", "STATUS", "EXPIRES IN", "NEXT REFRESH", "REFRESHES", "GEN", "LAST ERROR"]
    table = []
    for r in rows:
        exp = r.get("expires_at")
        nxt = r.get("alarm_at")
        table.append([
            r["key"], r.get("status") or "-",
            _fmt(None if exp is None else exp - now),
            _fmt(None if nxt is None else max(0.0, nxt - now)),
            str(r.get("refresh_count") or 0), str(r.get("generation") or 0),
            (r.get("last_error") or "")[:58],
        ])
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(t, widths, strict=True)).rstrip() for t in table]
    return out


class _LineHandler(logging.Handler):
    """Keeps freshtoken's log lines for the live view instead of letting them scribble over it."""

    def __init__(self, tally: EventTally) -> None:
        super().__init__(logging.WARNING)
        self.tally = tally

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("freshtoken.observability.alerts", "freshtoken.refresher")):
            return  # the tally shows these events already
        with contextlib.suppress(Exception):
            self.tally._line(f"log {record.levelname.lower()}: {record.getMessage()[:90]}")


async def demo_main(
    *,
    duration: float | None = None,
    lifetime: int = 40,
    as_json: bool = False,
    out: TextIO | None = None,
    stop: asyncio.Event | None = None,
    live: bool | None = None,
) -> dict[str, Any]:
    """Run the demo; returns the summary. ``live`` None: a redrawn table on a terminal, snapshots otherwise."""
    import httpx

    from ..embedded import AesGcmCodec, EmbeddedRuntime, SQLiteKV, SQLiteStore, generate_key
    from ..providers import generic

    out = out or sys.stdout
    stop = stop or asyncio.Event()
    tty = out.isatty() if live is None else live

    intro: list[str] = []

    def say(text: str = "") -> None:
        if not as_json:
            print(text, file=out, flush=True)
            if len(intro) < 16:
                intro.append(text)

    tally = EventTally()
    handler = _LineHandler(tally)
    ft_log = logging.getLogger("freshtoken")
    old_propagate = ft_log.propagate
    ft_log.addHandler(handler)
    ft_log.propagate = False

    stable = SandboxServer(SandboxAuthServer(lifetime=lifetime))
    flaky = SandboxServer(FlakyAuthServer(lifetime=lifetime))
    await stable.start()
    await flaky.start()
    tmp = tempfile.TemporaryDirectory(prefix="freshtoken-demo-")
    started = time.time()
    runtime: EmbeddedRuntime | None = None
    summary: dict[str, Any] = {}
    try:
        key_entry = generate_key("demo")
        codec = AesGcmCodec.from_spec(key_entry)
        say("freshtoken demo: the embedded runtime against a local sandbox authorization server")
        say(f"  sandbox:    {stable.token_url} (tokens live {lifetime}s, refresh tokens rotate, reuse detected)")
        say(f"  flaky:      {flaky.token_url} (every other request: 503 temporarily_unavailable)")
        say(f"  state, KV:  {tmp.name}/state.db, {tmp.name}/kv.db (SQLite, deleted at exit)")
        say("  encryption: an ephemeral AES-256-GCM key 'demo', generated for this run only and never stored")
        say("              (a real deployment sets FRESHTOKEN_ENCRYPTION_KEYS; see 'freshtoken keys generate')")

        def client(name: str, sandbox: SandboxServer) -> OAuthClient:
            return OAuthClient(
                name=name, provider="generic", client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_CLIENT_SECRET,
                provider_options={
                    "token_url": sandbox.token_url, "revocation_url": f"{sandbox.url}/revoke",
                    "authorize_url": f"{sandbox.url}/authorize",
                    "lead": DEMO_LEAD, "timeout": 5.0, "retry": {"base": 2.0, "min_delay": 0.5},
                    "strategy_options": {"client_credentials": {"scope": "reports"}},
                },
            )

        plugins = Plugins(entry_points=False)
        plugins.register(generic, name="generic")
        plugins.register(tally, name="demo-tally")
        from ..observability.alerts import LoggingAlerter

        plugins.register(LoggingAlerter(), name="logging-alerter")
        store = SQLiteStore(Path(tmp.name) / "state.db", codec)
        kv = SQLiteKV(Path(tmp.name) / "kv.db")
        runtime = EmbeddedRuntime(
            store=store, kv=kv, clients={"sandbox": client("sandbox", stable), "flaky": client("flaky", flaky)},
            plugins=plugins, concurrency=8, startup_spread=0.0, max_idle=1.0,
        )
        accounts = demo_accounts()
        async with httpx.AsyncClient(trust_env=False) as hc:
            for acct in accounts:
                server = flaky if acct.client == "flaky" else stable
                if acct.connected:
                    await connect_from_nothing(runtime, acct.key, acct.client, server, hc)
                    continue
                if acct.strategy != "refresh_token":  # the client's own credential gets each token
                    await runtime.register(acct.key, client=acct.client, strategy=acct.strategy)
                    continue
                grant = server.mint(SANDBOX_CLIENT_ID)
                if acct.revoked:
                    await hc.post(f"{server.url}/revoke", data={"token": grant["refresh_token"]})
                now = time.time()
                await runtime.register(
                    acct.key, client=acct.client, refresh_token=grant["refresh_token"],
                    access_token=grant["access_token"] if acct.token_left else None,
                    expires_at=now + acct.token_left if acct.token_left else None,
                )
        say(f"  accounts:   {len(accounts)} registered")
        for acct in accounts:
            say(f"    {acct.key:22} {acct.note}")
        say()

        gateway_kv = SQLiteKV(Path(tmp.name) / "kv.db", readonly=True)  # a separate reader, like a gateway
        gateway = Gateway(TokenReader(gateway_kv, min_remaining=0.0), gateway_kv, [a.key for a in accounts])

        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        scheduler = asyncio.ensure_future(runtime.run(stop))
        poller = asyncio.ensure_future(gateway.run(stop))
        deadline = None if duration is None else started + duration
        last_snapshot = 0.0
        try:
            while not stop.is_set():
                now = time.time()
                if deadline is not None and now >= deadline:
                    break
                if not as_json:
                    lines = _view(runtime, tally, gateway, stable, flaky, now, started, duration)
                    if tty:  # redraw in place, the introduction included
                        out.write("\x1b[H\x1b[2J" + "\n".join(intro + lines) + "\n")
                        out.flush()
                    elif now - last_snapshot >= 5.0:
                        last_snapshot = now
                        say("\n".join(lines))
                        say()
                wait = 1.0 if deadline is None else max(0.0, min(1.0, deadline - now))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
        finally:
            stop.set()
            for sig in installed:
                loop.remove_signal_handler(sig)
            await asyncio.gather(scheduler, poller, return_exceptions=True)
        gateway.poll()
        now = time.time()
        rows = runtime.list_accounts(limit=100)
        summary = {
            "duration_s": round(now - started, 1),
            "token_lifetime_s": lifetime,
            "accounts": len(rows),
            "refreshes": tally.counts["refreshed"],
            "refresh_failures": tally.counts["failed"],
            "reauth_required": sorted(set(tally.reauth)),
            "tokens_expired_in_kv_alerts": tally.counts["token_expired"],
            "expired_tokens_served": gateway.expired_served,
            "gateway": {
                "reads": gateway.reads,
                "served": gateway.served,
                "expired_served": gateway.expired_served,
                "gaps_after_first_token": gateway.missing_after_first,
                "unavailable_before_first_token": gateway.refused_before_first,
            },
            "sandbox": {
                "requests": stable.app.stats.requests + flaky.app.stats.requests,
                "refreshes": stable.app.stats.refreshes + flaky.app.stats.refreshes,
                "injected_failures": flaky.app.stats.errors,
                "refresh_token_reuse_detected": stable.app.stats.reuse_detected + flaky.app.stats.reuse_detected,
                "overlapping_refreshes": stable.app.stats.overlaps + flaky.app.stats.overlaps,
                "client_credentials_tokens": stable.app.machine.stats.client_credentials,
            },
            "per_account": [
                {
                    "key": r["key"], "status": r.get("status"), "refreshes": r.get("refresh_count") or 0,
                    "generation": r.get("generation") or 0,
                    "expires_in_s": None if r.get("expires_at") is None else round(r["expires_at"] - now, 1),
                    "last_error": r.get("last_error"),
                }
                for r in rows
            ],
        }
        gateway_kv.close()
    finally:
        if runtime is not None:
            await runtime.aclose()
        await stable.stop()
        await flaky.stop()
        tmp.cleanup()
        ft_log.removeHandler(handler)
        ft_log.propagate = old_propagate
    if as_json:
        print(json.dumps(summary, indent=2), file=out, flush=True)
    else:
        say(_summary_text(summary))
    return summary


def _view(runtime: Any, tally: EventTally, gateway: Gateway, stable: SandboxServer, flaky: SandboxServer,
          now: float, started: float, duration: float | None) -> list[str]:
    elapsed = now - started
    limit = f" of {duration:.0f}s" if duration else " (Ctrl-C to stop)"
    lines = [
        f"freshtoken demo — {elapsed:.0f}s{limit} — refreshes {tally.counts['refreshed']}, "
        f"failures {tally.counts['failed']}, sandbox requests {stable.app.stats.requests + flaky.app.stats.requests}",
        f"gateway: {gateway.reads} KV reads, {gateway.served} tokens served, "
        f"{gateway.expired_served} expired tokens served, {gateway.missing_after_first} gaps",
        "",
    ]
    lines += render(runtime.list_accounts(limit=100), now)
    lines += ["", "recent events:"]
    lines += [f"  {line}" for line in tally.lines] or ["  (none yet)"]
    return lines


def _summary_text(s: dict[str, Any]) -> str:
    g = s["gateway"]
    sb = s["sandbox"]
    lines = [
        "",
        f"summary after {s['duration_s']}s ({s['accounts']} accounts, tokens living {s['token_lifetime_s']}s):",
        f"  refreshes done:          {s['refreshes']} "
        f"({s['refresh_failures']} failed attempt(s) along the way, retried)",
        f"  expired tokens served:   {s['expired_tokens_served']} (of {g['served'] + g['expired_served']} tokens "
        f"the gateway read from KV in {g['reads']} reads; {g['gaps_after_first_token']} gaps)",
        f"  re-auth required:        {', '.join(s['reauth_required']) or 'none'}",
        f"  sandbox:                 {sb['requests']} requests, {sb['injected_failures']} injected failures, "
        f"{sb['refresh_token_reuse_detected']} refresh-token reuses, {sb['overlapping_refreshes']} overlaps",
    ]
    return "\n".join(lines)


def run_demo(*, duration: float | None = None, lifetime: int = 40, as_json: bool = False) -> dict[str, Any]:
    """Run :func:`demo_main` in a new event loop (the ``freshtoken demo`` command)."""
    return asyncio.run(demo_main(duration=duration, lifetime=lifetime, as_json=as_json))
