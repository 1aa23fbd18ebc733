"""Serving the admin API with uvicorn beside the runtime's scheduler, in one event loop.

Signals are handled here, not by uvicorn: on SIGTERM / SIGINT the HTTP server stops accepting, the scheduler
stops dispatching, the refreshes in flight finish, then everything is closed. A second signal cancels the
refreshes still in flight.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING, Any

from ..embedded.runtime import drain_on_signals
from ..errors import ConfigError
from ..host.asgi_server import AsgiServer
from .app import create_app
from .auth import AdminToken, Scope, admin_tokens, check_bind
from .readiness import ReadyLimits

if TYPE_CHECKING:
    from ..host.config import Settings
    from ..host.factory import Host

log = logging.getLogger("freshtoken.admin")


class AdminServer(AsgiServer):
    """The admin API on ``host:port`` (port 0: any free port; see :attr:`port` once started). Refuses a
    non-loopback address without a token (:func:`~.auth.check_bind`)."""

    what = "admin API"

    def __init__(self, app: Any, *, host: str, port: int, token: object) -> None:
        check_bind(host, token)
        super().__init__(app, host=host, port=port)


def configured_tokens(settings: Settings) -> list[AdminToken]:
    """``[admin] token`` (full scope) and every ``[[admin.tokens]]``, resolved; a token given twice is refused."""
    token = settings.secret(settings.admin.token, "admin.token")
    scoped = []
    for i, entry in enumerate(settings.admin.tokens):
        secret = settings.secret(entry.token, f"admin.tokens[{i}].token")
        if secret is None:
            raise ConfigError(f"{settings.source}: admin.tokens[{i}].token is not set")
        scoped.append(AdminToken(secret.get_secret_value(), Scope.parse(entry.scope)))
    try:
        return admin_tokens(token.get_secret_value() if token is not None else None, scoped)
    except ConfigError as exc:
        raise ConfigError(f"{settings.source}: [admin]: {exc}") from None


def callback_host(settings: Settings) -> list[str]:
    """The host name of ``[connect] redirect_uri``: the provider sends the browser there, so the API answers it."""
    from urllib.parse import urlsplit

    uri = settings.connect.redirect_uri
    name = urlsplit(uri).hostname if uri else None
    return [name] if name else []


async def serve_host(
    host_obj: Host,
    *,
    listen_host: str | None = None,
    port: int | None = None,
    stop: asyncio.Event | None = None,
    install_signals: bool = True,
    on_ready: Any = None,
) -> None:
    """Run the scheduler and the admin API until ``stop`` (or SIGTERM / SIGINT); finish in-flight refreshes."""
    settings = host_obj.settings
    tokens = configured_tokens(settings)
    listen = listen_host if listen_host is not None else settings.admin.host
    check_bind(listen, tokens)  # before anything starts
    app = create_app(host_obj.runtime, tokens=tokens, metrics=host_obj.metrics, secrets=settings.secret_values(),
                     history=getattr(host_obj, "history", None),
                     listen_host=listen, allowed_hosts=[*settings.admin.allowed_hosts, *callback_host(settings)],
                     connect_redirect_uri=settings.connect.redirect_uri, connect_state_ttl=settings.connect.state_ttl,
                     ready_limits=ReadyLimits(max_loop_lag=settings.admin.ready_max_loop_lag,
                                              max_overdue=settings.admin.ready_max_overdue))
    server = AdminServer(app, host=listen, port=settings.admin.port if port is None else port, token=tokens)
    stop = stop or asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT) if install_signals else ()
    with drain_on_signals(host_obj.runtime, stop, signals):
        scheduler = asyncio.ensure_future(host_obj.runtime.run(stop))
        try:
            await server.start()
            if on_ready is not None:
                on_ready(server)
            waiter = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({waiter, scheduler}, return_when=asyncio.FIRST_COMPLETED)
            if scheduler in done:
                waiter.cancel()
                scheduler.result()  # the scheduler died: surface it
        finally:
            stop.set()
            await server.stop()
            await asyncio.gather(scheduler, return_exceptions=True)
