"""The Temporal runtime (extra ``temporal``): one workflow per account, for fleets beyond one process.

* :class:`AccountWorkflow` — workflow id = the account key; a durable timer is the alarm; signals ``register``,
  ``refresh_now``, ``remove``; queries ``status``, ``outcome``; continue-as-new for long-lived accounts.
* :class:`RefreshActivities` — the activity running the core :class:`~freshtoken.refresher.Refresher`.
* :class:`EncryptionCodec` — AES-256-GCM over every payload (``FRESHTOKEN_ENCRYPTION_KEYS``, as the embedded
  runtime): no refresh token in workflow history in plain text.
* :class:`TemporalAccounts` — the client API (register / refresh_now / status / remove / list_accounts).
* :func:`build_worker`, :func:`worker_from_settings`, :func:`freshtoken.temporal.cli.run_worker` — workers.

Names are imported on first use, so ``from freshtoken.temporal.cli import worker`` (the click command) does
not import ``temporalio`` until the worker runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .activities import RefreshActivities
    from .client import OperationTimeout, TemporalAccounts, connect
    from .codec import EncryptionCodec, data_converter
    from .shared import DEFAULT_TASK_QUEUE, WORKFLOW_NAME, WorkflowOptions
    from .worker import WorkerHost, build_worker, worker_from_settings
    from .workflow import AccountWorkflow

_EXPORTS = {
    "RefreshActivities": "activities",
    "OperationTimeout": "client",
    "TemporalAccounts": "client",
    "connect": "client",
    "EncryptionCodec": "codec",
    "data_converter": "codec",
    "DEFAULT_TASK_QUEUE": "shared",
    "WORKFLOW_NAME": "shared",
    "WorkflowOptions": "shared",
    "WorkerHost": "worker",
    "build_worker": "worker",
    "worker_from_settings": "worker",
    "AccountWorkflow": "workflow",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        mod = importlib.import_module(f"{__name__}.{module}")
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] in ("temporalio", "cryptography"):
            from ..errors import ConfigError

            raise ConfigError(
                f"the Temporal runtime needs {exc.name.split('.')[0]!r}: install 'freshtoken[temporal]'"
            ) from None
        raise
    value = getattr(mod, name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_TASK_QUEUE",
    "WORKFLOW_NAME",
    "AccountWorkflow",
    "EncryptionCodec",
    "OperationTimeout",
    "RefreshActivities",
    "TemporalAccounts",
    "WorkerHost",
    "WorkflowOptions",
    "build_worker",
    "connect",
    "data_converter",
    "worker_from_settings",
]
