"""The provider latency estimate: an exponentially weighted moving average of observed exchange durations.

Every token exchange (success or failure: the slot was held either way) is one observation. Before the first
one the estimate is ``initial`` (default 0.5 s, a deliberately slow guess so that an onboarding herd at start-up
is spread wide rather than packed). Pure: the caller measures the durations on its own clock.
"""

from __future__ import annotations

import math


class LatencyEstimate:
    """EWMA of exchange durations in seconds (see the module docstring)."""

    def __init__(self, initial: float = 0.5, *, alpha: float = 0.05, floor: float = 0.001) -> None:
        if not (math.isfinite(initial) and initial > 0):
            raise ValueError(f"initial latency must be a positive number of seconds, not {initial!r}")
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], not {alpha!r}")
        self.value = float(initial)
        self.alpha = float(alpha)
        self.floor = float(floor)
        self.observations = 0

    def observe(self, seconds: float) -> None:
        if not math.isfinite(seconds) or seconds < 0:
            return
        seconds = max(self.floor, seconds)
        # the first observations count more, so that the initial guess is forgotten quickly
        a = max(self.alpha, 1.0 / (self.observations + 1))
        self.value += a * (seconds - self.value)
        self.observations += 1
