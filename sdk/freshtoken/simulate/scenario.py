"""What to simulate: providers (their accounts and behaviour) and the fleet (hosts, concurrency, scheduler)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .provider import ProviderProfile


@dataclass
class Scenario:
    """A fleet and its providers. Times in seconds of virtual time."""

    providers: list[ProviderProfile] = field(default_factory=lambda: [ProviderProfile()])
    #: Refreshes in flight at once, per host.
    concurrency: int = 32
    #: Hosts sharing the accounts (each account belongs to one; each host has its own slots and planner, and
    #: ``client_rate_limit / hosts`` of each client's rate).
    hosts: int = 1
    duration: float = 86_400.0
    #: Onboarding: all accounts at the start (0) or evenly over this many seconds.
    onboarding: float = 0.0
    #: Onboard with an access token issued at onboarding (a bulk import) rather than only a refresh token (then
    #: the first refresh is due at once).
    with_access_token: bool = True
    #: The capacity planner (True) or every alarm at its deadline (False: the behaviour before issue 17).
    planner: bool = True
    #: Seconds a new token must be in KV before the old one expires (0 for SQLite, memory and Redis).
    kv_margin: float = 0.0
    #: Refresh lead of every provider (None: the provider's default, 600 s).
    lead: float | None = None
    #: Host CPU per refresh, seconds (0: not modelled). Each host runs one event loop: its refreshes take their
    #: turn on it, so a host does at most ``1 / cpu_per_refresh`` refreshes a second whatever its concurrency, and
    #: the wait shows in the exchange durations the planner measures (as event-loop lag does in a real host).
    cpu_per_refresh: float = 0.0
    #: The backlog alert fires at this fraction of the lead.
    backlog_threshold: float = 0.5
    seed: int = 1

    def check(self) -> None:
        problems = []
        if not self.providers:
            problems.append("at least one provider is needed")
        if self.concurrency < 1 or self.hosts < 1:
            problems.append("concurrency and hosts must be at least 1")
        if not self.duration > 0:
            problems.append("duration must be positive")
        if self.onboarding < 0 or self.kv_margin < 0 or self.cpu_per_refresh < 0:
            problems.append("onboarding, kv_margin and cpu_per_refresh must be 0 or more")
        if self.lead is not None and not self.lead > 0:
            problems.append("lead must be positive")
        names = [p.name for p in self.providers]
        if len(set(names)) != len(names):
            problems.append(f"provider names must differ ({', '.join(names)})")
        if problems:
            raise ValueError("scenario: " + "; ".join(problems))
        for p in self.providers:
            p.check()
