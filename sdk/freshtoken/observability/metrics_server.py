"""``/metrics`` on its own address, without the admin token (``[metrics] listen`` / ``serve --metrics-listen``).

Prometheus scrapes it; nothing else is served there (every other path is a 404), so exposing it to a monitoring
network does not expose the admin API. The exposition holds no account key and no secret: labels are providers,
statuses and failure classes. ``/metrics`` also stays on the admin API (full-scope token).
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..host.asgi_server import AsgiServer
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


class MetricsServer(AsgiServer):
    """Serves :func:`metrics_app` with uvicorn on ``host:port`` (port 0: any free port; see :attr:`port`)."""

    what = "metrics"
    path = "/metrics"

    def __init__(self, metrics: Metrics, *, host: str, port: int) -> None:
        super().__init__(metrics_app(metrics), host=host, port=port)
