"""The backlog early warning: how long the due alarms take to drain, against the time their tokens have left.

A runtime with ``due`` alarms at or past their time, ``concurrency`` slots and a provider latency of ``latency``
seconds drains them in about ``due × latency / concurrency`` seconds. An alarm fires ``lead`` seconds before its
token expires, so a drain time that approaches ``lead`` means tokens are about to be served expired — while
none has yet. :class:`BacklogMonitor` turns readings into that ratio and says when to alert: once when it
reaches ``threshold`` (default one half of the lead), and again only after it fell below half the threshold
(hysteresis, so a backlog hovering at the line does not page every second). Pure: the caller gives the numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Alert when the projected drain time reaches this fraction of the lead.
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class BacklogReading:
    """One reading: the due backlog, its projected drain time and its ratio to the lead."""

    at: float
    due: int
    latency: float
    concurrency: int
    lead: float
    drain_seconds: float
    ratio: float
    #: True when this reading crossed the threshold (raise the alert now).
    alert: bool


class BacklogMonitor:
    """Readings with hysteresis (see the module docstring)."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        if not (math.isfinite(threshold) and threshold > 0):
            raise ValueError(f"backlog threshold must be a positive fraction of the lead, not {threshold!r}")
        self.threshold = float(threshold)
        self.alerting = False
        self.last: BacklogReading | None = None
        self.alerts = 0

    def read(self, *, at: float, due: int, latency: float, concurrency: int, lead: float) -> BacklogReading:
        drain = max(0, due) * max(0.0, latency) / max(1, concurrency)
        ratio = drain / lead if lead > 0 else (math.inf if drain > 0 else 0.0)
        alert = False
        if ratio >= self.threshold and not self.alerting:
            self.alerting, alert = True, True
            self.alerts += 1
        elif self.alerting and ratio < self.threshold / 2:
            self.alerting = False
        self.last = BacklogReading(at, due, latency, concurrency, lead, drain, ratio, alert)
        return self.last
