"""``freshtoken demo``: see :mod:`freshtoken.sandbox.demo`."""

from __future__ import annotations

import click

from ._common import json_option


@click.command("demo")
@click.option("--duration", type=click.FloatRange(min=1), default=None,
              help="Stop after this many seconds and print a summary (default: until Ctrl-C).")
@click.option("--lifetime", type=click.IntRange(min=10), default=40, show_default=True,
              help="Access-token lifetime the sandbox issues, seconds.")
@json_option
def demo(duration: float | None, lifetime: int, as_json: bool) -> None:
    """Run the main job on the embedded default against a local sandbox authorization server: no set-up."""
    from ..sandbox.demo import run_demo

    run_demo(duration=duration, lifetime=lifetime, as_json=as_json)
