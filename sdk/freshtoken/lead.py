"""When to refresh: ``lead`` seconds before expiry, earlier for short-lived tokens, never too late for KV."""

from __future__ import annotations

#: Default refresh lead: ten minutes before the access token expires.
DEFAULT_LEAD = 600.0
#: Workers KV takes up to ~60 s to show a write everywhere: a new token must land at least this early.
KV_PROPAGATION_MARGIN = 60.0
#: A token living less than ``SHORT_FACTOR * lead`` refreshes at ``SHORT_FRACTION`` of its lifetime.
SHORT_FACTOR = 2.0
SHORT_FRACTION = 0.5


def refresh_at(
    issued_at: float,
    expires_at: float,
    lead: float = DEFAULT_LEAD,
    *,
    margin: float = KV_PROPAGATION_MARGIN,
    hint: float | None = None,
) -> float:
    """The moment to refresh a token issued at ``issued_at`` that expires at ``expires_at``.

    * lifetime ≥ 2 × lead: ``expires_at - lead``;
    * shorter tokens: half-way through their lifetime;
    * no later than ``expires_at - margin`` (KV propagation) — unless the token lives so briefly that the
      margin would leave less than half its life: then half-way, since refreshing at issue would loop;
    * a provider's own hint (Microsoft's ``refresh_in``) is taken when it is earlier and after issue.
    """
    lifetime = max(0.0, expires_at - issued_at)
    half_way = issued_at + lifetime * SHORT_FRACTION
    at = expires_at - lead if lifetime >= SHORT_FACTOR * lead else half_way
    at = min(at, max(expires_at - margin, half_way))
    if hint is not None and issued_at < hint < at:
        at = hint
    return max(at, issued_at)
