"""Slack incoming-webhook alerter: "Slack alerts on repeated failures".

It posts one short message per alert event (a failure streak reaching the alert threshold, a
misconfiguration, a dead grant, a token expired in KV, a refresh token about to lapse, a provider answer not
yet saved). The message holds the account key, the provider, the failure class and the provider's own
(redacted) error text: never a token or a client secret. The webhook URL is itself a secret: it is never
logged. A post is bounded by ``timeout``; a failed post is logged (by class) and never affects a refresh.

An outage that hits thousands of accounts at once must not send thousands of messages (Slack accepts about one
per second per webhook): at most ``max_per_minute`` messages are posted in any minute; the rest are counted,
and the next message posted says how many were suppressed.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from pydantic import SecretStr

from ...events import (
    Event,
    ReauthRequiredEvent,
    RefreshFailed,
    RefreshTokenExpiring,
    RotatedTokenNotDurable,
    TokenExpired,
)
from ...hookspecs import hookimpl
from ...host.config import ALERT_EVENTS
from ...redaction import redact

log = logging.getLogger("freshtoken.observability.alerts.slack")
#: httpx logs every request URL at INFO; a webhook URL is a credential.
_HTTPX_LOGGERS = ("httpx", "httpcore")


class _ScrubFilter(logging.Filter):
    """Rewrites log records of the HTTP libraries that would quote the webhook URL."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        if self.secret in message:
            record.msg = message.replace(self.secret, "[slack webhook]")
            record.args = ()
        return True


#: Longest message posted.
MAX_MESSAGE = 3000


