"""What the workflow, the activity and the client exchange: plain dataclasses (Temporal's JSON converter).

Everything here may hold a secret (a refresh token in a registration, an account's state JSON): it only
ever crosses Temporal inside payloads, which :mod:`freshtoken.temporal.codec` encrypts. A registration travels as
:meth:`freshtoken.registration.Registration.to_payload` (a plain dict: the workflow never looks inside it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The workflow type name and the signal / query / activity names (stable: they are in every history).
WORKFLOW_NAME = "freshtoken.Account"
ACTIVITY_NAME = "freshtoken.run_op"
SIGNAL_REGISTER = "register"
SIGNAL_REFRESH_NOW = "refresh_now"
SIGNAL_REMOVE = "remove"
SIGNAL_PERSIST = "_persist"
QUERY_STATUS = "status"
QUERY_OUTCOME = "outcome"
DEFAULT_TASK_QUEUE = "freshtoken"

#: Operation kinds.
OP_REGISTER = "register"
OP_ALARM = "alarm"
OP_REFRESH_NOW = "refresh_now"
OP_REMOVE = "remove"


@dataclass
class OpRequest:
    """An operation queued in the workflow: from a signal, or the alarm."""

    kind: str
    request_id: str = ""
    register: dict[str, Any] | None = None  # Registration.to_payload() (the same keys as the old RegisterArgs)
    revoke: bool = True


@dataclass
class WorkflowOptions:
    """How the workflow runs its activity. Part of the workflow input, so it survives continue-as-new.

    ``activity_timeout`` bounds one refresh (two token requests of up to the provider's timeout each, plus KV);
    ``heartbeat_timeout`` is how fast a killed worker's refresh is given to another worker (the activity
    heartbeats every third of it); ``history_limit`` is the history length that triggers continue-as-new
    (besides the server's own suggestion).
    """

    activity_timeout: float = 120.0
    heartbeat_timeout: float = 30.0
    history_limit: int = 5000
    outcomes_kept: int = 32


@dataclass
class AccountInput:
    """The workflow input, at start and at every continue-as-new."""

    key: str
    state: str | None = None  # AccountState JSON (secrets in clear: the payload codec encrypts the payload)
    alarm_at: float | None = None
    pending: list[OpRequest] = field(default_factory=list)
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    options: WorkflowOptions = field(default_factory=WorkflowOptions)
    runs: int = 0


@dataclass
class OpInput:
    """One activity attempt: the operation and the latest durable state of the account."""

    key: str
    run_id: str
    token: str  # names this attempt: persists from another (timed-out) attempt are ignored
    op: OpRequest
    state: str | None
    alarm_at: float | None
    now: float  # workflow time when scheduled (the activity's clock never runs behind it)
    heartbeat_every: float = 10.0


@dataclass
class OpResult:
    outcome: dict[str, Any]
    state: str | None
    alarm_at: float | None
    deleted: bool = False


@dataclass
class Persist:
    """Sent by the activity to its workflow (a signal) so that a rotated refresh token is durable before the
    KV write: the activity's ``storage.save``."""

    token: str
    state: str
    alarm_at: float | None = None
