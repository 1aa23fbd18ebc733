"""``freshtoken config check``: every problem of the configuration in one run (see
:mod:`freshtoken.host.config_check`)."""

from __future__ import annotations

import click

from ._common import EXIT_CONFIG, CliState, json_option, pass_state, print_json


@click.group("config")
def config() -> None:
    """Inspect the configuration."""


@config.command("check")
@json_option
@pass_state
def check(state: CliState, as_json: bool) -> None:
    """Report every problem of the configuration at once: invalid fields (naming the environment variable when
    an override caused it), unset secret variables, unknown providers (with "did you mean"), refused provider
    options and endpoints, encryption keys that are missing or do not open the database. Exit 2 if any."""
    from ..host.config_check import check_config

    report = check_config(state.config)
    if as_json:
        print_json({"source": report.source, "ok": report.ok, "clients": report.clients,
                    "problems": [{"where": p.where, "message": p.message} for p in report.problems]})
    elif report.ok:
        click.echo(f"{report.source}: ok ({report.clients} client(s))")
    else:
        for line in report.lines():
            click.echo(line, err=True)
        click.echo(f"{len(report.problems)} problem(s) found", err=True)
    if not report.ok:
        raise SystemExit(EXIT_CONFIG)
