"""What every command shares: the group class (errors become one line and an exit code), loading the
configuration, building the host, running a coroutine, and printing human or JSON output."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import ConfigError, FreshtokenError, InvalidAccountKey, NotRegistered

if TYPE_CHECKING:
    from ..host.config import Settings
    from ..host.factory import Host

T = TypeVar("T")

#: Exit codes: 1 the operation failed, 2 usage or configuration error (click's own usage errors are 2 too).
EXIT_FAILED = 1
EXIT_CONFIG = 2


class CommandError(click.ClickException):
    """A user-facing failure: one line on stderr, a non-zero exit code, no traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click reads it per instance

    def show(self, file: Any = None) -> None:
        from .log_format import error_line  # a JSON line under --log-format json

        click.echo(error_line(f"error: {self.format_message()}"), err=True)


#: Optional dependencies and the extra that brings each.
EXTRAS = {"starlette": "server", "uvicorn": "server", "prometheus_client": "server", "cryptography": "embedded",
          "redis": "redis"}


def to_command_error(exc: BaseException) -> CommandError:
    if isinstance(exc, NotRegistered):  # a KeyError: str() would be the quoted key alone
        key = exc.args[0] if exc.args else "?"
        return CommandError(f"no account is registered under {str(key)!r}", EXIT_FAILED)
    if isinstance(exc, ConfigError | InvalidAccountKey):
        return CommandError(str(exc), EXIT_CONFIG)
    if isinstance(exc, FreshtokenError):
        return CommandError(str(exc) or exc.__class__.__name__, EXIT_FAILED)
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in EXTRAS:
        extra = EXTRAS[(exc.name or "").split(".")[0]]
        return CommandError(f"this command needs {exc.name!r}: pip install 'freshtoken[{extra}]'", EXIT_CONFIG)
    if isinstance(exc, OSError):
        return CommandError(str(exc) if exc.strerror is None else f"{exc.strerror}: {exc.filename or ''}".rstrip(": "),
                            EXIT_FAILED)
    raise exc


class FreshtokenGroup(click.Group):
    """A click group that turns freshtoken errors into :class:`CommandError` (exit 2 config, 1 failure), and
    ends quietly when its reader goes away (``freshtoken accounts list | head``)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, **kwargs)
        except BrokenPipeError:
            quiet_broken_pipe()

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            quiet_broken_pipe()
        except (FreshtokenError, OSError) as exc:
            raise to_command_error(exc) from None
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in EXTRAS:
                raise
            raise to_command_error(exc) from None


def quiet_broken_pipe() -> None:
    """Exit 141 (as a shell reports SIGPIPE) without "Broken pipe" noise; stdout is pointed at /dev/null so the
    interpreter's final flush does not fail again (the recipe of the Python docs, "Note on SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    raise SystemExit(141)


@dataclass
class CliState:
    config: str | None = None
    create_database: bool = False
    _settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            from ..host.config import load_settings

            self._settings = load_settings(self.config)
        return self._settings

    def host(self, **kwargs: Any) -> Host:
        from ..host.factory import build_host

        settings = self.settings()
        self.refuse_new_database(settings)
        return build_host(settings, **kwargs)

    def refuse_new_database(self, settings: Settings) -> None:
        """Without a config file, a command must not create an empty database where it happens to run (the
        usual cause: the wrong directory); ``--create-database`` asks for one."""
        if settings.file is not None or self.create_database:
            return
        db = settings.path(settings.runtime.database)
        if not db.exists():
            raise CommandError(
                f"no configuration file (--config, $FRESHTOKEN_CONFIG or ./freshtoken.toml) and no database at "
                f"{str(db)!r}: run this where freshtoken.toml is, pass --config, or add --create-database to "
                "start a new database here",
                EXIT_CONFIG,
            )


pass_state = click.make_pass_decorator(CliState, ensure=True)


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")(fn)


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine to completion in a new event loop."""
    async def _main() -> T:
        return await coro

    return asyncio.run(_main())


async def with_host(state: CliState, fn: Callable[[Host], Awaitable[T]], **kwargs: Any) -> T:
    """Build the host, run ``fn(host)``, always close the host."""
    host = state.host(**kwargs)
    try:
        return await fn(host)
    finally:
        await host.aclose()


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def duration(seconds: float | None) -> str:
    """``1h02m``, ``4m10s``, ``9s``; negative as ``-9s``."""
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    s = int(abs(seconds))
    if s >= 86400:
        return f"{sign}{s // 86400}d{(s % 86400) // 3600:02d}h"
    if s >= 3600:
        return f"{sign}{s // 3600}h{(s % 3600) // 60:02d}m"
    if s >= 60:
        return f"{sign}{s // 60}m{s % 60:02d}s"
    return f"{sign}{s}s"


def relative(at: float | None, now: float | None = None) -> str:
    """``in 4m10s`` / ``12s ago`` / ``-``."""
    if at is None:
        return "-"
    delta = at - (time.time() if now is None else now)
    return f"in {duration(delta)}" if delta >= 0 else f"{duration(-delta)} ago"


def echo_lines(lines: Iterable[str]) -> None:
    for line in lines:
        click.echo(line)


def stderr(message: str) -> None:
    click.echo(message, err=True)


def is_tty() -> bool:
    return sys.stdout.isatty()
