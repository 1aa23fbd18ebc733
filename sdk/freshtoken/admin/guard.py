"""What a web browser can be made to send to an admin API on loopback, refused before anything else runs.

* **DNS rebinding**: a page on ``rebind.evil`` whose name then resolves to 127.0.0.1 talks to the API as its own
  origin, but its requests still say ``Host: rebind.evil``. The ``Host`` header must name the address served
  (``localhost`` too on loopback; any IP literal when listening on a wildcard address, since a rebinding page
  always uses a DNS name) or one of ``[admin] allowed_hosts``; anything else is a 421.
* **Cross-site requests**: a browser adds ``Origin`` to every cross-origin POST, even the ones it sends without a
  CORS preflight (``text/plain``, forms). A request with an ``Origin`` other than the API's own (the origin its
  ``Host`` names) is a 403. State-changing routes also need ``Content-Type: application/json`` (see
  :func:`is_json`), which no page can send cross-origin without a preflight, which this API never grants.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from .auth import is_loopback

#: Listen addresses that mean "every interface".
WILDCARD = frozenset({"", "0.0.0.0", "::"})


def split_host(value: str) -> tuple[str, str | None]:
    """``"name:port"`` / ``"[v6]:port"`` / ``"name"`` -> (lower-case name without a trailing dot, port or None).

    A value that is not a host is ``("", None)``.
    """
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        name, rest = (value[1:end], value[end + 1:]) if end > 0 else ("", "")
        if rest and not rest.startswith(":"):
            return "", None
        port: str | None = rest[1:] if rest else None
    else:
        name, sep, port_text = value.partition(":")
        if ":" in port_text:
            return "", None
        port = port_text if sep else None
    if port is not None and not (port.isdigit() and len(port) <= 5):
        return "", None
    name = name.lower().rstrip(".")
    if not name or any(c in name for c in "/\\@ \t?#"):
        return "", None
    return name, port


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostPolicy:
    """The host names the API answers to, for the address it listens on and the configured names."""

    def __init__(self, listen_host: str, names: Iterable[str] = ()) -> None:
        listen = listen_host.strip().strip("[]").lower().rstrip(".")
        self.any_ip = listen in WILDCARD
        allowed = {n.strip().strip("[]").lower().rstrip(".") for n in names if n.strip()}
        if not self.any_ip:
            allowed.add(listen)
        if self.any_ip or is_loopback(listen):
            allowed.add("localhost")
        if listen == "localhost":
            allowed |= {"127.0.0.1", "::1"}
        self.names = frozenset(allowed)

    def allows(self, name: str) -> bool:
        return bool(name) and (name in self.names or (self.any_ip and _is_ip(name)))


def same_origin(origin: str, host_name: str, host_port: str | None) -> bool:
    """True when ``origin`` (an ``Origin`` header) is the origin the request's ``Host`` names."""
    if origin == "null":
        return False
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or parts.username or parts.password or parts.path or parts.query:
        return False
    name = (parts.hostname or "").lower().rstrip(".")
    return name == host_name and (None if port is None else str(port)) == (
        None if host_port is None else str(int(host_port))
    )


def is_json(content_type: str | None) -> bool:
    """True for ``application/json`` (parameters such as ``charset`` allowed)."""
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/json"


class BrowserGuard:
    """ASGI middleware: refuse a foreign ``Host`` (421) or a foreign ``Origin`` (403), on every route."""

    def __init__(self, app: Any, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        hosts = [v.decode("latin-1") for n, v in headers if n.lower() == b"host"]
        origins = [v.decode("latin-1").strip() for n, v in headers if n.lower() == b"origin"]
        name, port = split_host(hosts[0]) if len(hosts) == 1 else ("", None)
        if len(hosts) != 1:
            await _reply(send, 400, "invalid_host", "exactly one Host header is required")
            return
        if not self.policy.allows(name):
            await _reply(send, 421, "invalid_host",
                         f"this API does not answer to host {hosts[0][:100]!r} (a DNS rebinding attempt?); "
                         "if the name is yours, add it to [admin] allowed_hosts")
            return
        if len(origins) > 1 or (origins and not same_origin(origins[0], name, port)):
            await _reply(send, 403, "forbidden_origin",
                         f"cross-origin requests are refused: Origin {origins[0][:100]!r} is not this API's origin")
            return
        await self.app(scope, receive, send)


async def _reply(send: Any, status: int, code: str, message: str) -> None:
    raw = json.dumps({"error": code, "message": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]})
    await send({"type": "http.response.body", "body": raw})
