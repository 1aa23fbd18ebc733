"""Operator logs: one INFO line per refresh, failure, re-authorisation and recovery, and a JSON log format.

:class:`RefreshLog` is a plugin of the event hooks: each line names the account key, the provider, the
generation, the duration, the outcome, the next alarm and the token endpoint's host and path (never its query
string), and carries the same fields as ``record.freshtoken`` for :class:`JsonFormatter`, which writes one JSON
object per line (``ts``, ``level``, ``logger``, ``message`` and those fields). :func:`configure_logging` installs
either format on the root logger (``--log-format json`` / ``[logging] format``).

Events carry no secret; the formatter also scrubs every configured secret (client secrets, admin tokens...) from
the final line, in any encoding :func:`freshtoken.redaction.redact` knows, as a last line of defence.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any, Literal

from ..events import (
    AccountRecovered,
    AccountRegistered,
    AccountRemoved,
    ReauthRequiredEvent,
    RefreshFailed,
    RefreshSucceeded,
)
from ..hookspecs import hookimpl
from ..redaction import redact, secret_forms

__all__ = ["LOGGER", "JsonFormatter", "LogFormat", "RefreshLog", "TextFormatter", "configure_logging", "rfc3339"]

#: The logger of the per-refresh lines.
LOGGER = "freshtoken.refreshes"
LogFormat = Literal["text", "json"]
#: The attribute of a log record that holds the structured fields.
FIELDS_ATTR = "freshtoken"
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def rfc3339(at: float | None) -> str | None:
    """Epoch seconds as an RFC 3339 UTC string (``2026-12-01T16:20:00.123Z``); None stays None."""
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RefreshLog:
    """The event hooks → one INFO line per refresh, failure, re-authorisation, recovery, registration, removal.

    Failures are INFO here (the alerters raise the pages); a line is written for every one of them, so that a
    log pipeline can count and chart them.
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or logging.getLogger(LOGGER)

    def _emit(self, message: str, fields: dict[str, Any]) -> None:
        self.log.info(message, extra={FIELDS_ATTR: fields})

    @hookimpl
    def freshtoken_refresh_succeeded(self, event: RefreshSucceeded) -> None:
        fields = {
            "event": "refreshed", "key": event.key, "provider": event.provider, "generation": event.generation,
            "duration_s": round(max(event.duration, 0.0), 6), "outcome": "refreshed", "rotated": event.rotated,
            "next_alarm": rfc3339(event.next_refresh_at), "expires_at": rfc3339(event.expires_at),
            "endpoint": event.endpoint,
        }
        self._emit(
            f"refreshed {event.key} ({event.provider}) generation {event.generation} in {event.duration:.3f}s"
            f"{' (rotated)' if event.rotated else ''}; next alarm {fields['next_alarm'] or 'none'}; "
            f"endpoint {event.endpoint or '-'}", fields,
        )

    @hookimpl
    def freshtoken_refresh_failed(self, event: RefreshFailed) -> None:
        fields = {
            "event": "refresh_failed", "key": event.key, "provider": event.provider,
            "generation": event.generation, "duration_s": round(max(event.duration, 0.0), 6),
            "outcome": event.kind, "failures": event.consecutive_failures, "next_alarm": rfc3339(event.retry_at),
            "alert": event.alert, "endpoint": event.endpoint, "error": event.error,
        }
        self._emit(
            f"refresh failed {event.key} ({event.provider}) generation {event.generation}: {event.kind}, "
            f"{event.consecutive_failures} consecutive; next alarm {fields['next_alarm'] or 'none'}; "
            f"endpoint {event.endpoint or '-'}: {event.error}", fields,
        )

    @hookimpl
    def freshtoken_reauth_required(self, event: ReauthRequiredEvent) -> None:
        fields = {
            "event": "reauth_required", "key": event.key, "provider": event.provider,
            "generation": event.generation, "duration_s": round(max(event.duration, 0.0), 6),
            "outcome": "reauth_required", "kind": event.kind, "next_alarm": None, "endpoint": event.endpoint,
            "error": event.error,
        }
        self._emit(
            f"re-authorisation required {event.key} ({event.provider}) generation {event.generation}; no next "
            f"alarm; endpoint {event.endpoint or '-'}: {event.error}", fields,
        )

    @hookimpl
    def freshtoken_account_recovered(self, event: AccountRecovered) -> None:
        fields = {
            "event": "recovered", "key": event.key, "provider": event.provider, "generation": event.generation,
            "outcome": "recovered", "previous_status": event.previous_status, "failures": event.failures,
            "via": event.via,
        }
        self._emit(
            f"recovered {event.key} ({event.provider}) generation {event.generation}: was {event.previous_status} "
            f"after {event.failures} failure(s), {'re-authorised' if event.via == 'reauth' else 'refreshed'}",
            fields,
        )

    @hookimpl
    def freshtoken_account_registered(self, event: AccountRegistered) -> None:
        fields = {
            "event": "registered", "key": event.key, "provider": event.provider, "generation": event.generation,
            "outcome": event.status, "client": event.client, "replaced": event.replaced,
        }
        self._emit(f"{'replaced' if event.replaced else 'registered'} {event.key} ({event.provider}, client "
                   f"{event.client}): {event.status}", fields)

    @hookimpl
    def freshtoken_account_removed(self, event: AccountRemoved) -> None:
        fields = {"event": "removed", "key": event.key, "provider": event.provider, "revoked": event.revoked}
        self._emit(f"removed {event.key} ({event.provider}){' and revoked its grant' if event.revoked else ''}",
                   fields)


class _Scrubbing(logging.Formatter):
    def __init__(self, fmt: str | None = None, *, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets = [s for s in secrets if s]
        #: every form :func:`redact` looks for (lower-case), computed once: the fast path's test
        self._forms = sorted({f for s in self.secrets for f in secret_forms(s)}, key=len)

    def clean(self, text: str) -> bool:
        """True when ``text`` certainly holds no secret: printable ASCII (nothing for redact's normalisation to
        remove) and no form of any secret."""
        if not (text.isascii() and text.isprintable()):
            return False
        low = text.lower()
        return not any(form in low for form in self._forms)

    def scrub(self, text: str) -> str:
        if not self.secrets or self.clean(text):
            return text
        return redact(text, self.secrets, limit=None, mask_tokens=False)


class TextFormatter(_Scrubbing):
    """``time LEVEL logger: message``, with the configured secrets scrubbed."""

    def __init__(self, *, secrets: Iterable[str] = ()) -> None:
        super().__init__(_TEXT_FORMAT, secrets=secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self.scrub(super().format(record))


class JsonFormatter(_Scrubbing):
    """One JSON object per line: ``ts`` (RFC 3339), ``level``, ``logger``, ``message``, the structured fields of
    :class:`RefreshLog` lines, and ``exc_type`` (never a traceback: it may quote a secret) for exceptions."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, FIELDS_ATTR, None)
        if isinstance(fields, dict):
            for name, value in fields.items():
                data.setdefault(name, value)
        if record.exc_info and record.exc_info[0] is not None:
            data["exc_type"] = record.exc_info[0].__name__
        line = json.dumps(data, ensure_ascii=False, default=str, separators=(",", ":"))
        if not self.secrets:
            return line
        if self.clean(" ".join(v for v in data.values() if isinstance(v, str))) and self.clean(line):
            return line  # the usual case: one test of the values, one of the line
        # scrub the decoded values (a secret inside a value is found whatever JSON escaping did), then encode
        cleaned = {k: self.scrub(v) if isinstance(v, str) else v for k, v in data.items()}
        return self.scrub(json.dumps(cleaned, ensure_ascii=False, default=str, separators=(",", ":")))


def configure_logging(
    level: str | int = "INFO",
    fmt: LogFormat = "text",
    *,
    secrets: Iterable[str] = (),
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Replace the root logger's handlers with one stream handler (stderr) in ``fmt``; the HTTP libraries'
    per-request lines (with URLs) stay at WARNING. Returns the handler."""
    if fmt not in ("text", "json"):
        raise ValueError(f"log format must be 'text' or 'json', not {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(secrets=secrets) if fmt == "json" else TextFormatter(secrets=secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # through our handler, in our format
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
    return handler
