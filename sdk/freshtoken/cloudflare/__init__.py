"""The Cloudflare runtime: a Durable Object per account that refreshes ahead of expiry, Workers KV
writers (binding and REST API), and the gateway's request-path reader.

Importing this package is light and Pyodide-safe: no threads, sqlite, subprocesses or network at import
time, no optional dependency (``tests/cloudflare/test_cf_import.py`` enforces it). The REST writer
(:mod:`freshtoken.kv.workers_rest`) is imported on its own by hosts outside Workers.
"""

from __future__ import annotations

from ..kv.workers_binding import BindingKV
from ..kv.workers_limits import KV_MAX_KEY_BYTES, KVLimitError, WriteGate, check_key
from . import admin, values
from ._workers import IN_WORKERS, DurableObject, Response, WorkerEntrypoint, json_response
from .admin import forward as forward_admin
from .durable_object import RefresherObject, clients_from_env
from .fetch_http import FetchTokenHTTP
from .gateway import GatewayReader, climbs_out, refuse_caller
from .storage import DurableObjectStorage

__all__ = [
    "IN_WORKERS",
    "KV_MAX_KEY_BYTES",
    "BindingKV",
    "DurableObject",
    "DurableObjectStorage",
    "FetchTokenHTTP",
    "GatewayReader",
    "KVLimitError",
    "RefresherObject",
    "Response",
    "WorkerEntrypoint",
    "WriteGate",
    "admin",
    "check_key",
    "clients_from_env",
    "climbs_out",
    "forward_admin",
    "json_response",
    "refuse_caller",
    "values",
]
