"""``--log-format text|json``: the option of the ``freshtoken`` group (every command) and of ``serve``.

On the group it configures logging at once (WARNING and above, so that a command's own warnings are JSON lines
for a pipeline) and remembers the choice in ``ctx.meta`` for ``serve``, which configures its own level.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

META_KEY = "freshtoken.log_format"
CHOICE = click.Choice(["text", "json"])


def chosen_format(ctx: click.Context) -> str | None:
    """The ``--log-format`` given to the group (or its environment variable), if any."""
    value = ctx.meta.get(META_KEY)
    return value if isinstance(value, str) else None


def _remember(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        ctx.meta[META_KEY] = value
        if value == "json":
            from ..observability.logs import configure_logging

            configure_logging("WARNING", "json")
    return value


def log_format_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The group's ``--log-format`` (``FRESHTOKEN_LOG_FORMAT``), handled by a callback: no parameter added."""
    return click.option(
        "--log-format", type=CHOICE, default=None, envvar="FRESHTOKEN_LOG_FORMAT", expose_value=False,
        callback=_remember, is_eager=True,
        help="Log lines as text or one JSON object per line (default: [logging] format, text).",
    )(fn)
