"""What one operation on an account did: :class:`OutcomeKind` and :class:`Outcome`, and their one serialisation.

The refresher returns the first eight kinds; the host shell (:mod:`freshtoken.host.shell`) and the runtimes add the
last four. Every runtime, the admin API and the CLI read and write outcomes through :meth:`Outcome.to_dict` /
:meth:`Outcome.from_dict` and decide "did it fail?" with :attr:`OutcomeKind.failed`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class OutcomeKind(StrEnum):
    """The kind of an :class:`Outcome`. The values are the wire strings (JSON, metrics labels, CLI output)."""

    #: The provider answered; the new token is durable, in KV, and the next alarm is set.
    REFRESHED = "refreshed"
    #: An alarm before its time (a re-delivery): KV rewritten from the state, re-armed, no provider call.
    NOT_DUE = "not_due"
    #: A retryable failure (or a failed KV write): backed off and re-armed.
    RETRY_SCHEDULED = "retry_scheduled"
    #: The configuration is wrong (client, account data, provider): alerted, retried slowly.
    MISCONFIGURED = "misconfigured"
    #: The provider refused the grant: stopped until someone registers again.
    REAUTH_REQUIRED = "reauth_required"
    #: A never-expiring token: nothing to refresh.
    STATIC = "static"
    #: No account is stored under the key.
    ABSENT = "absent"
    #: Another owner's newer state won: this process stood down, wrote nothing, set no alarm.
    SUPERSEDED = "superseded"
    #: Outside the refresher (unknown client, a state that does not decode, a storage outage): the host shell
    #: logged it and re-armed the account's alarm (:func:`freshtoken.host.shell.rearm_after_error`).
    ERROR_REARMED = "error_rearmed"
    #: An account was registered (runtimes whose operations all answer with an outcome: Temporal).
    REGISTERED = "registered"
    #: An account was removed (or there was none; see the ``removed`` field of the answer).
    REMOVED = "removed"
    #: The operation could not run (a refused registration, an infrastructure failure after retries).
    ERROR = "error"

    @property
    def failed(self) -> bool:
        """A failed refresh attempt (what the admin API's ``ok`` and the CLI's exit status report)."""
        return self in _FAILED


_FAILED = frozenset({OutcomeKind.RETRY_SCHEDULED, OutcomeKind.MISCONFIGURED, OutcomeKind.REAUTH_REQUIRED})


@dataclass(frozen=True, init=False)
class Outcome:
    """What an alarm or refresh did. ``kind`` accepts its string value too (converted on construction; an
    unknown string is a :class:`ValueError` naming the known kinds)."""

    kind: OutcomeKind
    next_alarm: float | None = None
    error: str | None = None
    generation: int | None = None

    def __init__(
        self,
        kind: OutcomeKind | str,
        next_alarm: float | None = None,
        error: str | None = None,
        generation: int | None = None,
    ) -> None:
        object.__setattr__(self, "kind", outcome_kind(kind))
        object.__setattr__(self, "next_alarm", next_alarm)
        object.__setattr__(self, "error", error)
        object.__setattr__(self, "generation", generation)

    @property
    def failed(self) -> bool:
        return self.kind.failed

    def to_dict(self) -> dict[str, Any]:
        """The one JSON shape of an outcome: ``{"kind", "next_alarm", "error", "generation"}``."""
        return {"kind": self.kind.value, "next_alarm": self.next_alarm, "error": self.error,
                "generation": self.generation}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outcome:
        """The inverse of :meth:`to_dict`; other keys (a runtime's extras: ``view``, ``removed``...) are ignored."""
        if not isinstance(data, Mapping) or "kind" not in data:
            raise ValueError(f"an outcome must be a mapping with a 'kind', not {type(data).__name__}")
        next_alarm = data.get("next_alarm")
        generation = data.get("generation")
        error = data.get("error")
        return cls(
            outcome_kind(data["kind"]),
            None if next_alarm is None else float(next_alarm),
            None if error is None else str(error),
            None if generation is None else int(generation),
        )


def outcome_kind(value: object) -> OutcomeKind:
    """``value`` as an :class:`OutcomeKind`, or a :class:`ValueError` that names the known kinds."""
    if isinstance(value, OutcomeKind):
        return value
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return OutcomeKind(value)
    except ValueError:
        known = ", ".join(k.value for k in OutcomeKind)
        raise ValueError(f"unknown outcome kind {value!r}; known kinds: {known}") from None
