"""``freshtoken token get KEY``: read a token from KV exactly as a gateway does (``TokenReader``)."""

from __future__ import annotations

import click

from ._common import CliState, json_option, pass_state, print_json, run


class _PrefixedKV:
    def __init__(self, kv: object, prefix: str) -> None:
        self._kv, self._prefix = kv, prefix

    async def get(self, key: str) -> str | None:
        return await self._kv.get(self._prefix + key)  # type: ignore[attr-defined, no-any-return]


@click.group("token")
def token() -> None:
    """Read access tokens from KV (the request path)."""


@token.command("get")
@click.argument("key")
@click.option("--min-remaining", default=5.0, show_default=True, type=float,
              help="Refuse a token expiring within this many seconds.")
@json_option
@pass_state
def get(state: CliState, key: str, min_remaining: float, as_json: bool) -> None:
    """Print the access token of KEY (with --json: the whole KV record). Exit 1 if there is none usable."""
    from ..host.factory import build_kv
    from ..keys import AccountKey
    from ..reader import TokenReader

    key = str(AccountKey.parse(key))
    settings = state.settings()
    if settings.kv.backend == "memory":
        from ..errors import ConfigError

        raise ConfigError(f"{settings.source}: kv.backend: 'memory' lives inside 'freshtoken serve'; nothing to read")
    kv = build_kv(settings, readonly=True)

    async def read() -> object:
        try:
            return await TokenReader(_PrefixedKV(kv, settings.kv.prefix), min_remaining=min_remaining).get(key)
        finally:
            closer = getattr(kv, "aclose", None) or getattr(kv, "close", None)
            if closer is not None:
                res = closer()
                if hasattr(res, "__await__"):
                    await res

    record = run(read())
    if as_json:
        print_json(record.as_dict())  # type: ignore[attr-defined]
    else:
        click.echo(record.access_token)  # type: ignore[attr-defined]
