"""``--log-format text|json``: the option of the ``freshtoken`` group (every command) and of ``serve``.

On the group it configures logging at once (WARNING and above, so that a command's own warnings are JSON lines
for a pipeline) and remembers the choice in ``ctx.meta`` for ``serve``, which configures its own level. Once JSON
is chosen, a command's one-line error is a JSON object too (:func:`error_line`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import click

META_KEY = "freshtoken.log_format"
CHOICE = click.Choice(["text", "json"])
_json_errors = False


def use_json_errors(on: bool = True) -> None:
    """From now on, :func:`error_line` writes JSON (``--log-format json`` or ``[logging] format = "json"``)."""
    global _json_errors
    _json_errors = on


def error_line(message: str) -> str:
    """``message`` as the command's error line: itself, or a JSON object in the log format's shape."""
    if not _json_errors:
        return message
    from ..observability.logs import rfc3339

    return json.dumps({"ts": rfc3339(time.time()), "level": "ERROR", "logger": "freshtoken.cli", "message": message},
                      ensure_ascii=False)


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
            use_json_errors()
    return value


def log_format_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The group's ``--log-format`` (``FRESHTOKEN_LOG_FORMAT``), handled by a callback: no parameter added."""
    return click.option(
        "--log-format", type=CHOICE, default=None, envvar="FRESHTOKEN_LOG_FORMAT", expose_value=False,
        callback=_remember, is_eager=True,
        help="Log lines as text or one JSON object per line (default: [logging] format, text).",
    )(fn)
