"""``freshtoken keys generate``: a new entry for ``FRESHTOKEN_ENCRYPTION_KEYS``."""

from __future__ import annotations

import click

from ._common import json_option, print_json, stderr


@click.group("keys")
def keys() -> None:
    """Encryption keys for secrets at rest."""


@keys.command("generate")
@click.option("--kid", default=None, help="Key id (default: random). 1-32 of A-Z a-z 0-9 _ -")
@json_option
def generate(kid: str | None, as_json: bool) -> None:
    """Print a new FRESHTOKEN_ENCRYPTION_KEYS entry (kid:base64url of 32 random bytes).

    To rotate, put the new entry first (comma-separated) and keep the old one until the store is rewrapped.
    """
    from ..embedded.crypto import generate_key

    entry = generate_key(kid)
    if as_json:
        print_json({"entry": entry, "kid": entry.split(":", 1)[0], "env": "FRESHTOKEN_ENCRYPTION_KEYS"})
        return
    click.echo(entry)
    stderr("set it as FRESHTOKEN_ENCRYPTION_KEYS (put it first, comma-separated, to rotate); keep it secret")
