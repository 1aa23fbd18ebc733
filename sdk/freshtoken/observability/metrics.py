"""Prometheus metrics: counters and histograms fed by the event hooks; the runtime's counts and gauges, and the
fleet's gauges, read at scrape time.

* ``freshtoken_refreshes_total{provider,outcome}``: every refresh by outcome (``refreshed``, a failure class such
  as ``retryable`` / ``misconfigured``, ``reauth_required``); ``freshtoken_refresh_failures_total{provider,kind}``,
  ``freshtoken_refresh_token_rotations_total``, ``freshtoken_alerts_total{provider,event}``,
  ``freshtoken_recoveries_total{provider,via}``;
* histograms ``freshtoken_refresh_duration_seconds{provider}`` (time at the provider, successes and failures)
  and ``freshtoken_alarm_lateness_seconds{provider}`` (how long after its due time a refresh started);
* gauges ``freshtoken_accounts{status}``, ``freshtoken_oldest_overdue_alarm_seconds``,
  ``freshtoken_tokens_due_unrefreshed`` (inside their lead with no success yet), and the runtime's state
  (``freshtoken_runtime_in_flight``...); the runtime's counts are counters (``freshtoken_runtime_*_total``);
* ``freshtoken_webhook_events_total{outcome}`` (delivered, failed, dropped) for the webhook alerters watched.

Every :class:`Metrics` has its own ``CollectorRegistry`` (no global state, so several hosts or tests can live in
one process). Labels are the provider, the status and the failure class, never the account key: cardinality
stays flat with the number of accounts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..events import (
    AccountRecovered,
    ReauthRequiredEvent,
    RefreshFailed,
    RefreshSucceeded,
    RefreshTokenExpiring,
    RotatedTokenNotDurable,
    TokenExpired,
)
from ..hookspecs import hookimpl

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

StatsSource = Callable[[], Mapping[str, Any]]
#: ``runtime.stats()`` entries that count since start: exported as counters (``..._total``).
COUNTS = frozenset({"refreshes_ok", "refreshes_failed", "errors", "alarms_fired", "checkpoints_state",
                    "checkpoints_kv", "checkpoint_errors_state", "checkpoint_errors_kv"})
#: Fleet gauges (see :class:`freshtoken.embedded.fleet_gauges.FleetGauges`) and their help.
FLEET_GAUGES = {
    "oldest_overdue_alarm_seconds": "Seconds the oldest due alarm has waited (0: none due).",
    "tokens_due_unrefreshed": "Accounts inside their refresh lead with no success yet (alarm due, or retrying).",
}


class _StatsCollector(Collector):
    """Exposes ``runtime.stats()``: numbers as gauges, ``accounts`` by status as a labelled gauge."""

    def __init__(self, source: StatsSource) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        try:
            stats = dict(self._source())
        except Exception:
            return
        accounts = stats.get("accounts")
        if isinstance(accounts, Mapping):
            g = GaugeMetricFamily("freshtoken_accounts", "Registered accounts by status.", labels=["status"])
            for status, n in sorted(accounts.items()):
                if isinstance(n, int | float):
                    g.add_metric([str(status)], float(n))
            yield g
        outcomes = stats.get("outcomes")
        if isinstance(outcomes, Mapping):
            c = CounterMetricFamily(
                "freshtoken_runtime_outcomes", "Refresh outcomes since start, by kind.", labels=["kind"]
            )
            for kind, n in sorted(outcomes.items()):
                if isinstance(n, int | float):
                    c.add_metric([str(kind)], float(n))
            yield c
        for name, value in sorted(stats.items()):
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if name in COUNTS:
                yield CounterMetricFamily(f"freshtoken_runtime_{name}", f"runtime.stats()['{name}'], since start.",
                                          value=float(value))
            else:
                yield GaugeMetricFamily(f"freshtoken_runtime_{name}", f"runtime.stats()['{name}']",
                                        value=float(value))
        running = stats.get("running")
        if isinstance(running, bool):
            yield GaugeMetricFamily("freshtoken_runtime_running", "1 while the scheduler runs.", value=float(running))


class _FleetCollector(Collector):
    """The fleet gauges (:data:`FLEET_GAUGES`) from a callable, read at scrape time."""

    def __init__(self, source: StatsSource) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        try:
            values = dict(self._source())
        except Exception:
            return
        for name, help_text in FLEET_GAUGES.items():
            value = values.get(name)
            if isinstance(value, int | float):
                yield GaugeMetricFamily(f"freshtoken_{name}", help_text, value=float(value))


class _WebhookCollector(Collector):
    """Delivered / failed / dropped events of the webhook alerters watched (their own counters)."""

    def __init__(self, alerters: Iterable[Any]) -> None:
        self._alerters = list(alerters)

    def collect(self) -> Iterator[Metric]:
        c = CounterMetricFamily("freshtoken_webhook_events", "Webhook events by delivery outcome "
                                "(dropped: pushed out of a full queue).", labels=["outcome"])
        for outcome in ("delivered", "failed", "dropped"):
            c.add_metric([outcome], float(sum(getattr(a, outcome, 0) for a in self._alerters)))
        yield c
        yield GaugeMetricFamily("freshtoken_webhook_queue", "Webhook events waiting for delivery.",
                                value=float(sum(getattr(a, "pending", 0) for a in self._alerters)))


class Metrics:
    """A pluggy plugin (register it with ``plugins.register(metrics)``) and a Prometheus registry."""

    def __init__(self, stats: StatsSource | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)  # never scrape at registration
        self.refreshes = Counter(
            "freshtoken_refreshes", "Refreshes by outcome (refreshed, a failure class, reauth_required).",
            ["provider", "outcome"], registry=self.registry,
        )
        self.recoveries = Counter(
            "freshtoken_recoveries", "Accounts healthy again after failures (via refresh or re-authorisation).",
            ["provider", "via"], registry=self.registry,
        )
        self.lateness = Histogram(
            "freshtoken_alarm_lateness_seconds", "How long after its due time a refresh started.", ["provider"],
            buckets=(0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0), registry=self.registry,
        )
        self.rotations = Counter(
            "freshtoken_refresh_token_rotations", "Refreshes that rotated the refresh token.", ["provider"],
            registry=self.registry,
        )
        self.failures = Counter(
            "freshtoken_refresh_failures", "Failed refreshes by failure class.", ["provider", "kind"],
            registry=self.registry,
        )
        self.alerts = Counter(
            "freshtoken_alerts", "Alerts raised, by event.", ["provider", "event"], registry=self.registry
        )
        self.duration = Histogram(
            "freshtoken_refresh_duration_seconds", "Time spent refreshing at the provider.", ["provider"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0), registry=self.registry,
        )
        self._stats_collector: _StatsCollector | None = None
        self._fleet_collector: _FleetCollector | None = None
        self._webhook_collector: _WebhookCollector | None = None
        if stats is not None:
            self.bind(stats)

    def bind(self, stats: StatsSource, fleet: StatsSource | None = None) -> None:
        """Expose ``stats()`` (normally ``runtime.stats``) and ``fleet()`` (the fleet gauges) at every scrape."""
        if self._stats_collector is not None:
            self.registry.unregister(self._stats_collector)
        self._stats_collector = _StatsCollector(stats)
        self.registry.register(self._stats_collector)
        if fleet is not None:
            if self._fleet_collector is not None:
                self.registry.unregister(self._fleet_collector)
            self._fleet_collector = _FleetCollector(fleet)
            self.registry.register(self._fleet_collector)

    def watch_webhooks(self, alerters: Iterable[Any]) -> None:
        """Export the delivery counters of these webhook alerters."""
        if self._webhook_collector is not None:
            self.registry.unregister(self._webhook_collector)
        self._webhook_collector = _WebhookCollector(alerters)
        self.registry.register(self._webhook_collector)

    def render(self) -> bytes:
        """The exposition text (content type :data:`CONTENT_TYPE_LATEST`)."""
        return generate_latest(self.registry)

    # -- event hooks -------------------------------------------------------------------------------
    @hookimpl
    def freshtoken_refresh_succeeded(self, event: RefreshSucceeded) -> None:
        self.refreshes.labels(event.provider, "refreshed").inc()
        if event.rotated:
            self.rotations.labels(event.provider).inc()
        self._observe(event.provider, event.duration, event.lateness)

    @hookimpl
    def freshtoken_refresh_failed(self, event: RefreshFailed) -> None:
        self.refreshes.labels(event.provider, event.kind).inc()
        self.failures.labels(event.provider, event.kind).inc()
        if event.alert:
            self.alerts.labels(event.provider, "refresh_failed").inc()
        self._observe(event.provider, event.duration, event.lateness)

    @hookimpl
    def freshtoken_reauth_required(self, event: ReauthRequiredEvent) -> None:
        self.refreshes.labels(event.provider, "reauth_required").inc()
        self.alerts.labels(event.provider, "reauth_required").inc()
        self._observe(event.provider, event.duration, None)

    @hookimpl
    def freshtoken_account_recovered(self, event: AccountRecovered) -> None:
        self.recoveries.labels(event.provider, event.via).inc()

    def _observe(self, provider: str, duration: float, lateness: float | None) -> None:
        if duration >= 0:
            self.duration.labels(provider).observe(duration)
        if lateness is not None and lateness >= 0:  # negative: a manual refresh before its time
            self.lateness.labels(provider).observe(lateness)

    @hookimpl
    def freshtoken_token_expired(self, event: TokenExpired) -> None:
        self.alerts.labels(event.provider, "token_expired").inc()

    @hookimpl
    def freshtoken_refresh_token_expiring(self, event: RefreshTokenExpiring) -> None:
        self.alerts.labels(event.provider, "refresh_token_expiring").inc()

    @hookimpl
    def freshtoken_rotated_token_not_durable(self, event: RotatedTokenNotDurable) -> None:
        self.alerts.labels(event.provider, "rotated_token_not_durable").inc()
