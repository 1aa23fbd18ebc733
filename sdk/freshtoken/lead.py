"""When to refresh: ``lead`` seconds before expiry, earlier for short-lived tokens, never too late for KV."""

from __future__ import annotations

#: Default refresh lead: ten minutes before the access token expires.
DEFAULT_LEAD = 600.0
#: Workers KV takes up to ~60 s to show a write everywhere: a new token must land at least this early.
KV_PROPAGATION_MARGIN = 60.0
#: A token living less than ``SHORT_FACTOR * lead`` refreshes at ``SHORT_FRACTION`` of its lifetime.
SHORT_FACTOR = 2.0
SHORT_FRACTION = 0.5


def refresh_at(issued_at: float, expires_at: float, lead: float = DEFAULT_LEAD) -> float:
    """The moment to refresh a token issued at ``issued_at`` that expires at ``expires_at``.

    * lifetime ≥ 2 × lead: ``expires_at - lead``;
    * shorter tokens: half-way through their lifetime;
    * never later than ``expires_at - 60 s`` (KV propagation), never before ``issued_at``.
    """
    lifetime = max(0.0, expires_at - issued_at)
    if lifetime >= SHORT_FACTOR * lead:
        at = expires_at - lead
    else:
        at = issued_at + lifetime * SHORT_FRACTION
    at = min(at, expires_at - KV_PROPAGATION_MARGIN)
    return max(at, issued_at)
