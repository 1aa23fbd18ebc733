"""The Workers runtime's Python SDK (``workers``) when it is there, minimal stand-ins otherwise.

In a Python Worker, ``from workers import DurableObject, Response, WorkerEntrypoint`` is the runtime's
own module. Everywhere else (CPython tests, the workerd bridge harness, type checking) the classes
below take their place, with the same constructor signatures, so that the adapter's code is the same.
"""

from __future__ import annotations

import json
from typing import Any

try:  # pragma: no cover - only inside a Python Worker
    import workers as _workers  # type: ignore[import-not-found]

    DurableObject: Any = _workers.DurableObject
    WorkerEntrypoint: Any = _workers.WorkerEntrypoint
    Response: Any = _workers.Response
    IN_WORKERS = True
except (ImportError, AttributeError):
    IN_WORKERS = False

    class DurableObject:  # type: ignore[no-redef]
        """Stand-in for ``workers.DurableObject``: keeps ``ctx`` and ``env``."""

        def __init__(self, ctx: Any, env: Any) -> None:
            self.ctx = ctx
            self.env = env

    class WorkerEntrypoint:  # type: ignore[no-redef]
        """Stand-in for ``workers.WorkerEntrypoint``: keeps ``ctx`` and ``env``."""

        def __init__(self, ctx: Any, env: Any) -> None:
            self.ctx = ctx
            self.env = env

    class Response:  # type: ignore[no-redef]
        """Stand-in for ``workers.Response``: ``body``, ``status``, ``headers``."""

        def __init__(self, body: str | bytes | None = None, status: int = 200,
                     headers: dict[str, str] | None = None) -> None:
            self.body = body if body is not None else ""
            self.status = status
            self.headers = dict(headers or {})

        @classmethod
        def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
            return cls(json.dumps(data), status=status,
                       headers={"content-type": "application/json", **(headers or {})})

        async def text(self) -> str:
            return self.body.decode() if isinstance(self.body, bytes) else self.body


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    """A JSON ``Response`` (the runtime's, or the stand-in), never cached."""
    all_headers = {"content-type": "application/json", "cache-control": "no-store", **(headers or {})}
    return Response(json.dumps(data, separators=(",", ":")), status=status, headers=all_headers)
