"""The sandbox's authorization endpoint: the authorization-code grant (RFC 6749 §4.1) with PKCE (RFC 7636), so
that the demo and the tests can make a connection from nothing, without a browser.

* ``GET /authorize?response_type=code&client_id=...&redirect_uri=...&state=...&code_challenge=...`` answers a
  login and consent form (HTML) carrying the request;
* ``POST /authorize`` (form: the same parameters, ``username``, ``password``, ``action=approve|deny``) approves
  with the sandbox user's credentials and redirects (302) to ``redirect_uri`` with ``code`` and ``state``, or with
  ``error=access_denied`` on deny; wrong credentials are a 401 and no redirect;
* the token endpoint's ``grant_type=authorization_code`` (:meth:`AuthorizationEndpoint.exchange`): the code is
  single use and lives :attr:`AuthorizationEndpoint.code_lifetime` seconds, is bound to the client and the
  redirect URI, and, when a ``code_challenge`` was sent, needs the matching ``code_verifier`` (S256 or plain).

Requests before the redirect URI is known to be usable (unknown client, no redirect URI, a wrong
``response_type``) are answered 400 with a JSON error, never redirected. The sandbox accepts any http(s)
redirect URI: it is a test server.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: The parameters of an authorization request carried through the login form.
AUTHORIZE_PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
                    "code_challenge_method")

Answer = tuple[int, Any, dict[str, str]]


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str | None
    method: str | None
    scope: str | None
    user: str
    expires_at: float


@dataclass
class AuthorizeStats:
    forms: int = 0
    approved: int = 0
    denied: int = 0
    bad_credentials: int = 0
    exchanged: int = 0
    refused_exchanges: int = 0


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii", "replace")).digest()).rstrip(b"=").decode()


def _redirect(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


class AuthorizationEndpoint:
    """Login, consent and authorization codes for a :class:`~freshtoken.sandbox.server.SandboxAuthServer`."""

    def __init__(self, clients: dict[str, str], *, users: dict[str, str] | None = None,
                 code_lifetime: float = 60.0, clock: Any = None) -> None:
        self.clients = clients
        #: username -> password of the sandbox's users.
        self.users = users if users is not None else {"demo": "demo-password"}
        self.code_lifetime = code_lifetime
        self.clock = clock or time
        self.stats = AuthorizeStats()
        self._codes: dict[str, _Code] = {}
        self._lock = threading.Lock()

    # -- the authorization endpoint -----------------------------------------------------------------
    def handle(self, method: str, query: str, body: bytes) -> Answer:
        if method == "GET":
            params = dict(parse_qsl(query, keep_blank_values=True))
        elif method == "POST":
            params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        else:
            return 405, {"error": "method_not_allowed"}, {}
        problem = self._check(params)
        if problem is not None:
            return 400, {"error": "invalid_request", "error_description": problem}, {}
        if method == "GET":
            self.stats.forms += 1
            return 200, self._form(params).encode(), {"content-type": "text/html; charset=utf-8",
                                                      "cache-control": "no-store"}
        back = {"state": params["state"]} if params.get("state") else {}
        if params.get("action") == "deny":
            self.stats.denied += 1
            return 302, b"", {"location": _redirect(params["redirect_uri"], {"error": "access_denied", **back})}
        if params.get("action") != "approve":
            return 400, {"error": "invalid_request", "error_description": "action must be approve or deny"}, {}
        user, password = params.get("username", ""), params.get("password", "")
        expected = self.users.get(user)
        if expected is None or not secrets.compare_digest(expected.encode(), password.encode()):
            self.stats.bad_credentials += 1
            return 401, {"error": "access_denied", "error_description": "wrong username or password"}, {}
        code = "code-" + secrets.token_urlsafe(24)
        with self._lock:
            now = self.clock.time()
            for stale in [c for c, v in self._codes.items() if v.expires_at <= now]:
                del self._codes[stale]
            self._codes[code] = _Code(
                client_id=params["client_id"], redirect_uri=params["redirect_uri"],
                challenge=params.get("code_challenge") or None, method=params.get("code_challenge_method") or None,
                scope=params.get("scope") or None, user=user, expires_at=now + self.code_lifetime,
            )
        self.stats.approved += 1
        return 302, b"", {"location": _redirect(params["redirect_uri"], {"code": code, **back})}

    def _check(self, params: dict[str, str]) -> str | None:
        if params.get("response_type") != "code":
            return "response_type must be code"
        if params.get("client_id") not in self.clients:
            return "unknown client_id"
        uri = params.get("redirect_uri", "")
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
            return "redirect_uri must be an absolute http(s) URL without a fragment"
        method = params.get("code_challenge_method")
        if method not in (None, "", "S256", "plain"):
            return "code_challenge_method must be S256 or plain"
        return None

    def _form(self, params: dict[str, str]) -> str:
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(params[name], quote=True)}">'
            for name in AUTHORIZE_PARAMS if params.get(name)
        )
        scope = html.escape(params.get("scope") or "(default)")
        client = html.escape(params["client_id"])
        return (
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sandbox sign-in</title></head><body>"
            f"<h1>Sign in to the sandbox</h1><p>{client} asks for: {scope}</p>"
            f'<form method="post" action="/authorize">{hidden}'
            '<label>User <input name="username" value=""></label> '
            '<label>Password <input name="password" type="password" value=""></label> '
            '<button type="submit" name="action" value="approve">Approve</button> '
            '<button type="submit" name="action" value="deny">Deny</button>'
            "</form></body></html>"
        )

    # -- the token endpoint's authorization_code grant -----------------------------------------------
    def exchange(self, client_id: str, params: dict[str, str]) -> tuple[bool, dict[str, Any]]:
        """(True, {"scope"...}) for a good code; (False, an OAuth error body) otherwise. The code is spent either
        way (a replayed code is refused)."""
        with self._lock:
            grant = self._codes.pop(params.get("code", ""), None)
        refused = self._refusal(grant, client_id, params)
        if refused is not None:
            self.stats.refused_exchanges += 1
            return False, {"error": "invalid_grant", "error_description": refused}
        assert grant is not None
        self.stats.exchanged += 1
        return True, {"scope": grant.scope, "user": grant.user}

    def _refusal(self, grant: _Code | None, client_id: str, params: dict[str, str]) -> str | None:
        if grant is None:
            return "unknown or already used authorization code"
        if grant.expires_at <= self.clock.time():
            return "the authorization code expired"
        if grant.client_id != client_id:
            return "the authorization code was issued to another client"
        if params.get("redirect_uri") != grant.redirect_uri:
            return "redirect_uri does not match the authorization request"
        verifier = params.get("code_verifier")
        if grant.challenge is None:
            return "code_verifier sent, but the authorization request had no code_challenge" if verifier else None
        if not verifier:
            return "code_verifier is required (PKCE)"
        computed = verifier if grant.method == "plain" else _s256(verifier)
        if not secrets.compare_digest(computed.encode(), grant.challenge.encode()):
            return "code_verifier does not match the code_challenge"
        return None
