"""``freshtoken providers``: installed provider plugins, with distribution and version, the strategies each
supports and those registered, and broken plugins."""

from __future__ import annotations

import click

from ._common import json_option, print_json, table


@click.command("providers")
@json_option
def providers(as_json: bool) -> None:
    """List installed provider plugins (and plugins that failed to load)."""
    from ..plugins import Plugins

    pm = Plugins()
    infos = pm.providers()
    rows = [
        {
            "name": info.name,
            "plugin": info.plugin,
            "distribution": info.distribution,
            "version": info.version,
            "class": f"{info.provider.__module__}.{info.provider.__qualname__}",
            "strategies": list(info.provider.strategies),
        }
        for info in sorted(infos.values(), key=lambda i: i.name)
    ]
    broken = [{"plugin": b.name, "distribution": b.distribution, "error": b.error} for b in pm.broken]
    strategies = sorted(pm.strategies())
    if as_json:
        print_json({"providers": rows, "broken": broken, "strategies": strategies})
        return
    if rows:
        click.echo(table([[r["name"], r["distribution"] or "-", r["version"] or "-", r["plugin"]] for r in rows],
                         ["PROVIDER", "DISTRIBUTION", "VERSION", "PLUGIN"]))
    else:
        click.echo("no provider plugins installed")
    click.echo("")
    click.echo(f"strategies: {', '.join(strategies)} (a provider's own: --json)")
    if broken:
        click.echo("")
        click.echo("broken plugins:")
        for b in broken:
            click.echo(f"  {b['plugin']} ({b['distribution'] or 'unknown distribution'}): {b['error']}")
