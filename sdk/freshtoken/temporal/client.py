"""The client API of the Temporal runtime: the same operations as the embedded runtime.

    accounts = await TemporalAccounts.connect("temporal.internal:7233", task_queue="freshtoken")
    view = await accounts.register("t1:acme:u1", client="acme", refresh_token="...")   # signal-with-start
    outcome = await accounts.refresh_now("t1:acme:u1")                                 # -> Outcome
    view = await accounts.status("t1:acme:u1")                                         # a query, no secret
    await accounts.remove("t1:acme:u1")                                                # revokes, ends workflow

Operations are signals to the account's workflow (id = the account key); ``register``, ``refresh_now`` and
``remove`` then wait (polling the ``outcome`` query) until the workflow has run them — pass ``wait=False`` to
``register`` to return as soon as the signal is durable. The connection uses the encrypting payload codec
(``FRESHTOKEN_ENCRYPTION_KEYS``, the same keys as the workers).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.converter import PayloadCodec
from temporalio.service import RPCError, RPCStatusCode

from .. import errors as _errors
from ..errors import FreshtokenError, NotRegistered
from ..keys import AccountKey
from ..outcome import Outcome
from ..registration import Registration, registration_of
from .codec import EncryptionCodec, data_converter
from .shared import (
    DEFAULT_TASK_QUEUE,
    OP_REGISTER,
    OP_REMOVE,
    QUERY_OUTCOME,
    QUERY_STATUS,
    SIGNAL_REFRESH_NOW,
    SIGNAL_REGISTER,
    SIGNAL_REMOVE,
    WORKFLOW_NAME,
    AccountInput,
    OpRequest,
    WorkflowOptions,
)


class OperationTimeout(FreshtokenError, TimeoutError):
    """The account's workflow did not run the operation in time (no worker polling the task queue?)."""


