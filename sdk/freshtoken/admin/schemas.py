"""The admin API's answers as pydantic models: what ``/openapi.json`` publishes and what the tests validate real
answers against. Requests are validated by their own models where they are read (``RegisterBody``, ``ConnectBody``).

Every timestamp is epoch seconds (``expires_at``) with its RFC 3339 text beside it (``expires_at_rfc3339``, UTC,
``Z``): :func:`with_rfc3339` adds them to a view.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from ..outcome import OutcomeKind
from ..state import SECRET_FIELDS, AccountState

#: Suffix of the RFC 3339 twin of an epoch-seconds field.
RFC3339 = "_rfc3339"


def is_timestamp_field(name: str) -> bool:
    return name.endswith(("_at", "_since", "next_alarm"))


def rfc3339(epoch: float) -> str:
    """``2026-12-01T16:25:07.123Z`` (UTC, millisecond precision)."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def with_rfc3339(view: dict[str, Any]) -> dict[str, Any]:
    """``view`` with an RFC 3339 twin beside every epoch-seconds timestamp (None stays None)."""
    out = dict(view)
    for name, value in view.items():
        if is_timestamp_field(name) and not name.endswith(RFC3339):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            out[name + RFC3339] = rfc3339(float(value)) if ok else None
    return out


class ErrorBody(BaseModel):
    """Every error: a stable code and one line for people (never a secret or a stack trace)."""

    error: str
    message: str
    problems: list[dict[str, str]] | None = Field(default=None, description="Per-field problems (422).")


def _account_view_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, info in AccountState.model_fields.items():
        if name in SECRET_FIELDS:
            continue
        required = name in ("key", "client", "status")
        annotation = info.annotation if required else info.annotation | None  # type: ignore[operator]
        fields[name] = (annotation, Field(default=... if required else None, description=info.description))
    extra: dict[str, Any] = {
        "has_refresh_token": (bool, ...),
        "has_access_token": (bool, ...),
        "alarm_at": (float | None, None),
        "leased_by": (str | None, None),
        "lease_until": (float | None, None),
        "refreshing": (bool | None, None),
    }
    fields.update(extra)
    for name in list(fields):
        if is_timestamp_field(name):
            fields[name + RFC3339] = (str | None, Field(default=None, description=f"{name} as RFC 3339 (UTC)"))
    return fields


#: One account as the API shows it: its state without any secret, its alarm, what the runtime adds (a list shows
#: a summary of the same fields: every field but key, client, status and the has_* flags may be absent).
AccountView: type[BaseModel] = create_model(
    "AccountView", __config__=ConfigDict(extra="allow"), **_account_view_fields()
)


class AccountList(BaseModel):
    accounts: list[AccountView]
    next_after: str | None = Field(description="Pass as ?after= for the next page; null on the last page.")


class RefreshResult(BaseModel):
    """``POST /accounts/{key}/refresh``: the outcome of the refresh."""

    key: str
    ok: bool
    kind: OutcomeKind
    next_alarm: float | None = None
    next_alarm_rfc3339: str | None = None
    error: str | None = None
    generation: int | None = None


class Removed(BaseModel):
    key: str
    removed: Literal[True]


class Health(BaseModel):
    """``GET /health``: the process is alive."""

    status: Literal["ok", "error"]
    scheduler: Literal["running", "stopped"] | None = None
    version: str | None = None


class ReadyCheck(BaseModel):
    ok: bool
    detail: str
    value: float | None = Field(default=None, description="The measured value (seconds), if the check has one.")
    limit: float | None = None


class Ready(BaseModel):
    """``GET /ready``: 200 when every check passes, 503 otherwise."""

    status: Literal["ready", "not_ready"]
    checks: dict[str, ReadyCheck]
