"""``freshtoken keys generate`` (a new entry for ``FRESHTOKEN_ENCRYPTION_KEYS``) and ``keys rewrap`` (re-encrypt
the store under the first key)."""

from __future__ import annotations

import click

from ._common import EXIT_CONFIG, CliState, CommandError, json_option, pass_state, print_json, stderr


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


@keys.command("rewrap")
@json_option
@pass_state
def rewrap(state: CliState, as_json: bool) -> None:
    """Re-encrypt every stored secret under the first key of FRESHTOKEN_ENCRYPTION_KEYS.

    Rotation: put a new key first (keep the old ones after it), run this, then drop the old keys. Rows already
    under the first key are left alone; each batch is one write transaction, so a running 'serve' is safe.
    """
    from ..embedded import AesGcmCodec, SQLiteStore

    settings = state.settings()
    codec = AesGcmCodec.from_env()
    db = settings.path(settings.runtime.database)
    if not db.exists():
        raise CommandError(f"{settings.source}: runtime.database: {str(db)!r} does not exist (nothing to rewrap)",
                           EXIT_CONFIG)
    store = SQLiteStore(db, codec)
    try:
        total = store.count()
        rewritten = store.rewrap(codec)
    finally:
        store.close()
    primary = codec.primary_kid
    if as_json:
        print_json({"database": str(db), "accounts": total, "rewrapped": rewritten, "primary_kid": primary})
        return
    click.echo(f"rewrapped {rewritten} of {total} accounts under key {primary!r} ({db})")
    if rewritten == 0:
        stderr("nothing to do: every account was already under the first key")
