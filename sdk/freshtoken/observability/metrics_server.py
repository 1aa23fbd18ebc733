"""``/metrics`` on its own address, without the admin token (``[metrics] listen`` / ``serve --metrics-listen``).

Prometheus scrapes it; nothing else is served there (every other path is a 404), so exposing it to a monitoring
network does not expose the admin API. The exposition holds no account key and no secret: labels are providers,
statuses and failure classes. ``/metrics`` also stays on the admin API (full-scope token).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .metrics import CONTENT_TYPE_LATEST, Metrics

__all__ = ["MetricsServer", "metrics_app"]


def metrics_app(metrics: Metrics) -> Any:
    """An ASGI app serving ``GET /metrics`` and nothing else."""

    async def endpoint(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": "not_found", "message": "only GET /metrics is served here"}, status_code=404)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": "method_not_allowed", "message": "only GET /metrics"}, status_code=405)

    return Starlette(routes=[Route("/metrics", endpoint, methods=["GET"])],
                     exception_handlers={404: not_found, 405: not_allowed})


class MetricsServer:
    """Serves :func:`metrics_app` with uvicorn on ``host:port`` (port 0: any free port; see :attr:`port`)."""

    def __init__(self, metrics: Metrics, *, host: str, port: int) -> None:
        from ..admin.server import _uvicorn_server

        self.host = host
        self._requested_port = port
        self._server = _uvicorn_server(metrics_app(metrics), host, port)
        self._task: asyncio.Task[None] | None = None
        self._sock: Any = None
        self._bound_port: int | None = None

    @property
    def port(self) -> int:
        return self._bound_port or self._requested_port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    async def start(self) -> None:
        from ..admin.server import bind_socket

        try:
            self._sock = bind_socket(self.host, self._requested_port)
        except OSError as exc:
            raise OSError(str(exc).replace("admin API", "metrics")) from None
        self._bound_port = int(self._sock.getsockname()[1])
        self._task = asyncio.ensure_future(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                self._task = None
                raise OSError(f"metrics could not start on {self.host}:{self.port}")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(Exception, SystemExit):
            await self._task
        self._task = None
        if self._sock is not None:
            self._sock.close()
