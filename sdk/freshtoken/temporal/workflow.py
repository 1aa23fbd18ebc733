"""The account workflow: one per account, workflow id = the account key. Temporal's Durable Object.

* State: the account's :class:`~freshtoken.state.AccountState` (as JSON) and its one alarm live in the workflow.
* The alarm is a durable timer (``wait_condition`` with a timeout): when it fires, the ``alarm`` operation runs.
* Signals ``register`` / ``refresh_now`` / ``remove`` queue operations; operations run one at a time, in order
  (single-threaded per account, like a Durable Object's input gate). Queries: ``status``, ``outcome``.
* Every operation runs the core :class:`~freshtoken.refresher.Refresher` in the activity ``freshtoken.run_op``
  (:mod:`.activities`). The activity's ``storage.save`` of a rotated refresh token is a signal (``_persist``)
  back to this workflow, acknowledged by the server *before* the KV write: the token is durable first.
* An activity attempt that fails outside the refresher (a worker killed, a timeout, a configuration error)
  is not retried by Temporal: the workflow re-runs the operation with its latest durable state, after a
  backoff from our :class:`~freshtoken.retry.RetryPolicy` (full jitter from ``workflow.random()``). A re-run
  alarm whose refresh had already been persisted only rewrites KV (the refresher's idempotency).
* Long-lived accounts continue-as-new (server suggestion or ``history_limit``), carrying state, alarm, queued
  operations and recent outcomes.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy as TemporalRetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from ..host.shell import public_view as _public_view
    from ..retry import RetryPolicy
    from ..state import AccountState
    from ..storage import PlaintextCodec
    from .shared import (
        ACTIVITY_NAME,
        OP_ALARM,
        OP_REFRESH_NOW,
        QUERY_OUTCOME,
        QUERY_STATUS,
        SIGNAL_PERSIST,
        SIGNAL_REFRESH_NOW,
        SIGNAL_REGISTER,
        SIGNAL_REMOVE,
        WORKFLOW_NAME,
        AccountInput,
        OpInput,
        OpRequest,
        OpResult,
        Persist,
    )

#: A request operation (register / refresh-now / remove) failing outside the refresher is re-run this often
#: before its caller is told; an alarm is re-run forever (it is the account's schedule).
MAX_REQUEST_ATTEMPTS = 5
#: Backoff after an attempt failed outside the refresher (by consecutive such failures): the first re-run comes
#: quickly (a worker was killed: another one takes over), persistent ones (a client missing from the workers'
#: configuration) back off to the cap, with full jitter.
INFRA_POLICY = RetryPolicy(base=2.0, min_delay=0.5, cap=300.0)


@workflow.defn(name=WORKFLOW_NAME)
class AccountWorkflow:
    @workflow.init
    def __init__(self, inp: AccountInput) -> None:
        self.key = inp.key
        self.state: str | None = inp.state
        self.alarm_at: float | None = inp.alarm_at
        self.pending: list[OpRequest] = list(inp.pending)
        self.outcomes: dict[str, dict[str, Any]] = dict(inp.outcomes)
        self.options = inp.options
        self.runs = inp.runs
        self.token: str | None = None
        self.seq = 0
        self.in_flight: str | None = None
        self.infra_failures = 0
        self.last_infra_error: str | None = None

    # -- the loop --------------------------------------------------------------------------------------------
    @workflow.run
    async def run(self, inp: AccountInput) -> dict[str, Any]:
        while True:
            if self._continue_as_new_due():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._snapshot())
            if self.pending:
                await self._run(self.pending.pop(0))
                continue
            if self.state is None:  # removed, or a registration that was refused: nothing left to keep
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self.pending:
                    return {"key": self.key, "registered": False}
                continue
            wake = lambda: bool(self.pending) or self._continue_as_new_due()  # noqa: E731
            if self.alarm_at is None:
                await workflow.wait_condition(wake)
                continue
            delay = self.alarm_at - self._now()
            if delay > 0:
                try:
                    await workflow.wait_condition(wake, timeout=timedelta(seconds=delay))
                    continue
                except TimeoutError:
                    pass
            await self._run(OpRequest(OP_ALARM))

    async def _run(self, op: OpRequest) -> None:
        start_generation = self._generation()
        attempt = 0
        self.in_flight = op.kind
        try:
            while True:
                attempt += 1
                self.seq += 1
                self.token = f"{workflow.info().run_id}:{self.seq}"
                run_op = op
                if attempt > 1 and op.kind == OP_REFRESH_NOW and self._generation() > start_generation:
                    run_op = OpRequest(OP_ALARM, op.request_id)  # it did refresh before dying: never twice
                heartbeat = max(1.0, self.options.heartbeat_timeout)
                try:
                    result: OpResult = await workflow.execute_activity(
                        ACTIVITY_NAME,
                        OpInput(self.key, workflow.info().run_id, self.token, run_op, self.state, self.alarm_at,
                                self._now(), heartbeat_every=heartbeat / 3),
                        result_type=OpResult,
                        start_to_close_timeout=timedelta(seconds=self.options.activity_timeout),
                        heartbeat_timeout=timedelta(seconds=heartbeat),
                        retry_policy=TemporalRetryPolicy(maximum_attempts=1),
                    )
                except ActivityError as exc:
                    self.token = None  # a persist from this attempt (a zombie) is ignored from now on
                    self.infra_failures += 1
                    self.last_infra_error = _describe(exc)
                    delay = INFRA_POLICY.delay(self.infra_failures, rng=workflow.random())
                    workflow.logger.warning("%s: %s attempt %d failed (%s); again in %.1fs",
                                            self.key, op.kind, attempt, self.last_infra_error, delay)
                    if op.kind == OP_ALARM or attempt >= MAX_REQUEST_ATTEMPTS:
                        if op.request_id:
                            self._record(op.request_id, {"kind": "error", "error": self.last_infra_error})
                        if self.state is not None:
                            self.alarm_at = self._now() + delay  # the schedule carries on
                        return
                    await workflow.sleep(delay)
                    continue
                break
        finally:
            self.in_flight = None
            self.token = None
        self.infra_failures = 0
        self.last_infra_error = None
        if result.deleted:
            self.state, self.alarm_at = None, None
        else:
            self.state, self.alarm_at = result.state, result.alarm_at
        if op.request_id:
            self._record(op.request_id, result.outcome)

    # -- signals and queries ---------------------------------------------------------------------------------
    @workflow.signal(name=SIGNAL_REGISTER)
    def register(self, req: OpRequest) -> None:
        self.pending.append(req)

    @workflow.signal(name=SIGNAL_REFRESH_NOW)
    def refresh_now(self, request_id: str) -> None:
        self.pending.append(OpRequest(OP_REFRESH_NOW, request_id))

    @workflow.signal(name=SIGNAL_REMOVE)
    def remove(self, req: OpRequest) -> None:
        self.pending.append(req)

    @workflow.signal(name=SIGNAL_PERSIST)
    def persist(self, p: Persist) -> None:
        """The activity's durable ``storage.save`` (a rotated refresh token), before it writes KV."""
        if self.token is not None and p.token == self.token:
            self.state = p.state
            self.alarm_at = p.alarm_at

    @workflow.query(name=QUERY_STATUS)
    def status(self) -> dict[str, Any] | None:
        if self.state is None:
            return None
        view = public_view(self.state)
        view["alarm_at"] = self.alarm_at
        view["refreshing"] = self.in_flight is not None
        view["pending_ops"] = len(self.pending)
        view["workflow_runs"] = self.runs + 1
        view["infra_failures"] = self.infra_failures
        view["last_infra_error"] = self.last_infra_error
        return view

    @workflow.query(name=QUERY_OUTCOME)
    def outcome(self, request_id: str) -> dict[str, Any] | None:
        return self.outcomes.get(request_id)

    # -- helpers -----------------------------------------------------------------------------------------------
    def _now(self) -> float:
        return workflow.now().timestamp()

    def _generation(self) -> int:
        if self.state is None:
            return -1
        return int(json.loads(self.state).get("generation", 0))

    def _record(self, request_id: str, outcome: dict[str, Any]) -> None:
        self.outcomes[request_id] = outcome
        while len(self.outcomes) > self.options.outcomes_kept:
            self.outcomes.pop(next(iter(self.outcomes)))

    def _continue_as_new_due(self) -> bool:
        if self.in_flight is not None:
            return False
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= self.options.history_limit

    def _snapshot(self) -> AccountInput:
        return AccountInput(self.key, self.state, self.alarm_at, list(self.pending), dict(self.outcomes),
                            self.options, self.runs + 1)


def public_view(state_json: str) -> dict[str, Any]:
    """The host shell's public view of an account (:func:`freshtoken.host.shell.public_view`), from its JSON (plaintext
    inside the workflow: the payload codec encrypts it)."""
    return _public_view(AccountState.load(state_json, PlaintextCodec()), None)


def _describe(exc: ActivityError) -> str:
    cause = exc.cause
    name = type(cause).__name__ if cause is not None else type(exc).__name__
    text = str(cause) if cause is not None else str(exc)
    return f"{name}: {text}"[:300]
