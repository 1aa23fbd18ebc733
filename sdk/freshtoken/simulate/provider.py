"""The simulated token endpoint, reached through the real :class:`~freshtoken.http.TokenHTTP` (its ``post`` seam).

:class:`SimHTTP` keeps everything of ``TokenHTTP.send`` (endpoint policy, client authentication) and replaces the
network: the answer comes after a virtual latency from a :class:`SimProvider`, which rotates refresh tokens (the
old one dies; presenting it again counts as reuse and kills the grant, as real providers do), and follows its
profile: latency and jitter, random 5xx, outages, ``invalid_grant`` for a share of grants, and a provider-side rate
limit answered with 429 and ``Retry-After``.
"""

from __future__ import annotations

import json
import random
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from pydantic import ConfigDict

from ..errors import RetryableError
from ..http import TokenHTTP, TokenResponse
from .clock import SimClock


@dataclass
class ProviderProfile:
    """How one simulated provider behaves (times in seconds, relative to the start of the simulation)."""

    name: str = "acme"
    accounts: int = 1000
    #: Access token lifetime (``expires_in``).
    lifetime: float = 3600.0
    latency: float = 0.2
    #: Uniform jitter: each exchange takes latency × (1 ± jitter).
    jitter: float = 0.2
    #: Share of exchanges answered 503.
    failure_rate: float = 0.0
    #: (start, end) windows in which every exchange is answered 503 after the usual latency.
    outages: list[tuple[float, float]] = field(default_factory=list)
    #: Share of exchanges answered ``invalid_grant`` (the user revoked access): re-authorisation needed.
    invalid_grant_rate: float = 0.0
    #: Requests per second the provider accepts (None: no limit); more are answered 429, Retry-After 1.
    rate_limit: float | None = None
    #: What operators tell the scheduler (``[clients.X] rate_limit``); None: nothing.
    client_rate_limit: float | None = None
    rotate: bool = True

    #: Read from JSON (``Scenario.from_json``): the types as annotated, no coercion, finite numbers only.
    __pydantic_config__ = ConfigDict(strict=True, allow_inf_nan=False, extra="forbid")

    def check(self) -> None:
        problems = []
        if self.accounts < 0:
            problems.append("accounts must be 0 or more")
        if not self.lifetime > 0:
            problems.append("lifetime must be positive")
        if self.latency < 0 or not 0 <= self.jitter < 1:
            problems.append("latency must be >= 0 and jitter in [0, 1)")
        if not 0 <= self.failure_rate <= 1 or not 0 <= self.invalid_grant_rate <= 1:
            problems.append("failure_rate and invalid_grant_rate must be in [0, 1]")
        if self.rate_limit is not None and not self.rate_limit > 0:
            problems.append("rate_limit must be positive")
        if self.client_rate_limit is not None and not self.client_rate_limit > 0:
            problems.append("client_rate_limit must be positive")
        for start, end in self.outages:
            if not end > start:
                problems.append(f"outage ({start}, {end}) must end after it starts")
        if problems:
            raise ValueError(f"provider {self.name!r}: " + "; ".join(problems))