def escape(text: str) -> str:
    """Slack's escaping of message text: ``&``, ``<``, ``>`` become entities, so that an account key or a
    provider's text holding ``<!channel>``, ``<@U123>`` or ``<https://...|a link>`` is shown, never acted on."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _map_text_fields(event: Event, fn: Callable[[str], str]) -> Event:
    """A copy of ``event`` with ``fn`` applied to each of its text fields (key, provider, kind, error...)."""
    changes: dict[str, Any] = {
        f.name: fn(value) for f in dataclasses.fields(event) if isinstance(value := getattr(event, f.name), str)
    }
    return dataclasses.replace(event, **changes)


def _scrub(event: Event, secrets: Iterable[str]) -> Event:
    """Every known secret, in any encoding, out of the event's text fields (defence in depth: the refresher
    redacted the error already)."""
    known = list(secrets)
    return _map_text_fields(event, lambda v: redact(v, known, limit=None, mask_tokens=False))


def _cap(text: str) -> str:
    if len(text) <= MAX_MESSAGE:
        return text
    return re.sub(r"&[a-z]*$", "", text[:MAX_MESSAGE]) + "…"


def format_message(event: Event) -> str:
    """The Slack text for an event (mrkdwn), every text field escaped (:func:`escape`)."""
    event = _map_text_fields(event, escape)
    key = f"`{event.key}`"
    if isinstance(event, RefreshFailed):
        return (
            f":warning: freshtoken: refresh of {key} ({event.provider}) is failing — "
            f"{event.kind}, {event.consecutive_failures} consecutive failure(s): {event.error}"
        )
    if isinstance(event, ReauthRequiredEvent):
        return f":no_entry: freshtoken: {key} ({event.provider}) needs re-authorisation: {event.error}"
    if isinstance(event, TokenExpired):
        return (
            f":rotating_light: freshtoken: the access token of {key} ({event.provider}) has expired in KV "
            f"after {event.consecutive_failures} failed refresh(es); requests using it are failing"
        )
    if isinstance(event, RefreshTokenExpiring):
        days = max(0.0, (event.refresh_token_expires_at - event.at) / 86400.0)
        return (
            f":hourglass: freshtoken: the refresh token of {key} ({event.provider}) lapses in {days:.1f} day(s); "
            "ask the user to re-authorise"
        )
    if isinstance(event, RotatedTokenNotDurable):
        what = "rotated token" if event.rotated else "refreshed token"
        where = ("held in memory and in the encrypted recovery file" if event.rescued
                 else "held in memory only: do not stop the process")
        return (
            f":floppy_disk: freshtoken: the {what} of {key} ({event.provider}) is not yet durable — "
            f"{event.error}; {where}; the save is being retried"
        )
    return f"freshtoken: {type(event).__name__} for {key}"


class SlackAlerter:
    """Posts alerts to a Slack incoming webhook (``{"text": ...}``)."""

    def __init__(
        self,
        webhook_url: str | SecretStr,
        *,
        on: Iterable[str] = ALERT_EVENTS,
        timeout: float = 5.0,
        client: httpx.AsyncClient | None = None,
        secrets: Iterable[str] = (),
        max_per_minute: int = 20,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = webhook_url if isinstance(webhook_url, SecretStr) else SecretStr(webhook_url)
        self.on = frozenset(on)
        self.timeout = float(timeout)
        self._own = client is None
        self._client = client
        #: extra values to scrub from messages (defence in depth: events carry no secret)
        self._secrets = [s for s in secrets if s] + [self._url.get_secret_value()]
        self.sent = 0
        self.failed = 0
        self.suppressed = 0
        self.max_per_minute = max(1, int(max_per_minute))
        self._monotonic = monotonic
        self._window: deque[float] = deque()
        self._pending_suppressed = 0
        self._filter = _ScrubFilter(self._url.get_secret_value())
        for name in _HTTPX_LOGGERS:
            logging.getLogger(name).addFilter(self._filter)

    def __repr__(self) -> str:
        return f"SlackAlerter(on={sorted(self.on)!r}, timeout={self.timeout})"

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        return self._client

    async def aclose(self) -> None:
        for name in _HTTPX_LOGGERS:
            logging.getLogger(name).removeFilter(self._filter)
        if self._own and self._client is not None:
            await self._client.aclose()
            self._client = None

    def _admit(self) -> bool:
        now = self._monotonic()
        while self._window and self._window[0] <= now - 60.0:
            self._window.popleft()
        if len(self._window) >= self.max_per_minute:
            return False
        self._window.append(now)
        return True

    async def post(self, event: Event) -> bool:
        """Post the message for ``event``; True when Slack accepted it. Never raises."""
        if not self._admit():
            self.suppressed += 1
            self._pending_suppressed += 1
            return False
        text = format_message(_scrub(event, self._secrets))
        if self._pending_suppressed:
            text += f"\n(and {self._pending_suppressed} more alert(s) suppressed in the last minute: see the logs)"
            self._pending_suppressed = 0
        text = _cap(text)
        payload: dict[str, Any] = {"text": text}
        try:
            resp = await self._http().post(
                self._url.get_secret_value(), json=payload, timeout=httpx.Timeout(self.timeout)
            )
        except httpx.HTTPError as exc:
            self.failed += 1
            log.warning("slack alert for %s not sent: %s", event.key, exc.__class__.__name__)
            return False
        if resp.status_code >= 300:
            self.failed += 1
            log.warning("slack alert for %s refused: HTTP %d", event.key, resp.status_code)
            return False
        self.sent += 1
        return True

    @hookimpl
    def freshtoken_refresh_failed(self, event: RefreshFailed) -> Any:
        if "refresh_failed" in self.on and event.alert:
            return self.post(event)
        return None

    @hookimpl
    def freshtoken_reauth_required(self, event: ReauthRequiredEvent) -> Any:
        return self.post(event) if "reauth_required" in self.on else None

    @hookimpl
    def freshtoken_token_expired(self, event: TokenExpired) -> Any:
        return self.post(event) if "token_expired" in self.on else None

    @hookimpl
    def freshtoken_refresh_token_expiring(self, event: RefreshTokenExpiring) -> Any:
        return self.post(event) if "refresh_token_expiring" in self.on else None

    @hookimpl
    def freshtoken_rotated_token_not_durable(self, event: RotatedTokenNotDurable) -> Any:
        return self.post(event) if "rotated_token_not_durable" in self.on else None
