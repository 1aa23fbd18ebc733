"""``freshtoken simulate``: how a fleet copes — the real refresher and scheduler in virtual time
(:mod:`freshtoken.simulate`, docs/capacity.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._common import json_option

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _seconds(value: str, name: str) -> float:
    text = value.strip().lower()
    scale = _UNITS.get(text[-1:], None)
    number = text[:-1] if scale is not None else text
    try:
        seconds = float(number) * (scale or 1.0)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a duration (e.g. 3600, 90s, 10m, 1h, 1d)",
                                 param_hint=name) from None
    if seconds < 0:
        raise click.BadParameter(f"{value!r} is negative", param_hint=name)
    return seconds


def _outage(value: str) -> tuple[float, float]:
    start, sep, end = value.partition("-")
    if not sep:
        raise click.BadParameter(f"{value!r}: give START-END (e.g. 1h-1h30m)", param_hint="--outage")
    return _seconds(start, "--outage"), _seconds(end, "--outage")


@click.command("simulate")
@click.option("--accounts", type=click.IntRange(min=0), default=20_000, show_default=True,
              help="Accounts of the provider.")
@click.option("--lifetime", default="1h", show_default=True, help="Access-token lifetime (e.g. 3600, 1h).")
@click.option("--latency", type=click.FloatRange(min=0), default=0.2, show_default=True,
              help="Provider latency per exchange, seconds.")
@click.option("--jitter", type=click.FloatRange(min=0, max=0.99), default=0.2, show_default=True,
              help="Latency jitter: each exchange takes latency × (1 ± jitter).")
@click.option("--failure-rate", type=click.FloatRange(min=0, max=1), default=0.0, show_default=True,
              help="Share of exchanges answered 503.")
@click.option("--outage", "outages", multiple=True, help="A window START-END answered 503 (e.g. 2h-2h20m). "
              "Repeatable.")
@click.option("--invalid-grant-rate", type=click.FloatRange(min=0, max=1), default=0.0, show_default=True,
              help="Share of exchanges answered invalid_grant (re-authorisation needed).")
@click.option("--provider-rate-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Requests per second the provider accepts (more: 429 Retry-After 1).")
@click.option("--rate-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              help="The client's rate_limit given to the scheduler ([clients.X] rate_limit).")
@click.option("--concurrency", type=click.IntRange(min=1), default=32, show_default=True, help="Slots per host.")
@click.option("--hosts", type=click.IntRange(min=1), default=1, show_default=True, help="Hosts sharing the accounts.")
@click.option("--duration", default="1d", show_default=True, help="Virtual time to simulate (e.g. 1d, 3h).")
@click.option("--onboarding", default="0", show_default=True,
              help="Onboard every account at once (0) or evenly over this long.")
@click.option("--no-access-token", is_flag=True,
              help="Onboard with a refresh token only (the first refresh is due at once).")
@click.option("--planner", type=click.Choice(["capacity", "deadline"]), default="capacity", show_default=True,
              help="capacity: the capacity-aware scheduler; deadline: every alarm at expiry - lead (before it).")
@click.option("--lead", default=None, help="Refresh lead (default: the provider's, 10m).")
@click.option("--kv-margin", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Seconds a token must be in KV before the old one expires (60 for Workers KV).")
@click.option("--cpu-per-refresh", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Host CPU per refresh, seconds (0: not modelled); a host then does at most 1/this per second.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--cohort", type=click.IntRange(min=1), default=1, show_default=True,
              help="Cohort mode, an approximation for large fleets: each simulated account stands for this many "
              "identical accounts (one real refresher per cohort; the report says COHORTS). 1: every account.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes to split the hosts over (at most one per host): the same report, sooner on several "
              "cores. Not with a --provider-rate-limit (every host's requests count against it).")
@click.option("--scenario", "scenario_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="A JSON scenario (several providers): overrides the provider options above.")
@json_option
def simulate(accounts: int, lifetime: str, latency: float, jitter: float, failure_rate: float,
             outages: tuple[str, ...], invalid_grant_rate: float, provider_rate_limit: float | None,
             rate_limit: float | None, concurrency: int, hosts: int, duration: str, onboarding: str,
             no_access_token: bool, planner: str, lead: str | None, kv_margin: float, cpu_per_refresh: float,
             seed: int, cohort: int, workers: int,
             scenario_file: Path | None, as_json: bool) -> None:
    """Simulate a fleet in virtual time with the real refresher and scheduler: peak demand, lateness, tokens
    that would lapse, re-authorisation exposure, backlog alerts."""
    from ..simulate import ProviderProfile, Scenario, Simulation, table
    from ..simulate.engine import SimulationError

    try:
        profiles = [ProviderProfile(
            name="acme", accounts=accounts, lifetime=_seconds(lifetime, "--lifetime"), latency=latency,
            jitter=jitter, failure_rate=failure_rate, outages=[_outage(o) for o in outages],
            invalid_grant_rate=invalid_grant_rate, rate_limit=provider_rate_limit, client_rate_limit=rate_limit,
        )]
        scenario = Scenario(
            providers=profiles, concurrency=concurrency, hosts=hosts, duration=_seconds(duration, "--duration"),
            onboarding=_seconds(onboarding, "--onboarding"), with_access_token=not no_access_token,
            planner=planner == "capacity", kv_margin=kv_margin,
            lead=None if lead is None else _seconds(lead, "--lead"), seed=seed, cpu_per_refresh=cpu_per_refresh,
            cohort=cohort, workers=workers,
        )
        if scenario_file is not None:  # its fields over the options'
            try:
                text = scenario_file.read_text()
            except OSError as exc:
                raise ValueError(f"--scenario {scenario_file}: not readable ({exc.__class__.__name__})") from None
            try:
                scenario = Scenario.from_json(text, base=scenario)
            except ValueError as exc:
                raise ValueError(f"--scenario {scenario_file}: {exc}") from None
        result = Simulation(scenario).run()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except SimulationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(result, indent=2) if as_json else table(result))
