"""oidc-provider and django-oauth-toolkit for the connect tests: the interop harness's processes
(tests/interop/servers.py), started with clients registered for the connect redirect URIs (loopback
``/callback`` and the admin API's ``/connect/callback``, any port: RFC 8252 §7.3), and "browsers" that drive
their real login and consent forms over HTTP, following redirects by hand until the one to the redirect URI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urljoin

import httpx

from tests.interop import servers

SECRET = servers.TRICKY_SECRET  # must be form-urlencoded before Basic encoding
OIDC_CLIENT = "ft-connect-oidc"
DOT_CLIENT = "ft-connect-dot"
REDIRECTS = ["http://127.0.0.1/callback", "http://127.0.0.1/connect/callback"]


def start_oidc(workdir: Path) -> tuple[servers.ServerProcess, str]:
    meta = [{"client_id": OIDC_CLIENT, "client_secret": SECRET, "token_endpoint_auth_method": "client_secret_basic",
             "application_type": "native", "redirect_uris": REDIRECTS}]
    port = servers.free_port()
    cfg = workdir / f"connect-oidc-{port}.json"
    cfg.write_text(json.dumps({"port": port, "access_token_ttl": 600, "refresh_token_ttl": 86400, "clients": meta}))
    proc = servers.ServerProcess("oidc-provider[connect]", ["node", "server.js"], cwd=servers.OIDC_DIR,
                                 env={**os.environ, "FT_OIDC_CONFIG": str(cfg), "NODE_ENV": "test"},
                                 ready_marker="FRESHTOKEN-OIDC-READY")
    line = proc.wait_ready_line(servers.START_TIMEOUT)
    return proc, json.loads(line.split(" ", 1)[1])["issuer"]


def start_dot(workdir: Path) -> tuple[servers.ServerProcess, str]:
    db = workdir / "connect-dot.sqlite3"
    seed = workdir / "connect-dot-seed.json"
    seed.write_text(json.dumps({
        "users": [{"username": servers.DotServer.user, "password": servers.DotServer.password}],
        "applications": [{"client_id": DOT_CLIENT, "client_secret": SECRET, "client_type": "confidential",
                          "redirect_uris": " ".join(REDIRECTS)}],
    }))
    env = servers._dot_env(db, {"FT_DOT_AT_TTL": "600"})
    out = subprocess.run([sys.executable, "manage.py", "ft_seed", "--migrate", str(seed)], cwd=servers.DOT_DIR,
                         env=env, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"django-oauth-toolkit setup failed:\n{out.stdout}\n{out.stderr}")
    port = servers.free_port()
    proc = servers.ServerProcess(
        "django-oauth-toolkit[connect]",
        [sys.executable, "manage.py", "runserver", "--nothreading", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
        cwd=servers.DOT_DIR, env=env, ready_marker=None,
    )
    base = f"http://127.0.0.1:{port}"
    servers.wait_http(base + "/health", proc, servers.START_TIMEOUT)
    return proc, base


def oidc_browser(url: str, issuer: str, redirect_uri: str, *, deny: bool = False, user: str = "alice") -> str:
    """Sign in and consent at oidc-provider (its devInteractions forms); the Location of the final redirect."""
    with httpx.Client(follow_redirects=False, trust_env=False, timeout=10) as http:
        resp = http.get(url)
        for _ in range(10):
            location = urljoin(issuer, resp.headers["location"])
            if location.startswith(redirect_uri):
                return location
            resp = http.get(location)
            if resp.status_code != 200:
                continue
            if deny:  # the interaction's abort link: the user cancels
                resp = http.get(location.rstrip("/") + "/abort")
                continue
            (form,) = servers.parse_forms(resp.text)
            data = dict(form.fields)
            if data.get("prompt") == "login":
                data.update(login=user, password="any")
            resp = http.post(urljoin(location, form.action or location), data=data)
    raise AssertionError("oidc-provider: the authorization did not finish")


def dot_browser(url: str, base: str, *, deny: bool = False) -> str:
    """Sign in at django-oauth-toolkit, then allow (or deny) on its consent form; the Location it redirects to."""
    with httpx.Client(follow_redirects=False, trust_env=False, timeout=10) as http:
        login = base + "/accounts/login/"
        (form,) = servers.parse_forms(http.get(login).text)
        data = {**form.fields, "username": servers.DotServer.user, "password": servers.DotServer.password}
        assert http.post(login, data=data).status_code == 302
        page = http.get(url)
        assert page.status_code == 200, page.text[:300]
        (consent,) = [f for f in servers.parse_forms(page.text) if "allow" in f.submits]
        fields = dict(consent.fields)
        if not deny:
            fields["allow"] = consent.submits["allow"]
        resp = http.post(str(page.url), data=fields)
        assert resp.status_code == 302, resp.text[:300]
        return str(resp.headers["location"])


def wait_gone(proc: servers.ServerProcess) -> None:
    proc.stop()
    deadline = time.monotonic() + 10
    while proc.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
