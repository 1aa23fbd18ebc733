"""Bearer-token authentication for the admin API, and the rule that an open API only listens on loopback."""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Iterable
from typing import Any

from ..errors import ConfigError

#: Paths served without a token (liveness probes).
OPEN_PATHS = frozenset({"/health"})


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve the admin API without a token on anything but a loopback address."""
    if token:
        return
    if not is_loopback(host):
        raise ConfigError(
            f"refusing to serve the admin API on {host!r} without an admin token: anyone who can reach it could "
            "register and remove accounts. Set [admin] token = { env = \"FRESHTOKEN_ADMIN_TOKEN\" } "
            "(or FRESHTOKEN_ADMIN__TOKEN), or listen on 127.0.0.1"
        )


class BearerAuth:
    """ASGI middleware: every HTTP request but :data:`OPEN_PATHS` needs ``Authorization: Bearer <token>``.

    With ``token`` None every request passes (the server only allows that on loopback, see :func:`check_bind`).
    """

    def __init__(self, app: Any, token: str | None, *, open_paths: Iterable[str] = OPEN_PATHS) -> None:
        self.app = app
        self._token = token.encode("utf-8") if token else None
        self.open_paths = frozenset(open_paths)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self._token is None or scope.get("path") in self.open_paths:
            await self.app(scope, receive, send)
            return
        if self._authorized(scope):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": "unauthorized", "message": "a valid 'Authorization: Bearer <token>' is required"})
        raw = body.encode()
        await send({
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
                (b"www-authenticate", b'Bearer realm="freshtoken"'),
            ],
        })
        await send({"type": "http.response.body", "body": raw})

    def _authorized(self, scope: dict[str, Any]) -> bool:
        assert self._token is not None
        for name, value in scope.get("headers", []):
            if name.lower() == b"authorization":
                scheme, _, credential = value.partition(b" ")
                if scheme.lower() != b"bearer":
                    return False
                return hmac.compare_digest(credential.strip(), self._token)
        return False
