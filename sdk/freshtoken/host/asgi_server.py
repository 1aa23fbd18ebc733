"""An ASGI app served by uvicorn inside the host's own event loop: the admin API and the metrics address.

The socket is bound here, not by uvicorn, so that "address already in use" is an error message instead of
uvicorn's ``sys.exit``; uvicorn's signal handling is off (the host drains on signals itself) and its logs go
through the host's handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("freshtoken.host")


def uvicorn_server(app: Any, host: str, port: int) -> Any:
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # the host handles signals itself
            yield

    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="off", log_config=None,
        server_header=False, date_header=False,
    )
    return _Server(config)


def bind_socket(host: str, port: int, *, what: str = "admin API") -> socket.socket:
    """A listening-ready socket on ``host:port``; a clear :class:`OSError` (naming ``what``) when unusable."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OSError(f"{what}: cannot resolve host {host!r} ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise OSError(f"{what} cannot listen on {host}:{port}: {exc.strerror or exc.__class__.__name__}") from None
    sock.set_inheritable(True)
    return sock


class AsgiServer:
    """``app`` on ``host:port`` (port 0: any free port; see :attr:`port` once started)."""

    #: Names the server in error messages.
    what = "server"
    #: The path :attr:`url` points at.
    path = ""

    def __init__(self, app: Any, *, host: str, port: int) -> None:
        self.host = host
        self._requested_port = port
        self._server = uvicorn_server(app, host, port)
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        self._bound_port: int | None = None

    @property
    def port(self) -> int:
        return self._bound_port or self._requested_port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"

    async def start(self) -> None:
        self._sock = bind_socket(self.host, self._requested_port, what=self.what)
        self._bound_port = int(self._sock.getsockname()[1])
        self._task = asyncio.ensure_future(self._serve())
        while not self._server.started:
            if self._task.done():
                self._task = None
                raise OSError(f"{self.what} could not start on {self.host}:{self.port}")
            await asyncio.sleep(0.01)

    async def _serve(self) -> None:
        try:
            await self._server.serve(sockets=[self._sock])
        except SystemExit:  # uvicorn exits on a start-up failure; a host must not
            log.error("%s: uvicorn failed to start", self.what)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(Exception):
            await self._task
        self._task = None
        if self._sock is not None:
            self._sock.close()
