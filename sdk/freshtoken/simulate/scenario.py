"""What to simulate: providers (their accounts and behaviour) and the fleet (hosts, concurrency, scheduler)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

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
    #: Cohort mode (an approximation; 1: off, every account simulated). Each simulated account stands for this many
    #: identical accounts (same provider, onboarded at the same instant): one real refresher runs per cohort, the
    #: planner books it as that many alarms in one second, it holds that many slots, and the provider counts it as
    #: that many requests. Counts in the report are accounts; percentiles are over cohorts. At most
    #: ``concurrency``; no host-CPU model with it.
    cohort: int = 1
    #: Processes to split the hosts over (at most one per host; 1: this process). Hosts share nothing but a
    #: provider's ``rate_limit``, so the report is the same for any number of workers (only the wall time
    #: changes); a scenario with a provider ``rate_limit`` runs in one process.
    workers: int = 1

    #: Read from JSON (:meth:`from_json`): the types as annotated, no coercion, finite numbers only.
    __pydantic_config__ = ConfigDict(strict=True, allow_inf_nan=False, extra="forbid")

    @classmethod
    def from_json(cls, text: str | bytes, *, base: Scenario | None = None) -> Scenario:
        """The scenario a JSON object describes (a ``freshtoken simulate --scenario`` file); the fields it does not
        give are ``base``'s (default: the defaults). pydantic checks every field against its annotation, strictly
        (``"2"`` is no integer, ``Infinity`` no duration); a :class:`ValueError` names each field that is wrong."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not readable JSON ({exc.__class__.__name__})") from None
        if not isinstance(data, dict):
            raise ValueError("the top level must be an object")
        merged: dict[str, Any] = dataclasses.asdict(base or cls())
        merged.update(data)
        try:  # through JSON again: JSON's arrays are the tuples and objects the profiles (strict Python refuses them)
            scenario = _ADAPTER.validate_json(json.dumps(merged))
        except ValidationError as exc:
            raise ValueError("; ".join(_problem(e) for e in exc.errors())) from None
        scenario.check()
        return scenario

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
        if not 1 <= self.cohort <= max(1, self.concurrency):
            problems.append(f"cohort must be between 1 and concurrency ({self.concurrency}): a cohort holds that "
                            "many slots at once")
        if self.cohort > 1 and self.cpu_per_refresh:
            problems.append("cohort mode does not model host CPU (cpu_per_refresh must be 0)")
        for p in self.providers if self.cohort > 1 else []:
            for what, rate in (("rate_limit", p.rate_limit), ("client_rate_limit / hosts",
                               None if p.client_rate_limit is None else p.client_rate_limit / max(1, self.hosts))):
                if rate is not None and rate < self.cohort:
                    problems.append(f"provider {p.name!r}: {what} ({rate:g}/s) is below the cohort ({self.cohort}): a "
                                    "cohort's requests would never fit in one second")
        if self.workers < 1:
            problems.append("workers must be at least 1")
        limited = [p.name for p in self.providers if p.rate_limit is not None]
        if self.workers > 1 and self.hosts > 1 and limited:
            problems.append(f"workers must be 1 with a provider rate_limit ({', '.join(limited)}): every host's "
                            "requests count against it, so the hosts cannot be simulated apart")
        names = [p.name for p in self.providers]
        if len(set(names)) != len(names):
            problems.append(f"provider names must differ ({', '.join(names)})")
        if problems:
            raise ValueError("scenario: " + "; ".join(problems))
        for p in self.providers:
            p.check()


_ADAPTER = TypeAdapter(Scenario)


def _problem(error: Any) -> str:
    """One field's problem, by its path (``providers.0.accounts``), without the value given."""
    where = ".".join(str(part) for part in error["loc"]) or "scenario"
    what = "unknown field" if error["type"] == "unexpected_keyword_argument" else error["msg"]
    return f"{where}: {what}"
