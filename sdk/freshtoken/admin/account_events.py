"""``GET /accounts/{key}/events``: an account's event history, newest first (``?limit=50&before=ID`` pages back).

The answer is validated against :class:`AccountEvents` before it is sent (the same model ``/openapi.json``
publishes). Events of a removed account are still shown; a key with neither an account nor events is a 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ..embedded.history import EVENT_TYPES
from .openapi import KEY, Operation, Param
from .schemas import ErrorBody, rfc3339

if TYPE_CHECKING:
    from ..embedded import EmbeddedRuntime
    from ..embedded.history import AccountHistory

MAX_EVENTS = 1000
PATH = "/accounts/{key}/events"


class AccountEvent(BaseModel):
    id: int = Field(description="Increasing; pass the last one as ?before= for older events.")
    key: str
    at: float = Field(description="Epoch seconds.")
    at_rfc3339: str
    type: str = Field(description=f"One of: {', '.join(EVENT_TYPES)}.")
    provider: str
    data: dict[str, Any] = Field(description="The event's fields (failure class, error text redacted, generation, "
                                 "next alarm, duration, endpoint host and path...). Never a secret.")


class AccountEvents(BaseModel):
    key: str
    events: list[AccountEvent]
    next_before: int | None = Field(description="Pass as ?before= for older events; null when there are none.")


def _int(query: Mapping[str, str], name: str, default: int | None, low: int, high: int) -> int | None:
    from .app import ApiError

    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_query", f"{name} must be an integer") from None
    if not low <= value <= high:
        raise ApiError(400, "invalid_query", f"{name} must be between {low} and {high}")
    return value


def events_answer(history: AccountHistory | None, runtime: EmbeddedRuntime, key: str,
                  query: Mapping[str, str]) -> dict[str, Any]:
    """The body of ``GET /accounts/{key}/events`` (raises the app's ApiError / NotRegistered)."""
    from ..errors import NotRegistered
    from .app import ApiError

    limit = _int(query, "limit", 100, 1, MAX_EVENTS) or 100
    before = _int(query, "before", None, 1, 2**62)
    if history is None:
        raise ApiError(404, "not_found", "the event history is off ([history] per_account = 0)")
    rows = history.events(key, limit=limit, before=before)
    if not rows and before is None and not runtime.store.exists(key):
        raise NotRegistered(key)
    events = [AccountEvent(**row, at_rfc3339=rfc3339(row["at"])) for row in rows]
    answer = AccountEvents(key=key, events=events, next_before=events[-1].id if len(events) == limit else None)
    return answer.model_dump(mode="json")


def events_operation() -> Operation:
    """The OpenAPI entry of the route."""
    errors = {400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody}
    return Operation(
        "get", PATH, "An account's event history, newest first (refreshes, failures, alerts, re-authorisation, "
        "recovery, registration, removal).", {200: AccountEvents, **errors}, tags=("accounts",),
        params=(KEY, Param("limit", "query", f"Events per page, 1-{MAX_EVENTS}.",
                           {"type": "integer", "minimum": 1, "maximum": MAX_EVENTS}),
                Param("before", "query", "Only events older than this id (the previous page's next_before).",
                      {"type": "integer", "minimum": 1})),
    )
