"""Real OAuth 2.0 authorization servers for interop tests: oidc-provider (Node) and django-oauth-toolkit.

Each server runs as a child process on a free loopback port, in its own process group, and is driven
only through its public HTTP interface. Tokens are minted honestly: :meth:`AuthServer.mint_tokens` walks
the server's real authorization-code flow (login form, consent form, PKCE, code exchange) over httpx.
Nothing here patches or fakes a server response.

Installation is not done here (see ``ci.d/interop.sh``). When a server's dependencies are missing,
:func:`require` skips the test locally and fails it under ``CI=true``.
"""

from __future__ import annotations

import atexit
import base64
import collections
import contextlib
import hashlib
import html.parser
import importlib.util
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, urljoin, urlsplit

import httpx
import pytest

HERE = Path(__file__).resolve().parent
OIDC_DIR = HERE / "servers" / "oidc"
DOT_DIR = HERE / "servers" / "dot"
REDIRECT_URI = "http://127.0.0.1/cb"
#: A client secret that is only sent correctly when form-urlencoded before Basic encoding (RFC 6749 §2.3.1).
TRICKY_SECRET = "a+b/c:d%e f"
START_TIMEOUT = 30.0
#: Access-token lifetime of oidc-provider's ``short_at`` client, seconds.
SHORT_AT_TTL = 60


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(ok: bool, what: str) -> None:
    """Skip (locally) or fail (``CI=true``) when a server's dependencies are not installed."""
    if ok:
        return
    msg = f"{what}; install with `bash scripts/test-setup.sh` (runs ci.d/interop.sh) from the repo root"
    if in_ci():
        pytest.fail(f"interop servers unavailable under CI=true: {msg}", pytrace=False)
    pytest.skip(msg)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


# ---------------------------------------------------------------------------------------------------
# clients and client authentication (independent of the SDK, so the fixtures test the servers alone)
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Client:
    """A client registered at a test server."""

    label: str  # "basic", "post", "jwt", "public", ...
    client_id: str
    auth_method: str  # client_secret_basic | client_secret_post | private_key_jwt | none
    secret: str | None = None
    private_jwk: dict[str, Any] | None = None  # private_key_jwt only (RS256, with "kid")

    @property
    def private_jwk_json(self) -> str | None:
        return json.dumps(self.private_jwk) if self.private_jwk else None


