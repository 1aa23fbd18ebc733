"""The admin HTTP API (ASGI, Starlette), served by uvicorn from ``freshtoken serve``.

* :func:`create_app` — the application over an :class:`~freshtoken.embedded.EmbeddedRuntime`;
* :mod:`.guard` — the ``Host`` (DNS rebinding) and ``Origin`` (cross-site requests) checks;
* :mod:`.auth` — bearer tokens (constant-time compare), each with a scope (a tenant's accounts, or all), and the
  loopback rule;
* :mod:`.body` — request bodies read with a streaming limit, JSON parsed with a depth limit;
* :class:`AdminServer` / :func:`serve_host` — uvicorn beside the runtime's scheduler, with a graceful stop.
"""

from .app import create_app
from .auth import AdminToken, BearerAuth, Scope, check_bind, is_loopback
from .guard import BrowserGuard, HostPolicy
from .server import AdminServer, serve_host

__all__ = [
    "AdminServer", "AdminToken", "BearerAuth", "BrowserGuard", "HostPolicy", "Scope", "check_bind", "create_app",
    "is_loopback", "serve_host",
]
