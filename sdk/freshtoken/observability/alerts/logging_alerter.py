"""An alerter that logs: the simplest way to see alerts, and the default (``[alerting] log = true``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ...events import (
    BacklogRising,
    ReauthRequiredEvent,
    RefreshFailed,
    RefreshTokenExpiring,
    RotatedTokenNotDurable,
    TokenExpired,
)
from ...hookspecs import hookimpl
from ...host.config import ALERT_EVENTS

log = logging.getLogger("freshtoken.observability.alerts")


class LoggingAlerter:
    """Logs an alert on a repeated or misconfiguration failure (``event.alert``), a dead grant, a token
    that expired in KV, a refresh token about to lapse and a provider answer not yet saved. ``on`` selects
    which of these."""

    def __init__(self, on: Iterable[str] = ALERT_EVENTS, *, logger: logging.Logger | None = None) -> None:
        self.on = frozenset(on)
        self.log = logger or log

    @hookimpl
    def freshtoken_refresh_failed(self, event: RefreshFailed) -> None:
        if "refresh_failed" in self.on and event.alert:
            self.log.error(
                "ALERT %s: refresh failing (%s, %d consecutive failure(s)): %s",
                event.key, event.kind, event.consecutive_failures, event.error,
            )

    @hookimpl
    def freshtoken_reauth_required(self, event: ReauthRequiredEvent) -> None:
        if "reauth_required" in self.on:
            self.log.error("ALERT %s: re-authorisation required: %s", event.key, event.error)

    @hookimpl
    def freshtoken_token_expired(self, event: TokenExpired) -> None:
        if "token_expired" in self.on:
            self.log.error(
                "ALERT %s: the access token in KV expired (%d consecutive failure(s)); requests are failing",
                event.key, event.consecutive_failures,
            )

    @hookimpl
    def freshtoken_refresh_token_expiring(self, event: RefreshTokenExpiring) -> None:
        if "refresh_token_expiring" in self.on:
            days = max(0.0, (event.refresh_token_expires_at - event.at) / 86400.0)
            self.log.warning(
                "ALERT %s: the refresh token lapses in %.1f day(s); ask the user to re-authorise", event.key, days
            )

    @hookimpl
    def freshtoken_backlog_rising(self, event: BacklogRising) -> None:
        if "backlog_rising" in self.on:
            self.log.error(
                "ALERT backlog: %d refresh(es) due drain in ~%.0fs (latency %.3fs, concurrency %d), %.0f%% of the "
                "%.0fs lead: tokens will be served expired unless capacity grows (docs/capacity.md)",
                event.due, event.drain_seconds, event.latency, event.concurrency, 100 * event.ratio, event.lead,
            )

    @hookimpl
    def freshtoken_rotated_token_not_durable(self, event: RotatedTokenNotDurable) -> None:
        if "rotated_token_not_durable" in self.on:
            what = "rotated token" if event.rotated else "refreshed token (not rotated)"
            where = "held in memory and in the recovery file" if event.rescued else "held in memory ONLY"
            self.log.error(
                "ALERT %s: %s not yet durable (%s); %s, save retried: %s",
                event.key, what, event.error, where,
                "nothing is lost if the process dies" if event.rescued else "do not stop the process",
            )
