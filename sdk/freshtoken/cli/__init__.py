"""The ``freshtoken`` command line (click). ``main`` is the group; each command lives in its own module.

Add a command from a separate module either by defining a ``click.Command`` there and adding it below (the
optional ``new_provider`` command is added with a guarded import), or from the module itself::

    from freshtoken.cli import main

    @main.command("my-command")
    def my_command() -> None: ...
"""

from __future__ import annotations

import importlib

import click

from .. import __version__
from ._common import CliState, FreshtokenGroup
from .log_format import log_format_option


@click.group(cls=FreshtokenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "-c", "config", envvar="FRESHTOKEN_CONFIG", type=click.Path(dir_okay=False),
              default=None, help="Config file (default: $FRESHTOKEN_CONFIG, else ./freshtoken.toml if present).")
@click.option("--create-database", is_flag=True, envvar="FRESHTOKEN_CREATE_DATABASE",
              help="Allow creating a new database when no config file is found (refused otherwise).")
@log_format_option
@click.version_option(__version__, prog_name="freshtoken")
@click.pass_context
def main(ctx: click.Context, config: str | None, create_database: bool) -> None:
    """freshtoken keeps OAuth access tokens fresh before anyone needs them."""
    ctx.obj = CliState(config=config, create_database=create_database)


from .accounts import accounts  # noqa: E402
from .accounts_bulk import import_ as _accounts_import  # noqa: E402, F401 - adds 'accounts import' and 'export'
from .accounts_events import events as _accounts_events  # noqa: E402, F401 - adds 'accounts events'
from .config import config  # noqa: E402
from .demo import demo  # noqa: E402
from .keys import keys  # noqa: E402
from .providers import providers  # noqa: E402
from .serve import serve  # noqa: E402
from .token import token  # noqa: E402

for _command in (providers, serve, accounts, token, keys, config, demo):
    main.add_command(_command)


def _optional(module: str, attr: str) -> None:
    """Add ``attr`` of ``freshtoken.cli.<module>`` if that module exists (a missing module is not an error;
    a module that exists but fails to import is)."""
    name = f"{__name__}.{module}"
    try:
        mod = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return
        raise
    command = getattr(mod, attr, None)
    if isinstance(command, click.Command) and command.name not in main.commands:
        main.add_command(command)


_optional("new_provider", "new_provider")
_optional("simulate", "simulate")
_optional("connect", "connect")

from ..temporal.cli import worker as _temporal_worker  # noqa: E402 - temporalio is imported when it runs

main.add_command(_temporal_worker)

__all__ = ["main"]
