"""A hostile token endpoint echoes the client secret, the refresh token and the access token in every encoding
a secret takes on the wire; none of it may come out anywhere.

Real components: a loopback HTTP token endpoint (:mod:`tests.security.hostile`), a loopback Slack webhook,
the embedded host built from a TOML file (SQLite state and KV files on disk, AES-GCM at rest, the logging and
Slack alerters), the admin API (ASGI), the CLI (click's runner, on the same files). Looked at: every log record
at DEBUG (httpx and httpcore included), each Slack post, the refresh outcomes, the admin API's answers and
``/metrics``, ``accounts list/show`` (table and JSON) and the raw bytes of ``state.db*`` and ``kv.db*`` (with
their ``-wal`` files, while the host runs and after it closed).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
from click.testing import CliRunner

from freshtoken.admin import create_app
from freshtoken.cli import main
from freshtoken.host.config import load_settings
from freshtoken.host.factory import build_host
from tests.admin.support import Webhook
from tests.raw_files import raw_file
from tests.security.canaries import (
    ADMIN_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    ENCODINGS,
    access_token,
    b64,
    json_texts,
    leaks,
    refresh_token,
)
from tests.security.hostile import Answer, HostileEndpoint, Mode

#: Not known to freshtoken at all: only the mask for long token-like runs can hide it.
UNKNOWN_TOKEN = "u7Q2kLz9Xc4Vb8Nm1As5Df3Gh6Jk0Pq2Wr4Et7Yu9Io1"
PROSE = ("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the "
         "client secret value. Trace ID: 0f2c1a6e-3d2b-4b5c-9a7e-1f2e3d4c5b6a")
#: Error codes cycled through the scenarios: each path of the refresher (misconfigured, dead grant, retry).
CODES = [(400, "invalid_request"), (400, "invalid_grant"), (503, "server_error")]


@dataclass
class Scenario:
    name: str
    make: Callable[[str, str], Mode]  # (refresh token, access token) -> what the endpoint answers
    client: str = "post"
    account_id: str | None = None


def _error(i: int, description: str, error: str | None = None, **kw: object) -> Answer:
    status, code = CODES[i % len(CODES)]
    return Answer(status, {"error": error if error is not None else code, "error_description": description}, **kw)


def encoded(i: int, name: str) -> Scenario:
    enc = ENCODINGS[name]
    return Scenario(name, lambda rt, at: lambda req: _error(
        i, f"rejected: client_secret={enc(CLIENT_SECRET)} refresh_token={enc(rt)} access_token={enc(at)} (see docs)"
    ))


def split(i: int, which: str, zero_width: bool = False) -> Scenario:
    """A secret cut in two: its first part in ``error``, the rest in ``error_description``."""
    def make(rt: str, at: str) -> Mode:
        secret = {"client_secret": CLIENT_SECRET, "refresh_token": rt, "access_token": at}[which]
        head, tail = secret[:9], secret[9:]
        if zero_width:
            head, tail = "\u200b".join(head), "\u2060".join(tail)
        return lambda req: Answer(400, {"error": head, "error_description": tail + " is not accepted"})
    return Scenario(f"split-{which}{'-zero-width' if zero_width else ''}", make)


def straddle(i: int, name: str) -> Scenario:
    """Encoded secrets where a 300-character cut falls: redaction must see them whole."""
    enc = ENCODINGS[name]
    return Scenario(f"straddle-{name}", lambda rt, at: lambda req: _error(
        i, "x" * 230 + " " + enc(CLIENT_SECRET) + " " + enc(rt) + " " + enc(at)))


def body_base64(i: int, offset: int, url: bool) -> Scenario:
    """The whole request body (which holds the form-encoded secret and refresh token), base64'd at an offset."""
    return Scenario(f"body-base64-offset{offset}{'-url' if url else ''}", lambda rt, at: lambda req: _error(
        i, "debug dump: " + b64(b"#" * offset + req.body, url=url)))