class SimProvider:
    """One simulated token endpoint (see the module docstring)."""

    def __init__(self, profile: ProviderProfile, clock: SimClock, rng: random.Random, start: float) -> None:
        self.profile = profile
        self.clock = clock
        self.rng = rng
        self.start = start
        self._current: dict[int, int] = {}  # account -> the number of its one valid refresh token
        self._dead: set[int] = set()
        self._window: deque[float] = deque()
        #: Cohort mode: account -> how many identical accounts it stands for (absent: 1)
        self.weights: dict[int, int] = {}
        self.requests = 0
        self.refreshes = 0
        self._issued = 0
        self.reuse_detected = 0
        self.rate_limited = 0
        self.failures = 0
        self.per_second: dict[int, int] = {}

    def grant(self, account: int) -> str:
        """The first refresh token of ``account`` (an onboarding)."""
        self._current[account] = 0
        return f"r{account}.0"

    def current(self, account: int) -> str | None:
        n = self._current.get(account)
        return None if n is None or account in self._dead else f"r{account}.{n}"

    def latency(self) -> float:
        p = self.profile
        return p.latency * (1 + p.jitter * (2 * self.rng.random() - 1)) if p.jitter else p.latency

    def answer(self, body: bytes) -> TokenResponse:
        """The endpoint's answer, at the moment the request arrives (after the latency). In cohort mode a request
        counts as many times as its account stands for."""
        now = self.clock.t
        token = dict(parse_qsl(body.decode())).get("refresh_token", "")
        try:
            account_s, n_s = token[1:].split(".")
            account: int | None = int(account_s)
            n = int(n_s)
        except ValueError:
            account, n = None, -1
        weight = self.weights.get(account, 1) if self.weights and account is not None else 1
        self.requests += weight
        second = int(now)
        self.per_second[second] = self.per_second.get(second, 0) + weight
        p = self.profile
        if p.rate_limit is not None:
            w = self._window
            while w and w[0] <= now - 1.0:
                w.popleft()
            if len(w) + weight - 1 >= p.rate_limit:
                self.rate_limited += weight
                return _json(429, {"error": "rate_limited"}, {"retry-after": "1"})
            w.extend([now] * weight)
        rel = now - self.start
        if any(s <= rel < e for s, e in p.outages) or (p.failure_rate and self.rng.random() < p.failure_rate):
            self.failures += weight
            return _json(503, {"error": "temporarily_unavailable"})
        if account is None:
            return _json(400, {"error": "invalid_grant", "error_description": "unknown refresh token"})
        if account in self._dead or self._current.get(account) is None:
            return _json(400, {"error": "invalid_grant", "error_description": "grant revoked"})
        if n != self._current[account]:
            self.reuse_detected += weight  # a rotated token presented again: the grant is revoked (RFC 9700)
            self._dead.add(account)
            return _json(400, {"error": "invalid_grant", "error_description": "refresh token reused"})
        if p.invalid_grant_rate and self.rng.random() < p.invalid_grant_rate:
            self._dead.add(account)
            return _json(400, {"error": "invalid_grant", "error_description": "access revoked by the user"})
        self.refreshes += weight
        self._issued += 1
        answer: dict[str, object] = {
            "access_token": f"a{account}.{self._issued}", "token_type": "Bearer", "expires_in": p.lifetime,
        }
        if p.rotate:
            self._current[account] = n + 1
            answer["refresh_token"] = f"r{account}.{n + 1}"
        return _json(200, answer)


def _json(status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> TokenResponse:
    return TokenResponse(status, {"content-type": "application/json", **(headers or {})}, json.dumps(body).encode())


class SimHTTP(TokenHTTP):
    """The real ``TokenHTTP.send`` over simulated providers (by host name) with virtual latency and deadline."""

    def __init__(self, clock: SimClock, providers: dict[str, SimProvider], *, cpu_per_refresh: float = 0.0) -> None:
        super().__init__()
        self.clock = clock
        self.providers = providers
        #: One host's event loop: each exchange first takes its turn for ``cpu_per_refresh`` seconds.
        self.cpu_per_refresh = cpu_per_refresh
        self._cpu_free_at = 0.0
        self._by_url: dict[str, SimProvider] = {}

    async def post(self, url: str, headers: dict[str, str], body: bytes, *, timeout: float) -> TokenResponse:
        provider = self._by_url.get(url)
        if provider is None:
            provider = self.providers.get(urlsplit(url).hostname or "")
            if provider is not None:
                self._by_url[url] = provider
        if provider is None:
            raise RetryableError(f"no simulated provider answers {url}")
        if self.cpu_per_refresh:
            start = max(self.clock.t, self._cpu_free_at)
            self._cpu_free_at = start + self.cpu_per_refresh
            await self.clock.sleep_until(self._cpu_free_at)
        latency = provider.latency()
        if latency > timeout:  # the deadline passes first: abandoned, as TokenHTTP.post does
            await self.clock.sleep_until(self.clock.t + timeout)
            raise RetryableError(f"token endpoint did not answer within {timeout:g}s")
        await self.clock.sleep_until(self.clock.t + latency)
        return provider.answer(body)
