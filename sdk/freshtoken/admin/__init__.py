"""The admin HTTP API (ASGI, Starlette), served by uvicorn from ``freshtoken serve``.

* :func:`create_app` — the application over an :class:`~freshtoken.embedded.EmbeddedRuntime`;
* :mod:`.auth` — bearer-token authentication (constant-time compare) and the loopback rule;
* :class:`AdminServer` / :func:`serve_host` — uvicorn beside the runtime's scheduler, with a graceful stop.
"""

from .app import create_app
from .auth import BearerAuth, check_bind, is_loopback
from .server import AdminServer, serve_host

__all__ = ["AdminServer", "BearerAuth", "check_bind", "create_app", "is_loopback", "serve_host"]