def scenarios() -> list[Scenario]:
    out = [encoded(i, name) for i, name in enumerate(ENCODINGS)]
    n = len(out)
    out += [split(n + j, w, zw) for j, (w, zw) in enumerate(
        (w, zw) for zw in (False, True) for w in ("client_secret", "refresh_token", "access_token"))]
    n = len(out)
    out += [straddle(n + j, name) for j, name in enumerate(["quote_plus", "base64", "zero-width-space", "raw"])]
    n = len(out)
    out += [body_base64(n + j, k, url) for j, (k, url) in enumerate((k, u) for k in range(3) for u in (False, True))]
    n = len(out)
    out += [
        Scenario("basic-header-echoed", client="basic", make=lambda rt, at: lambda req: Answer(
            401, {"error": "invalid_client", "error_description":
                  f"bad credentials in {req.headers['authorization']!r}; also tried "
                  f"{b64(f'{CLIENT_ID}:{CLIENT_SECRET}'.encode(), url=True, pad=False)} and "
                  f"{b64(f'{quote_plus(CLIENT_ID)}:{quote_plus(CLIENT_SECRET)}'.encode(), pad=False)}"})),
        Scenario("body-echoed", make=lambda rt, at: lambda req: _error(n + 1, f"cannot parse {req.body.decode()}")),
        Scenario("body-mime-base64", make=lambda rt, at: lambda req: _error(
            n + 2, "dump:\r\n" + base64.encodebytes(b"prefix=1&" + req.body).decode().replace("\n", "\r\n"))),
        Scenario("echo-in-headers-and-reason", client="basic", make=lambda rt, at: lambda req: Answer(
            401, {"error": "invalid_client"}, reason=f"Unauthorized {CLIENT_SECRET} {quote(rt, safe='')}",
            headers={"X-Echo-Authorization": req.headers["authorization"],
                     "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{quote_plus(rt)}"',
                     "X-Debug": b64(req.body), "Set-Cookie": f"at={at}"})),
        Scenario("unknown-long-token", make=lambda rt, at: lambda req: _error(
            n + 4, f"token {UNKNOWN_TOKEN} is not valid for this audience")),
        Scenario("prose", make=lambda rt, at: lambda req: _error(0, PROSE, error="invalid_client")),
        Scenario("slack-injection", account_id="<!channel> & <https://evil.example|click>",
                 make=lambda rt, at: lambda req: _error(
                     n + 6, f"<!here> see <https://evil.example/login|the docs> & {quote_plus(at)}")),
    ]
    return out


SCENARIOS = scenarios()


def write_config(folder: Path, token_url: str) -> Path:
    clients = ""
    for name, method in (("post", "client_secret_post"), ("basic", "client_secret_basic")):
        clients += f"""
[clients.{name}]
provider = "generic"
client_id = "{CLIENT_ID}"
client_secret = {{ env = "FT_SEC_CLIENT_SECRET" }}
auth_method = "{method}"
[clients.{name}.provider_options]
token_url = "{token_url}"
timeout = 5.0
"""
    path = folder / "freshtoken.toml"
    path.write_text(clients + """
[runtime]
database = "state.db"
startup_spread = 0

[kv]
backend = "sqlite"
path = "kv.db"

[admin]
token = { env = "FT_SEC_ADMIN_TOKEN" }

[alerting]
log = true
slack_webhook = { env = "FT_SEC_SLACK" }
slack_max_per_minute = 600
""")
    return path


def raw_files(folder: Path, stem: str) -> dict[str, str]:
    return {p.name: raw_file(p).decode("utf-8", "replace") for p in sorted(folder.glob(f"{stem}*"))}