async def connect(
    target_host: str,
    *,
    namespace: str = "default",
    codec: PayloadCodec | None = None,
    environ: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Client:
    """A Temporal client with the encrypting payload codec (from ``FRESHTOKEN_ENCRYPTION_KEYS`` by default)."""
    codec = codec if codec is not None else EncryptionCodec.from_env(environ)
    return await Client.connect(target_host, namespace=namespace, data_converter=data_converter(codec), **kwargs)


def _key(key: str | AccountKey) -> str:
    return str(key if isinstance(key, AccountKey) else AccountKey.parse(key))


def _not_found(exc: RPCError) -> bool:
    return exc.status == RPCStatusCode.NOT_FOUND


_TRANSIENT = (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION, RPCStatusCode.UNAVAILABLE,
              RPCStatusCode.DEADLINE_EXCEEDED)


def _raise_for(outcome: Mapping[str, Any], key: str) -> None:
    if outcome.get("kind") == "absent":
        raise NotRegistered(key)
    if outcome.get("kind") == "error":
        cls = getattr(_errors, str(outcome.get("error_type", "")), None)
        if not (isinstance(cls, type) and issubclass(cls, FreshtokenError)) or cls is NotRegistered:
            cls = FreshtokenError
        raise cls(f"{key}: {outcome.get('error')}")


class TemporalAccounts:
    """Register, refresh now, status, remove, list — on the account workflows of one task queue."""

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str = DEFAULT_TASK_QUEUE,
        options: WorkflowOptions | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self.options = options or WorkflowOptions()
        self.timeout = timeout

    @classmethod
    async def connect(
        cls,
        target_host: str,
        *,
        namespace: str = "default",
        task_queue: str = DEFAULT_TASK_QUEUE,
        codec: PayloadCodec | None = None,
        options: WorkflowOptions | None = None,
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> TemporalAccounts:
        client = await connect(target_host, namespace=namespace, codec=codec, environ=environ, **kwargs)
        return cls(client, task_queue=task_queue, options=options)

    # -- operations ------------------------------------------------------------------------------------------
    async def register(
        self,
        key: str | AccountKey,
        registration: Registration | None = None,
        /,
        *,
        wait: bool = True,
        timeout: float | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Register an account (a :class:`~freshtoken.registration.Registration`, or its fields as keywords):
        starts its workflow if needed (signal-with-start). The registration reaches the refresher unchanged.

        With ``wait`` (default) returns the account's public state once registered, and raises what the
        embedded runtime raises (``ConfigError`` for an unknown client, ``ReauthRequired`` without a refresh
        token, ``AccountExists`` over a live account without ``replace``...). Without, returns
        ``{"key", "request_id"}`` once the signal is durable.
        """
        reg = registration_of(registration, fields)
        ks = _key(key)
        req = OpRequest(OP_REGISTER, uuid.uuid4().hex, reg.to_payload())
        await self.client.start_workflow(
            WORKFLOW_NAME, AccountInput(ks, options=self.options), id=ks, task_queue=self.task_queue,
            start_signal=SIGNAL_REGISTER, start_signal_args=[req],
        )
        if not wait:
            return {"key": ks, "request_id": req.request_id}
        outcome = await self._wait(ks, req.request_id, timeout)
        _raise_for(outcome, ks)
        return dict(outcome.get("view") or {})

    async def refresh_now(self, key: str | AccountKey, *, timeout: float | None = None) -> Outcome:
        """Refresh at once (serialised with the account's alarm by its workflow)."""
        ks = _key(key)
        request_id = uuid.uuid4().hex
        try:
            await self.client.get_workflow_handle(ks).signal(SIGNAL_REFRESH_NOW, request_id)
        except RPCError as exc:
            if _not_found(exc):
                raise NotRegistered(ks) from None
            raise
        outcome = await self._wait(ks, request_id, timeout)
        _raise_for(outcome, ks)
        return Outcome.from_dict(outcome)

    async def status(self, key: str | AccountKey) -> dict[str, Any]:
        """The account's state without any secret, its alarm, whether an operation is running."""
        ks = _key(key)
        try:
            view = await self.client.get_workflow_handle(ks).query(QUERY_STATUS)
        except RPCError as exc:
            if _not_found(exc):
                raise NotRegistered(ks) from None
            raise
        if view is None:
            raise NotRegistered(ks)
        return dict(view)

    async def remove(self, key: str | AccountKey, *, revoke: bool = True, timeout: float | None = None) -> bool:
        """Delete the alarm, the KV record and the state; revoke the refresh token where possible. The
        workflow then completes. False when the account was not registered."""
        ks = _key(key)
        request_id = uuid.uuid4().hex
        try:
            await self.client.get_workflow_handle(ks).signal(SIGNAL_REMOVE, OpRequest(OP_REMOVE, request_id,
                                                                                       revoke=revoke))
        except RPCError as exc:
            if _not_found(exc):
                return False
            raise
        outcome = await self._wait(ks, request_id, timeout)
        if outcome.get("kind") == "error":
            _raise_for(outcome, ks)
        return bool(outcome.get("removed"))

    async def list_accounts(self, *, limit: int = 100, with_status: bool = False) -> list[dict[str, Any]]:
        """Registered accounts (running account workflows on this task queue), from Temporal's visibility store
        (eventually consistent: a just-registered account shows up within about a second)."""
        query = (f'WorkflowType = "{WORKFLOW_NAME}" AND ExecutionStatus = "Running" '
                 f'AND TaskQueue = "{self.task_queue}"')
        out: list[dict[str, Any]] = []
        async for wf in self.client.list_workflows(query, limit=limit):
            if wf.status != WorkflowExecutionStatus.RUNNING:
                continue
            item: dict[str, Any] = {"key": wf.id, "run_id": wf.run_id, "started": wf.start_time.timestamp()}
            if with_status:
                try:
                    item.update(await self.status(wf.id))
                except NotRegistered:
                    continue
                except RPCError as exc:  # e.g. no worker polling: list it, say why there is no status
                    item["error"] = f"status unavailable ({exc.status.name})"
            out.append(item)
        return out

    # -- helpers -----------------------------------------------------------------------------------------------
    async def _wait(self, key: str, request_id: str, timeout: float | None) -> dict[str, Any]:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        handle = self.client.get_workflow_handle(key)
        delay = 0.02
        while True:
            try:
                outcome = await handle.query(QUERY_OUTCOME, request_id)
            except RPCError as exc:
                if exc.status not in _TRANSIENT:  # e.g. the workflow's first task has not run yet
                    raise
                outcome = None
            if outcome is not None:
                return dict(outcome)
            if time.monotonic() > deadline:
                raise OperationTimeout(
                    f"{key}: the operation did not complete in time; is a worker polling task queue "
                    f"{self.task_queue!r}?"
                )
            await asyncio.sleep(delay)
            delay = min(0.5, delay * 1.5)


__all__ = ["OperationTimeout", "TemporalAccounts", "connect"]
