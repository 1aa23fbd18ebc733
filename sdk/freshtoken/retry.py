"""Retry policy: exponential backoff with full jitter, a cap, ``Retry-After`` honoured, an alert threshold."""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict, Field


class RetryPolicy(BaseModel):
    """When to try a failed refresh again.

    Attempt ``n`` (1-based) waits a uniformly random time in ``[min_delay, min(cap, base * 2**(n-1))]``
    ("full jitter", so that thousands of accounts failing together do not retry together). A server's
    ``Retry-After`` is a floor, itself capped at ``max_retry_after``. After ``alert_after`` consecutive
    failures the refresher raises the repeated-failure alert.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: float = Field(default=5.0, gt=0, description="First backoff ceiling, seconds.")
    cap: float = Field(default=300.0, gt=0, description="Largest backoff ceiling, seconds.")
    min_delay: float = Field(default=1.0, ge=0, description="Smallest wait, seconds.")
    max_retry_after: float = Field(default=3600.0, gt=0, description="Largest Retry-After obeyed, seconds.")
    alert_after: int = Field(default=3, ge=1, description="Consecutive failures that raise an alert.")
    misconfigured_delay: float = Field(
        default=900.0, gt=0, description="Wait after invalid_client and the like, so a fixed config heals."
    )
    client_error_retries: int = Field(
        default=3, ge=0,
        description="A 4xx without an error code is retried this many times in a row; the next one makes the "
        "account misconfigured (alerted, then retried after misconfigured_delay).",
    )

    def ceiling(self, attempt: int) -> float:
        exp = min(max(attempt, 1) - 1, 62)
        return max(self.min_delay, min(self.cap, self.base * (2.0**exp)))

    def delay(self, attempt: int, *, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1``, after ``attempt`` consecutive failures."""
        r = rng or random
        wait = r.uniform(self.min_delay, self.ceiling(attempt))
        if retry_after is not None and retry_after > 0:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait
