"""Bearer-token authentication for the admin API, tokens scoped to a tenant, and the rule that an open API only
listens on loopback."""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

#: Paths served without a token: the probes and the API's description (neither shows an account).
OPEN_PATHS = frozenset({"/health", "/ready", "/openapi.json"})
#: Where :class:`BearerAuth` puts the request's :class:`Scope` in the ASGI scope.
SCOPE_KEY = "freshtoken.admin_scope"


@dataclass(frozen=True)
class Scope:
    """The accounts a token may see and change: one tenant's (``"acme:*"``) or every account (``"*"``)."""

    tenant: str | None = None  # None: every account, and the global routes (/metrics)

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``"*"`` or ``"{tenant}:*"``; anything else is a :class:`ConfigError`."""
        if text == "*":
            return cls(None)
        tenant = text[:-2] if text.endswith(":*") else ""
        if not tenant or ":" in tenant or "*" in tenant or tenant != tenant.strip() or not tenant.isprintable():
            raise ConfigError(f"admin token scope {text[:80]!r} must be '{{tenant}}:*' or '*'")
        return cls(tenant)

    @property
    def full(self) -> bool:
        return self.tenant is None

    @property
    def prefix(self) -> str:
        """The key prefix of this scope's accounts (empty for every account)."""
        return "" if self.tenant is None else f"{self.tenant}:"

    def allows(self, key: str) -> bool:
        return self.tenant is None or key.startswith(self.prefix)

    def __str__(self) -> str:
        return "*" if self.tenant is None else f"{self.tenant}:*"


#: The scope of a request when the API has no token at all (loopback only, see :func:`check_bind`).
FULL = Scope(None)


@dataclass(frozen=True)
class AdminToken:
    """One admin bearer token and its scope."""

    token: str
    scope: Scope = FULL

    def __repr__(self) -> str:  # never the token
        return f"AdminToken(scope={str(self.scope)!r})"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: object) -> None:
    """Refuse to serve the admin API without any token on anything but a loopback address.

    ``token`` is the admin token, or anything true when some (scoped) token is configured.
    """
    if token:
        return
    if not is_loopback(host):
        raise ConfigError(
            f"refusing to serve the admin API on {host!r} without an admin token: anyone who can reach it could "
            "register and remove accounts. Set [admin] token = { env = \"FRESHTOKEN_ADMIN_TOKEN\" } "
            "(or FRESHTOKEN_ADMIN__TOKEN), or listen on 127.0.0.1"
        )


def admin_tokens(token: str | None, tokens: Iterable[AdminToken] = ()) -> list[AdminToken]:
    """The full-scope ``token`` (if any) and the scoped ``tokens``; a token given twice is a :class:`ConfigError`."""
    out = ([AdminToken(token)] if token else []) + [t for t in tokens if t.token]
    for i, a in enumerate(out):
        for b in out[:i]:
            if hmac.compare_digest(a.token.encode("utf-8"), b.token.encode("utf-8")):
                raise ConfigError(f"two admin tokens are the same (scopes {str(b.scope)!r} and {str(a.scope)!r}): "
                                  "each token must be distinct")
    return out


def _reply(status: int, code: str, message: str, extra: Sequence[tuple[bytes, bytes]] = ()) -> list[dict[str, Any]]:
    raw = json.dumps({"error": code, "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode()), *extra]
    return [{"type": "http.response.start", "status": status, "headers": headers},
            {"type": "http.response.body", "body": raw}]


class BearerAuth:
    """ASGI middleware: every HTTP request but :data:`OPEN_PATHS` needs ``Authorization: Bearer <token>``.

    ``token`` is one full-scope token, or a sequence of :class:`AdminToken`. The request's :class:`Scope` is put
    in the ASGI scope under :data:`SCOPE_KEY`. With no token at all every request passes with the full scope (the
    server only allows that on loopback, see :func:`check_bind`). Every configured token is compared, in constant
    time, whatever matches first.
    """

    def __init__(self, app: Any, token: str | Sequence[AdminToken] | None, *,
                 open_paths: Iterable[str] = OPEN_PATHS) -> None:
        self.app = app
        tokens = admin_tokens(token) if isinstance(token, str) or token is None else admin_tokens(None, token)
        self._tokens = [(t.token.encode("utf-8"), t.scope) for t in tokens]
        self.open_paths = frozenset(open_paths)

    @property
    def open(self) -> bool:
        """True when no token is configured (every request passes)."""
        return not self._tokens

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self._tokens or scope.get("path") in self.open_paths:
            scope[SCOPE_KEY] = FULL if not self._tokens else None
            await self.app(scope, receive, send)
            return
        granted = self._authorized(scope)
        if granted is not None:
            scope[SCOPE_KEY] = granted
            await self.app(scope, receive, send)
            return
        for message in _reply(401, "unauthorized", "a valid 'Authorization: Bearer <token>' is required",
                              [(b"www-authenticate", b'Bearer realm="freshtoken"')]):
            await send(message)

    def _authorized(self, scope: dict[str, Any]) -> Scope | None:
        values = [v for n, v in scope.get("headers", []) if n.lower() == b"authorization"]
        if len(values) != 1:
            return None
        scheme, _, credential = values[0].partition(b" ")
        if scheme.lower() != b"bearer":
            return None
        credential = credential.strip()
        granted: Scope | None = None
        for expected, token_scope in self._tokens:  # no early exit: the time does not say which token matched
            if hmac.compare_digest(credential, expected) and granted is None:
                granted = token_scope
        return granted


def request_scope(asgi_scope: MutableMapping[str, Any]) -> Scope | None:
    """The :class:`Scope` :class:`BearerAuth` granted this request (None on an open path with tokens set)."""
    granted = asgi_scope.get(SCOPE_KEY)
    return granted if isinstance(granted, Scope) else None