async def test_no_encoded_secret_comes_out_anywhere(
    folder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: dict[str, str] = {}  # where -> what a human or a client could see
    files: dict[str, str] = {}
    keys: list[str] = []
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS) >= 40
    rts = [refresh_token(i) for i in range(len(SCENARIOS))]
    ats = [access_token(i) for i in range(len(SCENARIOS))]
    with HostileEndpoint().running() as endpoint, Webhook().running() as hook:
        monkeypatch.setenv("FT_SEC_SLACK", hook.url)
        config = write_config(folder, endpoint.url)
        host = build_host(load_settings(config))
        try:
            for i, sc in enumerate(SCENARIOS):
                endpoint.modes[rts[i]] = sc.make(rts[i], ats[i])
                key = f"t1:generic:{sc.account_id or sc.name}"
                keys.append(key)
                await host.runtime.register(key, client=sc.client, refresh_token=rts[i], access_token=ats[i],
                                            expires_at=time.time() + 7200)
                outcome = await host.runtime.refresh_now(key)
                assert outcome.kind in ("misconfigured", "reauth_required", "retry_scheduled"), (sc.name, outcome)
                texts[f"outcome {sc.name}"] = outcome.error or ""
            assert len(endpoint.requests) == len(SCENARIOS)  # every scenario reached the hostile endpoint
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(
                    host.runtime, token=ADMIN_TOKEN, metrics=host.metrics, secrets=host.settings.secret_values())),
                base_url="http://127.0.0.1:8787", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            ) as api:
                for path in ["/accounts?limit=1000", "/metrics", *(f"/accounts/{quote(k, safe='')}" for k in keys)]:
                    r = await api.get(path)
                    assert r.status_code == 200, (path, r.text)
                    texts[f"admin {path}"] = r.text
            files.update({f"open {k}": v for k, v in raw_files(folder, "state.db").items()})
            files.update({f"open {k}": v for k, v in raw_files(folder, "kv.db").items()})
            assert any(k.endswith("-wal") for k in files)  # the WAL files were looked at, too
        finally:
            await host.aclose()
        slack_posts = [raw.decode() for raw in hook.raw]

    runner = CliRunner()
    commands = [["accounts", "list"], ["accounts", "list", "--json"]]
    commands += [["accounts", "show", k, *j] for k in keys for j in ([], ["--json"])]
    for args in commands:
        r = await asyncio.to_thread(runner.invoke, main, ["-c", str(config), *args])
        assert r.exit_code == 0, (args, r.output)
        texts[f"cli {' '.join(args)}"] = r.stdout + r.stderr
    files.update({f"closed {k}": v for k, v in raw_files(folder, "state.db").items()})
    kv_files = {f"closed {k}": v for k, v in raw_files(folder, "kv.db").items()}
    kv_files.update({k: files.pop(k) for k in list(files) if "kv.db" in k})

    # The scenarios did what they meant to: alerts were raised and posted, provider prose was kept.
    assert len(slack_posts) >= len(SCENARIOS) // 2
    assert "ALERT" in caplog.text
    assert "AADSTS7000215: Invalid client secret provided" in texts["outcome prose"]
    assert "0f2c1a6e-3d2b-4b5c-9a7e-1f2e3d4c5b6a" in texts["outcome prose"]
    assert "[redacted]" in texts["outcome raw"]

    secrets = [CLIENT_SECRET, ADMIN_TOKEN, UNKNOWN_TOKEN, *rts, *ats]
    problems = []
    for where, text in [*texts.items(), *((f"slack {n}", t) for n, t in enumerate(slack_posts)),
                        ("logs", caplog.text), *files.items()]:
        for variant in json_texts(text):
            found = leaks(variant, secrets)
            if found:
                problems.append(f"{where}: {found[:3]}")
                break
    for where, text in kv_files.items():  # the KV holds each account's access token, and nothing else secret
        found = leaks(text, [CLIENT_SECRET, ADMIN_TOKEN, UNKNOWN_TOKEN, *rts])
        if found:
            problems.append(f"{where}: {found[:3]}")
    assert not problems, "\n".join(problems[:40]) + f"\n({len(problems)} places)"