def basic_header(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1 Basic credentials: form-urlencode id and secret, then base64."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def client_assertion(client: Client, audience: str, lifetime: int = 60) -> str:
    from joserfc import jwk, jwt

    assert client.private_jwk is not None
    key = jwk.import_key(client.private_jwk)
    now = int(time.time())
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode({"alg": "RS256", "kid": client.private_jwk["kid"]}, claims, key)


def authenticate(client: Client, data: dict[str, str], audience: str) -> tuple[dict[str, str], dict[str, str]]:
    """(form, headers) for a token-endpoint request by ``client`` with its registered method."""
    data = dict(data)
    headers: dict[str, str] = {"Accept": "application/json"}
    if client.auth_method == "client_secret_basic":
        assert client.secret is not None
        headers["Authorization"] = basic_header(client.client_id, client.secret)
    elif client.auth_method == "client_secret_post":
        data["client_id"] = client.client_id
        data["client_secret"] = client.secret or ""
    elif client.auth_method == "private_key_jwt":
        data["client_id"] = client.client_id
        data["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        data["client_assertion"] = client_assertion(client, audience)
    elif client.auth_method == "none":
        data["client_id"] = client.client_id
    else:  # pragma: no cover
        raise ValueError(client.auth_method)
    return data, headers


def generate_rsa_jwk(kid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(private JWK, public JWK) for RS256 private_key_jwt."""
    from joserfc import jwk

    key = jwk.RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"})
    return key.as_dict(private=True), key.as_dict(private=False)


# ---------------------------------------------------------------------------------------------------
# HTML forms (the servers' login / consent pages)
# ---------------------------------------------------------------------------------------------------
@dataclass
class Form:
    action: str | None = None
    method: str = "get"
    fields: dict[str, str] = field(default_factory=dict)
    submits: dict[str, str] = field(default_factory=dict)


class _FormParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(action=a.get("action") or None, method=a.get("method", "get").lower()))
        elif tag in ("input", "button") and self.forms and a.get("name"):
            kind = a.get("type", "text" if tag == "input" else "submit").lower()
            target = self.forms[-1].submits if kind == "submit" else self.forms[-1].fields
            target[a["name"]] = a.get("value", "")


def parse_forms(page: str) -> list[Form]:
    p = _FormParser()
    p.feed(page)
    return p.forms


class FlowError(AssertionError):
    pass


def _expect(resp: httpx.Response, *statuses: int) -> httpx.Response:
    if resp.status_code not in statuses:
        raise FlowError(
            f"{resp.request.method} {resp.request.url} -> HTTP {resp.status_code} (wanted {statuses}): "
            f"{resp.text[:500]}"
        )
    return resp


def _code_from(location: str, state: str) -> str:
    if not location.startswith(REDIRECT_URI):
        raise FlowError(f"expected a redirect to {REDIRECT_URI}, got {location}")
    q = parse_qs(urlsplit(location).query)
    if "error" in q:
        raise FlowError(f"authorization failed: {q}")
    if q.get("state") != [state]:
        raise FlowError(f"state mismatch in {location}")
    return q["code"][0]


# ---------------------------------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------------------------------
def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGTERM the server if pytest dies without running fixture teardown (kill -9, crash)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ServerProcess:
    """A child process in its own process group, with its output collected by a thread."""

    def __init__(self, name: str, argv: list[str], *, cwd: Path, env: dict[str, str], ready_marker: str | None):
        self.name = name
        self.argv = argv
        self.lines: collections.deque[str] = collections.deque(maxlen=2000)
        self.ready_line: str | None = None
        self._ready = threading.Event()
        self._marker = ready_marker
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
            bufsize=1,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        _live.add(self)
        self._reader = threading.Thread(target=self._read, name=f"{name}-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if self._marker and self.ready_line is None and line.startswith(self._marker):
                self.ready_line = line
                self._ready.set()
        self._ready.set()  # EOF: the process is gone; waiters notice it is not alive

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready_line(self, timeout: float) -> str:
        if not self._ready.wait(timeout) or self.ready_line is None:
            raise RuntimeError(self.failure("did not print its ready line"))
        return self.ready_line

    def log(self, last: int = 60) -> str:
        return "\n".join(list(self.lines)[-last:])

    def failure(self, what: str) -> str:
        rc = self.proc.poll()
        state = "running" if rc is None else f"exited with {rc}"
        return f"{self.name} {what} ({state}); argv={self.argv}\n--- output ---\n{self.log()}"

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        else:
            # The leader is gone; make sure nothing it started survives.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self._reader.join(2)
        _live.discard(self)


_live: set[ServerProcess] = set()


@atexit.register
def _stop_leftovers() -> None:
    """Interpreter exit without fixture teardown (e.g. KeyboardInterrupt in a fixture): stop servers."""
    for proc in list(_live):
        with contextlib.suppress(Exception):
            proc.stop(timeout=2.0)


def wait_http(url: str, proc: ServerProcess, timeout: float) -> float:
    """Poll ``url`` until it answers 200; returns the seconds waited."""
    t0 = time.monotonic()
    with httpx.Client(timeout=2.0, trust_env=False) as c:
        while True:
            if not proc.alive():
                raise RuntimeError(proc.failure("exited during start-up"))
            with contextlib.suppress(httpx.TransportError):
                if c.get(url).status_code == 200:
                    return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(proc.failure(f"not answering {url} after {timeout:.0f} s"))
            time.sleep(0.05)


# ---------------------------------------------------------------------------------------------------
# server handles
# ---------------------------------------------------------------------------------------------------
_user_seq = itertools.count(1)


@dataclass
class AuthServer:
    """A running authorization server. Subclasses implement :meth:`_authorize` (login + consent)."""

    kind: str
    issuer: str
    token_endpoint: str
    authorization_endpoint: str
    revocation_endpoint: str | None
    clients: dict[str, Client]
    access_token_ttl: int
    process: ServerProcess
    grace_period: int = 0
    refresh_token_ttl: int | None = None
    default_scope: str = "openid"
    startup_seconds: float = 0.0
    redirect_uri: str = REDIRECT_URI
    introspection_endpoint: str = ""

    def client(self, label: str) -> Client:
        return self.clients[label]

    def http(self) -> httpx.Client:
        return httpx.Client(timeout=10.0, follow_redirects=False, trust_env=False)

    # -- the authorization-code grant -------------------------------------------------------------
    def mint_tokens(self, client: Client | str, scope: str | None = None, *, user: str | None = None) -> dict[str, Any]:
        """A fresh grant through the server's real authorization-code flow; the token endpoint's JSON."""
        if isinstance(client, str):
            client = self.client(client)
        scope = scope or self.default_scope
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(12)
        params = {
            "client_id": client.client_id,
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "scope": scope,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        with self.http() as http:
            location = self._authorize(http, params, user or f"user{next(_user_seq)}")
            code = _code_from(location, state)
            data = {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            }
            resp = self.token_request(client, data, http=http)
        _expect(resp, 200)
        body: dict[str, Any] = resp.json()
        if "refresh_token" not in body:
            raise FlowError(f"{self.kind}: no refresh_token in {sorted(body)}")
        return body

    def _authorize(self, http: httpx.Client, params: dict[str, str], user: str) -> str:
        raise NotImplementedError

    # -- direct token-endpoint requests (for smoke tests) -----------------------------------------
    def token_request(
        self, client: Client | str, data: dict[str, str], *, http: httpx.Client | None = None
    ) -> httpx.Response:
        if isinstance(client, str):
            client = self.client(client)
        form, headers = authenticate(client, data, audience=self.token_endpoint)
        if http is not None:
            return http.post(self.token_endpoint, data=form, headers=headers)
        with self.http() as h:
            return h.post(self.token_endpoint, data=form, headers=headers)

    def refresh(self, client: Client | str, refresh_token: str, **extra: str) -> httpx.Response:
        return self.token_request(client, {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra})

    def revoke(self, client: Client | str, token: str, hint: str = "refresh_token") -> httpx.Response:
        assert self.revocation_endpoint
        if isinstance(client, str):
            client = self.client(client)
        form, headers = authenticate(
            client, {"token": token, "token_type_hint": hint}, audience=self.revocation_endpoint
        )
        with self.http() as h:
            return h.post(self.revocation_endpoint, data=form, headers=headers)

    def introspect(self, client: Client | str, token: str) -> dict[str, Any]:
        """RFC 7662 introspection of ``token`` (authenticated as ``client``): is it live at the server?"""
        if isinstance(client, str):
            client = self.client(client)
        form, headers = authenticate(client, {"token": token}, audience=self.introspection_endpoint)
        with self.http() as h:
            resp = _expect(h.post(self.introspection_endpoint, data=form, headers=headers), 200)
        out: dict[str, Any] = resp.json()
        return out

    def log(self, last: int = 60) -> str:
        return self.process.log(last)


class OidcProviderServer(AuthServer):
    def _authorize(self, http: httpx.Client, params: dict[str, str], user: str) -> str:
        resp = _expect(http.get(self.authorization_endpoint, params=params), 302, 303)
        for _ in range(8):  # login, consent: ≈ 6 requests
            location = urljoin(self.issuer, resp.headers["location"])
            if location.startswith(self.redirect_uri):
                return location
            resp = _expect(http.get(location), 200, 302, 303)
            if resp.status_code != 200:
                continue
            (form,) = parse_forms(resp.text)
            data = dict(form.fields)
            if data.get("prompt") == "login":
                data.update(login=user, password="any")
            resp = _expect(http.post(urljoin(location, form.action or location), data=data), 302, 303)
        raise FlowError("oidc-provider: authorization did not finish")


class DotServer(AuthServer):
    user: str = "alice"
    password: str = "alice-password"

    def _authorize(self, http: httpx.Client, params: dict[str, str], user: str) -> str:
        # DOT has one seeded user; ``user`` is ignored (each mint is still its own session and grant).
        base = self.issuer
        login_url = base + "/accounts/login/"
        page = _expect(http.get(login_url), 200)
        (form,) = parse_forms(page.text)
        data = {**form.fields, "username": self.user, "password": self.password}
        _expect(http.post(login_url, data=data), 302)
        page = _expect(http.get(self.authorization_endpoint, params=params), 200)
        forms = [f for f in parse_forms(page.text) if "allow" in f.submits]
        if not forms:
            raise FlowError(f"django-oauth-toolkit: no consent form: {page.text[:500]}")
        data = {**forms[0].fields, "allow": forms[0].submits["allow"]}
        resp = _expect(http.post(str(page.url), data=data), 302)
        return str(resp.headers["location"])


# ---------------------------------------------------------------------------------------------------
# start-up
# ---------------------------------------------------------------------------------------------------
def oidc_available() -> tuple[bool, str]:
    if shutil.which("node") is None:
        return False, "node is not installed"
    if not (OIDC_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        return False, f"oidc-provider is not installed in {OIDC_DIR}/node_modules"
    return True, ""


def dot_available() -> tuple[bool, str]:
    for mod in ("django", "oauth2_provider"):
        if importlib.util.find_spec(mod) is None:
            return False, f"python module {mod!r} is not installed in {sys.executable}"
    return True, ""


def start_oidc(workdir: Path, *, access_token_ttl: int = 600, refresh_token_ttl: int = 86400) -> OidcProviderServer:
    """Start oidc-provider with clients ``basic`` (tricky secret), ``post``, ``jwt`` (private_key_jwt),
    ``public``, ``short_rt`` (refresh tokens live 2 s) and ``short_at`` (access tokens live 60 s)."""
    private_jwk, public_jwk = generate_rsa_jwk("ft-jwt-key-1")
    clients = {
        "basic": Client("basic", "ft-basic", "client_secret_basic", TRICKY_SECRET),
        "post": Client("post", "ft-post", "client_secret_post", "post-secret-0123456789"),
        "jwt": Client("jwt", "ft-jwt", "private_key_jwt", private_jwk=private_jwk),
        "public": Client("public", "ft-public", "none"),
        "short_rt": Client("short_rt", "ft-short-rt", "client_secret_post", "short-secret-0123456789"),
        "short_at": Client("short_at", "ft-short-at", "client_secret_post", "short-at-secret-0123456789"),
        "machine": Client("machine", "ft-machine", "client_secret_basic", "machine-secret-0123456789"),
    }
    meta: list[dict[str, Any]] = []
    for c in clients.values():
        m: dict[str, Any] = {"client_id": c.client_id, "token_endpoint_auth_method": c.auth_method}
        if c.secret:
            m["client_secret"] = c.secret
        if c.auth_method == "private_key_jwt":
            m["jwks"] = {"keys": [public_jwk]}
            m["token_endpoint_auth_signing_alg"] = "RS256"
        if c.label == "short_rt":
            m["x_refresh_token_ttl"] = 2
        if c.label == "short_at":
            m["x_access_token_ttl"] = SHORT_AT_TTL
        if c.label == "machine":  # client_credentials only (tests/strategies)
            m.update(grant_types=["client_credentials"], response_types=[], redirect_uris=[], scope="api")
        meta.append(m)
    last_err = ""
    for _attempt in range(3):
        port = free_port()
        cfg_path = workdir / f"oidc-{port}.json"
        cfg = {
            "port": port,
            "access_token_ttl": access_token_ttl,
            "refresh_token_ttl": refresh_token_ttl,
            "clients": meta,
        }
        cfg_path.write_text(json.dumps(cfg))
        env = {**os.environ, "FT_OIDC_CONFIG": str(cfg_path), "NODE_ENV": "test"}
        t0 = time.monotonic()
        proc = ServerProcess(
            "oidc-provider", ["node", "server.js"], cwd=OIDC_DIR, env=env, ready_marker="FRESHTOKEN-OIDC-READY"
        )
        try:
            line = proc.wait_ready_line(START_TIMEOUT)
        except RuntimeError as exc:
            proc.stop()
            last_err = str(exc)
            if "EADDRINUSE" in last_err or "listen failed" in last_err:
                continue
            raise
        issuer = json.loads(line.split(" ", 1)[1])["issuer"]
        with httpx.Client(timeout=5.0, trust_env=False) as hc:
            meta_doc = hc.get(issuer + "/.well-known/openid-configuration").json()
        return OidcProviderServer(
            kind="oidc-provider",
            issuer=issuer,
            token_endpoint=meta_doc["token_endpoint"],
            authorization_endpoint=meta_doc["authorization_endpoint"],
            revocation_endpoint=meta_doc.get("revocation_endpoint"),
            introspection_endpoint=meta_doc["introspection_endpoint"],
            clients=clients,
            access_token_ttl=access_token_ttl,
            refresh_token_ttl=refresh_token_ttl,
            process=proc,
            default_scope="openid",
            startup_seconds=time.monotonic() - t0,
        )
    raise RuntimeError(f"oidc-provider could not listen: {last_err}")


DOT_CLIENTS = {
    "basic": Client("basic", "ft-dot-basic", "client_secret_basic", TRICKY_SECRET),
    "post": Client("post", "ft-dot-post", "client_secret_post", "dot-post-secret-0123456789"),
    "public": Client("public", "ft-dot-public", "none"),
    "machine": Client("machine", "ft-dot-machine", "client_secret_basic", "dot-machine-secret-0123456789"),
}


def _dot_env(db: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FT_DOT_")}
    env.update({"FT_DOT_DB": str(db), "PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "ftdot.settings"})
    env.update(extra)
    return env


def prepare_dot_db(workdir: Path) -> Path:
    """Migrate and seed a template sqlite database once; each DOT instance gets its own copy."""
    db = workdir / "template.sqlite3"
    seed = workdir / "seed.json"
    seed.write_text(
        json.dumps(
            {
                "users": [{"username": DotServer.user, "password": DotServer.password}],
                "applications": [
                    {
                        "client_id": c.client_id,
                        "client_secret": c.secret or "",
                        "client_type": "public" if c.auth_method == "none" else "confidential",
                        "redirect_uris": REDIRECT_URI,
                        "authorization_grant_type": "client-credentials" if c.label == "machine"
                        else "authorization-code",
                    }
                    for c in DOT_CLIENTS.values()
                ],
            }
        )
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "ft_seed", "--migrate", str(seed)],
        cwd=DOT_DIR,
        env=_dot_env(db, {}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        raise RuntimeError(f"django-oauth-toolkit setup failed:\n{out.stdout}\n{out.stderr}")
    return db


def start_dot(
    template_db: Path,
    workdir: Path,
    *,
    name: str = "dot",
    access_token_ttl: int = 600,
    grace_period: int = 0,
    refresh_token_ttl: int | None = None,
) -> DotServer:
    """Start a single-threaded django-oauth-toolkit instance on its own copy of the seeded database."""
    db = workdir / f"{name}.sqlite3"
    shutil.copyfile(template_db, db)
    extra = {"FT_DOT_AT_TTL": str(access_token_ttl), "FT_DOT_GRACE": str(grace_period)}
    if refresh_token_ttl is not None:
        extra["FT_DOT_RT_TTL"] = str(refresh_token_ttl)
    env = _dot_env(db, extra)
    last_err = ""
    for _attempt in range(3):
        port = free_port()
        t0 = time.monotonic()
        proc = ServerProcess(
            f"django-oauth-toolkit[{name}]",
            [
                sys.executable,
                "manage.py",
                "runserver",
                "--nothreading",
                "--noreload",
                "--skip-checks",
                f"127.0.0.1:{port}",
            ],
            cwd=DOT_DIR,
            env=env,
            ready_marker=None,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(base + "/health", proc, START_TIMEOUT)
        except RuntimeError as exc:
            proc.stop()
            last_err = str(exc)
            if "already in use" in last_err:
                continue
            raise
        return DotServer(
            kind="django-oauth-toolkit",
            issuer=base,
            token_endpoint=base + "/o/token/",
            authorization_endpoint=base + "/o/authorize/",
            revocation_endpoint=base + "/o/revoke_token/",
            introspection_endpoint=base + "/o/introspect/",
            clients=dict(DOT_CLIENTS),
            access_token_ttl=access_token_ttl,
            refresh_token_ttl=refresh_token_ttl,
            grace_period=grace_period,
            process=proc,
            default_scope="read",
            startup_seconds=time.monotonic() - t0,
        )
    raise RuntimeError(f"django-oauth-toolkit could not listen: {last_err}")
