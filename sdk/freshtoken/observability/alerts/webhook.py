"""A generic webhook alerter: signed JSON events POSTed to any HTTP endpoint, with retries and a bounded queue.

Body (``Content-Type: application/json``, ASCII)::

    {"id": "evt_…", "type": "refresh_failed", "created": 1764606000, "created_at": "2026-12-01T16:20:00.000Z",
     "data": {"key": "acme:google:42", "provider": "google", "kind": "server_error", "error": "…", …}}

Headers: ``Freshtoken-Event`` (the type), ``Freshtoken-Delivery`` (the ``id``: the same on every retry of one
event, so a receiver can drop duplicates) and ``Freshtoken-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is
``HMAC-SHA256(secret, f"{t}.{raw body}")``, as Stripe does: a receiver recomputes it over the raw bytes it got,
compares in constant time, and refuses a ``t`` older than its tolerance (replays). ``t`` is the time of each
attempt. :func:`sign` and :func:`verify` are the two halves.

Types: the alert events (``refresh_failed`` when it alerts, ``reauth_required``, ``token_expired``,
``refresh_token_expiring``, ``rotated_token_not_durable``, the fleet-wide ``backlog_rising`` with key ``"*"``) and
``recovered`` when an account whose failure was alerted (or a dead grant) is healthy again.

Delivery never blocks a refresh: the event hooks only enqueue; one background task per webhook posts in order.
A 2xx is delivered; a network error, a timeout, 408, 425, 429 and 5xx are retried with exponential backoff and
full jitter (``Retry-After`` honoured up to the cap) up to ``max_attempts``; any other answer is given up at once.
The queue holds at most ``queue_size`` events: past it the oldest is dropped and counted (``dropped``).

Text fields are redacted (every configured secret, in any encoding; unprintable characters neutralised) and capped,
like the Slack alerter's; events carry no secret in the first place. The URL is a secret (it often holds a token):
it is never logged, and it goes through the endpoint policy (no private network unless allowed) before the first
post and again at every connection (the guarded transport).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from pydantic import SecretStr

from ...egress.endpoint_policy import DEFAULT_POLICY, EndpointPolicy
from ...egress.guarded_transport import GuardedTransport
from ...events import (
    AccountRecovered,
    BacklogRising,
    Event,
    ReauthRequiredEvent,
    RefreshFailed,
    RefreshTokenExpiring,
    RotatedTokenNotDurable,
    TokenExpired,
)
from ...hookspecs import hookimpl
from ...redaction import redact
from ..logs import rfc3339

__all__ = ["SIGNATURE_HEADER", "WEBHOOK_EVENTS", "WebhookAlerter", "sign", "verify"]

log = logging.getLogger("freshtoken.observability.alerts.webhook")

SIGNATURE_HEADER = "Freshtoken-Signature"
EVENT_HEADER = "Freshtoken-Event"
DELIVERY_HEADER = "Freshtoken-Delivery"
WEBHOOK_EVENTS = ("refresh_failed", "reauth_required", "token_expired", "refresh_token_expiring",
                  "rotated_token_not_durable", "backlog_rising", "recovered")
#: Longest text field sent (the provider's error text).
MAX_TEXT = 2000
_RETRY_STATUS = frozenset({408, 425, 429})


def sign(secret: str | bytes, body: bytes, timestamp: int) -> str:
    """The ``Freshtoken-Signature`` value of ``body`` at ``timestamp``: ``t=<timestamp>,v1=<hex HMAC-SHA256>``."""
    key = secret.encode() if isinstance(secret, str) else secret
    mac = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(
    secret: str | bytes, body: bytes, header: str, *, tolerance: float = 300.0, now: float | None = None
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds of ``now`` (receiver side)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        t = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = sign(secret, body, t).split(",v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


@dataclasses.dataclass
class _Item:
    id: str
    type: str
    body: bytes


class WebhookAlerter:
    """Posts signed events to one webhook URL. Register it as a plugin; close it with :meth:`aclose`."""

    def __init__(
        self,
        url: str | SecretStr,
        secret: str | SecretStr,
        *,
        on: Iterable[str] = WEBHOOK_EVENTS,
        timeout: float = 5.0,
        max_attempts: int = 5,
        queue_size: int = 1000,
        secrets: Iterable[str] = (),
        policy: EndpointPolicy = DEFAULT_POLICY,
        client: httpx.AsyncClient | None = None,
        base_delay: float = 0.5,
        max_delay: float = 60.0,
        sleep: Callable[[float], Any] = asyncio.sleep,
        rng: random.Random | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = url if isinstance(url, SecretStr) else SecretStr(url)
        self._secret = secret if isinstance(secret, SecretStr) else SecretStr(secret)
        if not self._secret.get_secret_value():
            raise ValueError("webhook secret must not be empty")
        self.on = frozenset(on)
        self.timeout = float(timeout)
        self.max_attempts = max(1, int(max_attempts))
        self.queue_size = max(1, int(queue_size))
        self.base_delay = float(base_delay)
        self.max_delay = float(max_delay)
        self.policy = policy
        policy.check(self._url.get_secret_value(), "webhook URL")  # UnsafeEndpoint names scheme and host only
        self._own = client is None
        self._client = client
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._wall = wall_clock
        self._scrub = [s for s in secrets if s] + [self._url.get_secret_value(), self._secret.get_secret_value()]
        self._queue: collections.deque[_Item] = collections.deque()
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        #: counters (also exported as metrics by whoever wants them)
        self.enqueued = 0
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self.attempts = 0

    def __repr__(self) -> str:
        return f"WebhookAlerter(on={sorted(self.on)!r}, queue_size={self.queue_size})"

    # -- the payload -------------------------------------------------------------------------------
    def _clean(self, value: str) -> str:
        return redact(value, self._scrub, limit=MAX_TEXT, mask_tokens=False)

    def payload(self, kind: str, event: Event) -> dict[str, Any]:
        """The JSON object sent for ``event`` (its text fields redacted and capped)."""
        data = {
            f.name: self._clean(v) if isinstance(v := getattr(event, f.name), str) else v
            for f in dataclasses.fields(event)
        }
        return {"id": f"evt_{uuid.uuid4().hex}", "type": kind, "created": int(event.at),
                "created_at": rfc3339(event.at), "data": data}

    # -- the queue ---------------------------------------------------------------------------------
    def enqueue(self, kind: str, event: Event) -> None:
        """Queue ``event`` for delivery (never blocks; drops the oldest past ``queue_size``)."""
        if self._closed or kind not in self.on:
            return
        body = self.payload(kind, event)
        item = _Item(body["id"], kind, json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode())
        if len(self._queue) >= self.queue_size:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning("webhook queue full (%d): dropped the oldest event (%d dropped so far)", self.queue_size,
                            self.dropped)
        self._queue.append(item)
        self.enqueued += 1
        self._idle.clear()
        self._ready.set()
        self._ensure_worker()

    def _ensure_worker(self) -> None:
        if self._worker is None or self._worker.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop yet: the next enqueue in a loop starts it
            self._worker = loop.create_task(self._run(), name="freshtoken-webhook")

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def flush(self) -> None:
        """Wait until every queued event is delivered or given up."""
        self._ensure_worker()
        await self._idle.wait()

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._idle.set()
                self._ready.clear()
                await self._ready.wait()
                continue
            item = self._queue.popleft()
            try:
                await self._deliver(item)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let the worker die
                self.failed += 1
                log.error("webhook delivery of %s failed: %s", item.type, exc.__class__.__name__)

    # -- delivery ----------------------------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(transport=GuardedTransport(self.policy), trust_env=False,
                                             follow_redirects=False)
        return self._client

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        delay = self._rng.uniform(0.0, ceiling)  # full jitter
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_delay))
        return delay

    async def _deliver(self, item: _Item) -> bool:
        for attempt in range(1, self.max_attempts + 1):
            self.attempts += 1
            headers = {
                "Content-Type": "application/json",
                EVENT_HEADER: item.type,
                DELIVERY_HEADER: item.id,
                SIGNATURE_HEADER: sign(self._secret.get_secret_value(), item.body, int(self._wall())),
                "User-Agent": "freshtoken-webhook",
            }
            retry_after: float | None = None
            try:
                resp = await self._http().post(self._url.get_secret_value(), content=item.body, headers=headers,
                                               timeout=httpx.Timeout(self.timeout))
            except httpx.HTTPError as exc:
                reason = exc.__class__.__name__
            else:
                if 200 <= resp.status_code < 300:
                    self.delivered += 1
                    return True
                reason = f"HTTP {resp.status_code}"
                if resp.status_code not in _RETRY_STATUS and resp.status_code < 500:
                    self.failed += 1
                    log.warning("webhook refused %s event %s (%s): not retried", item.type, item.id, reason)
                    return False
                with contextlib.suppress(ValueError):
                    retry_after = float(resp.headers.get("retry-after", ""))
            if attempt == self.max_attempts:
                break
            delay = self._backoff(attempt, retry_after)
            log.info("webhook %s event %s: attempt %d failed (%s); retrying in %.1fs", item.type, item.id, attempt,
                     reason, delay)
            await self._sleep(delay)
        self.failed += 1
        log.warning("webhook %s event %s given up after %d attempt(s)", item.type, item.id, self.max_attempts)
        return False

    async def aclose(self, *, drain: float = 5.0) -> None:
        """Stop taking events; give what waits (and the delivery in flight) up to ``drain`` seconds, then cancel
        the worker (what is left is logged as lost) and close the client."""
        self._closed = True
        if drain > 0 and self._worker is not None and not self._idle.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._idle.wait(), drain)
        if self._queue:
            log.warning("webhook: %d event(s) not delivered at shutdown", len(self._queue))
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker
            self._worker = None
        if self._own and self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- event hooks (enqueue only: a slow receiver never delays a refresh) ----------------------------
    @hookimpl
    def freshtoken_refresh_failed(self, event: RefreshFailed) -> None:
        if event.alert:
            self.enqueue("refresh_failed", event)

    @hookimpl
    def freshtoken_reauth_required(self, event: ReauthRequiredEvent) -> None:
        self.enqueue("reauth_required", event)

    @hookimpl
    def freshtoken_token_expired(self, event: TokenExpired) -> None:
        self.enqueue("token_expired", event)

    @hookimpl
    def freshtoken_refresh_token_expiring(self, event: RefreshTokenExpiring) -> None:
        self.enqueue("refresh_token_expiring", event)

    @hookimpl
    def freshtoken_rotated_token_not_durable(self, event: RotatedTokenNotDurable) -> None:
        self.enqueue("rotated_token_not_durable", event)

    @hookimpl
    def freshtoken_backlog_rising(self, event: BacklogRising) -> None:
        self.enqueue("backlog_rising", event)

    @hookimpl
    def freshtoken_account_recovered(self, event: AccountRecovered) -> None:
        if event.alerted:  # the end of something that was alerted: pair it
            self.enqueue("recovered", event)
