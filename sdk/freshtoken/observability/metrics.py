"""Prometheus metrics: counters fed by the event hooks, gauges read from ``runtime.stats()`` at scrape time.

Every :class:`Metrics` has its own ``CollectorRegistry`` (no global state, so several hosts or tests can live in
one process). Labels are the provider and the failure class, never the account key: cardinality stays flat
with the number of accounts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..events import (
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
            g = GaugeMetricFamily(
                "freshtoken_runtime_outcomes", "Refresh outcomes since start, by kind.", labels=["kind"]
            )
            for kind, n in sorted(outcomes.items()):
                if isinstance(n, int | float):
                    g.add_metric([str(kind)], float(n))
            yield g
        for name, value in sorted(stats.items()):
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            yield GaugeMetricFamily(f"freshtoken_runtime_{name}", f"runtime.stats()['{name}']", value=float(value))
        running = stats.get("running")
        if isinstance(running, bool):
            yield GaugeMetricFamily("freshtoken_runtime_running", "1 while the scheduler runs.", value=float(running))


class Metrics:
    """A pluggy plugin (register it with ``plugins.register(metrics)``) and a Prometheus registry."""

    def __init__(self, stats: StatsSource | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)  # never scrape at registration
        self.refreshes = Counter(
            "freshtoken_refreshes", "Successful refreshes.", ["provider"], registry=self.registry
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
        if stats is not None:
            self.bind(stats)

    def bind(self, stats: StatsSource) -> None:
        """Expose ``stats()`` (normally ``runtime.stats``) at every scrape."""
        if self._stats_collector is not None:
            self.registry.unregister(self._stats_collector)
        self._stats_collector = _StatsCollector(stats)
        self.registry.register(self._stats_collector)

    def render(self) -> bytes:
        """The exposition text (content type :data:`CONTENT_TYPE_LATEST`)."""
        return generate_latest(self.registry)

    # -- event hooks -------------------------------------------------------------------------------
    @hookimpl
    def freshtoken_refresh_succeeded(self, event: RefreshSucceeded) -> None:
        self.refreshes.labels(event.provider).inc()
        if event.rotated:
            self.rotations.labels(event.provider).inc()
        if event.duration >= 0:
            self.duration.labels(event.provider).observe(event.duration)

    @hookimpl
    def freshtoken_refresh_failed(self, event: RefreshFailed) -> None:
        self.failures.labels(event.provider, event.kind).inc()
        if event.alert:
            self.alerts.labels(event.provider, "refresh_failed").inc()

    @hookimpl
    def freshtoken_reauth_required(self, event: ReauthRequiredEvent) -> None:
        self.alerts.labels(event.provider, "reauth_required").inc()

    @hookimpl
    def freshtoken_token_expired(self, event: TokenExpired) -> None:
        self.alerts.labels(event.provider, "token_expired").inc()

    @hookimpl
    def freshtoken_refresh_token_expiring(self, event: RefreshTokenExpiring) -> None:
        self.alerts.labels(event.provider, "refresh_token_expiring").inc()

    @hookimpl
    def freshtoken_rotated_token_not_durable(self, event: RotatedTokenNotDurable) -> None:
        self.alerts.labels(event.provider, "rotated_token_not_durable").inc()
