"""``freshtoken accounts import FILE`` and ``accounts export``: accounts in bulk, as JSON Lines.

Import reads one account per line, streaming (memory does not grow with the file)::

    {"key": "acme:google:u1", "client": "google", "refresh_token": {"env": "U1_RT"},
     "access_token": "...", "expires_in": 1800, "account_data": {"tenant": "contoso"}}

``refresh_token`` / ``access_token`` are a string, ``{"env": "VAR"}`` (read from the environment) or
``{"sealed": "v1...."}`` (from ``export --with-secrets``, opened with ``--key``/``--key-id``); the other fields
are those of a registration (``expires_at`` or ``expires_in``, ``token_type``, ``scope``, ``account_data``,
``refresh_token_expires_at``, ``never_expires``, ``strategy``). Every line goes through the normal registration
(``EmbeddedRuntime.register``: validation, the KV write of a usable access token, the first alarm where the
capacity planner puts it, so an import is spread rather than due at once), and the writes of ``--batch`` lines
share one SQLite transaction (a savepoint per line: a bad line is undone alone). A bad line is reported with its
number and the others are imported; the exit code is non-zero if any line failed.

Idempotent: a key already registered is skipped. With ``--replace`` an existing key whose stored grant is the
line's (the same refresh token, current or previous; for a machine strategy the same client and account data) is
skipped too, any other is replaced (the old grant revoked where the provider can) — after the server has rotated
refresh tokens, a ``--replace`` re-run would put the file's older tokens back: use it with fresh grants only.

Export writes the accounts as JSON Lines without any secret; ``--with-secrets`` adds the refresh and access tokens
sealed with AES-256-GCM to a key the operator names (``--to-key FILE`` holding a ``kid:base64url`` entry, as
``freshtoken keys generate`` prints, or ``--to-key-id KID`` of the configured keys), bound to the account key:
never in plaintext.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import click

from ..errors import FreshtokenError
from ..keys import AccountKey
from ..registration import InvalidRegistration, Registration
from ..state import AccountState
from ._common import EXIT_CONFIG, EXIT_FAILED, CliState, CommandError, json_option, pass_state, print_json, run
from .accounts import accounts

#: Fields of a line besides the registration's own (``replace`` is the command's option, not a line's).
LINE_FIELDS = frozenset(Registration.field_names() - {"replace"} | {"key"})
SECRET_LINE_FIELDS = ("refresh_token", "access_token")
#: Associated data of a sealed export value: the account key, so that a value copied to another line fails.
SEAL_AAD_PREFIX = "freshtoken-export:"
DEFAULT_BATCH = 500


class LineError(Exception):
    """One line cannot be imported; the message names what is wrong, never a secret."""


@dataclass
class ImportReport:
    lines: int = 0
    imported: int = 0
    replaced: int = 0
    skipped: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"lines": self.lines, "imported": self.imported, "replaced": self.replaced, "skipped": self.skipped,
                "failed": len(self.errors), "errors": [{"line": n, "error": e} for n, e in self.errors]}


# -- sealing (export --with-secrets / import --key) --------------------------------------------------------
def seal_codec(key_file: str | None, key_id: str | None, environ: Mapping[str, str]) -> Any:
    """The AES-GCM codec of the key the operator named: a key file (``kid:base64url``) or a configured key id."""
    from ..embedded.crypto import ENV_VAR, AesGcmCodec, key_spec_from_env, parse_keys

    if (key_file is None) == (key_id is None):
        raise click.UsageError("name one key: a key file or a configured key id")
    if key_file is not None:
        try:
            text = Path(key_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"key file {key_file!r}: {exc.strerror or exc.__class__.__name__}", EXIT_CONFIG) \
                from None
        return AesGcmCodec(parse_keys(text.strip(), source=f"key file {key_file!r}")[:1])
    spec = key_spec_from_env(environ, why="--to-key-id / --key-id names one of the configured encryption keys")
    keys = dict(parse_keys(spec, source=ENV_VAR))
    if key_id not in keys:
        raise CommandError(f"key id {key_id!r} is not one of the configured keys ({', '.join(keys)})", EXIT_CONFIG)
    return AesGcmCodec([(str(key_id), keys[str(key_id)])])


def _bound(codec: Any, key: str) -> Any:
    return codec.bound(SEAL_AAD_PREFIX + key)


# -- import --------------------------------------------------------------------------------------------------
def _secret(value: Any, name: str, key: str, environ: Mapping[str, str], unseal: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str):
        resolved = environ.get(value["env"])
        if not resolved:
            raise LineError(f"{name}: environment variable {value['env']} is not set")
        return resolved
    if isinstance(value, dict) and set(value) == {"sealed"} and isinstance(value["sealed"], str):
        if unseal is None:
            raise LineError(f"{name} is sealed: give --key FILE or --key-id KID to open it")
        try:
            return str(_bound(unseal, key).decode(value["sealed"]))
        except Exception:
            raise LineError(f"{name}: the sealed value does not open with the key given (or was moved from "
                            "another account)") from None
    raise LineError(f"{name} must be a string, {{\"env\": \"VAR\"}} or {{\"sealed\": \"...\"}}")


def parse_line(text: str, environ: Mapping[str, str], unseal: Any = None) -> tuple[str, Registration]:
    """(account key, registration) of one line; :class:`LineError` naming the problem otherwise."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise LineError(f"not JSON ({exc.__class__.__name__} at column {getattr(exc, 'colno', '?')})") from None
    if not isinstance(data, dict):
        raise LineError("not a JSON object")
    unknown = sorted(set(data) - LINE_FIELDS)
    if unknown:
        raise LineError(f"unknown field(s): {', '.join(unknown)} (known: {', '.join(sorted(LINE_FIELDS))})")
    if not isinstance(data.get("key"), str):
        raise LineError("key is missing (a string '{tenant}:{provider}:{account_id}')")
    try:
        key = str(AccountKey.parse(data.pop("key")))
    except FreshtokenError as exc:
        raise LineError(str(exc)) from None
    for name in SECRET_LINE_FIELDS:
        if name in data:
            data[name] = _secret(data[name], name, key, environ, unseal)
    try:
        return key, Registration.from_payload(data)
    except InvalidRegistration as exc:
        raise LineError(str(exc)) from None


def _same_grant(old: AccountState, reg: Registration) -> bool:
    new = reg.secret("refresh_token")
    if new is None:  # a machine strategy: the grant is the client's; the same account is the same client and data
        return old.refresh_token is None and old.client == reg.client and old.account_data == reg.account_data
    return any(s is not None and s.get_secret_value() == new for s in (old.refresh_token, old.previous_refresh_token))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, LineError | FreshtokenError):
        return str(exc)
    return f"{exc.__class__.__name__} (unexpected)"


async def import_lines(host: Any, lines: Iterator[tuple[int, str]], *, replace: bool = False,
                       batch: int = DEFAULT_BATCH, environ: Mapping[str, str] | None = None, unseal: Any = None,
                       on_line: Any = None) -> ImportReport:
    """Import numbered lines through ``host.runtime.register``, ``batch`` lines per SQLite transaction."""
    env = os.environ if environ is None else environ
    runtime = host.runtime
    store = runtime.store
    report = ImportReport()
    pending: list[tuple[int, str, Registration]] = []

    async def flush() -> None:
        # providers first (a discovery over HTTP must not hold the write transaction)
        for lineno, key, reg in list(pending):
            try:
                await runtime.shell.provider(runtime.shell.client(reg.client))
            except FreshtokenError as exc:
                report.errors.append((lineno, _describe(exc)))
                pending.remove((lineno, key, reg))
        replacing: list[tuple[int, str, Registration]] = []
        with store.batch():
            for lineno, key, reg in pending:
                try:
                    if store.exists(key):
                        if not replace:
                            report.skipped += 1
                            continue
                        old = store.load_state(key)
                        if old is not None and _same_grant(old, reg):
                            report.skipped += 1
                            continue
                        replacing.append((lineno, key, reg))  # after the commit: revocation goes over HTTP
                        continue
                    with store.savepoint():
                        await runtime.register(key, reg)
                    report.imported += 1
                except Exception as exc:
                    report.errors.append((lineno, _describe(exc)))
        # let the loop run: the lease renewers of the batch's registrations end, buffered events are written;
        # without it they pile up over the whole file (nothing in a registration waits on I/O)
        await asyncio.sleep(0)
        for lineno, key, reg in replacing:
            try:
                await runtime.register(key, reg.model_copy(update={"replace": True}))
                report.replaced += 1
            except Exception as exc:
                report.errors.append((lineno, _describe(exc)))
        pending.clear()

    for lineno, text in lines:
        if on_line is not None:
            on_line(text)
        if not text.strip():
            continue
        report.lines += 1
        try:
            key, reg = parse_line(text, env, unseal)
        except LineError as exc:
            report.errors.append((lineno, str(exc)))
            continue
        pending.append((lineno, key, reg))
        if len(pending) >= batch:
            await flush()
    if pending:
        await flush()
    report.errors.sort()
    return report


def _numbered(stream: IO[str]) -> Iterator[tuple[int, str]]:
    yield from enumerate(stream, 1)


@accounts.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--replace", is_flag=True, help="Replace accounts already registered with another grant.")
@click.option("--batch", type=click.IntRange(1, 10_000), default=DEFAULT_BATCH, show_default=True,
              help="Lines per SQLite transaction.")
@click.option("--key", "key_file", default=None, metavar="FILE", help="Open sealed values with this key file.")
@click.option("--key-id", default=None, metavar="KID", help="Open sealed values with this configured key.")
@json_option
@pass_state
def import_(state: CliState, file: str, replace: bool, batch: int, key_file: str | None, key_id: str | None,
            as_json: bool) -> None:
    """Register the accounts of FILE (JSON Lines; '-' for standard input). Bad lines are reported with their
    number and the good ones imported; a key already registered is skipped (see --replace)."""
    unseal = seal_codec(key_file, key_id, os.environ) if (key_file or key_id) else None
    stream: IO[str] = sys.stdin if file == "-" else open(file, encoding="utf-8")  # closed below
    try:
        bar: Any = None
        if sys.stderr.isatty():
            size = None if file == "-" else os.fstat(stream.fileno()).st_size
            bar = click.progressbar(length=size, label="importing", file=sys.stderr)

        def on_line(text: str) -> None:
            if bar is not None:
                bar.update(len(text.encode("utf-8")))

        async def go(host: Any) -> ImportReport:
            return await import_lines(host, _numbered(stream), replace=replace, batch=batch, unseal=unseal,
                                      on_line=on_line)

        from ._common import with_host

        report = run(with_host(state, go))
        if bar is not None:
            bar.render_finish()
    finally:
        if stream is not sys.stdin:
            stream.close()
    if as_json:
        print_json(report.to_dict())
    else:
        for n, error in report.errors:
            click.echo(f"line {n}: {error}", err=True)
        click.echo(f"{report.lines} line(s): imported {report.imported}, replaced {report.replaced}, "
                   f"skipped {report.skipped} (already registered), failed {len(report.errors)}")
    if report.errors:
        raise SystemExit(EXIT_FAILED)


# -- export --------------------------------------------------------------------------------------------------
EXPORT_FIELDS = ("client", "strategy", "account_data", "token_type", "scope", "refresh_token_expires_at")


def export_line(key: str, text: str, *, store: Any = None, seal: Any = None) -> dict[str, Any]:
    """One account as an import line: no secret, or (with ``seal``) its tokens sealed to the operator's key."""
    data = json.loads(text)
    out: dict[str, Any] = {"key": key}
    for name in EXPORT_FIELDS:
        if data.get(name) is not None:
            out[name] = data[name]
    if data.get("status") == "static":
        out["never_expires"] = True
    if seal is None:
        return out
    state = AccountState.load(text, store.codec_for(key))
    codec = _bound(seal, key)
    for name in SECRET_LINE_FIELDS:
        secret = getattr(state, name)
        if secret is not None:
            out[name] = {"sealed": codec.encode(secret.get_secret_value())}
    if state.access_token is not None and state.expires_at is not None:
        out["expires_at"] = state.expires_at
    return out


@accounts.command("export")
@click.option("--out", "out_path", default="-", show_default=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="Where to write the JSON Lines.")
@click.option("--with-secrets", is_flag=True,
              help="Add the refresh and access tokens, sealed to --to-key / --to-key-id (never in plaintext).")
@click.option("--to-key", "to_key", default=None, metavar="FILE", help="Key file (kid:base64url) to seal with.")
@click.option("--to-key-id", default=None, metavar="KID", help="A configured encryption key id to seal with.")
@pass_state
def export(state: CliState, out_path: str, with_secrets: bool, to_key: str | None, to_key_id: str | None) -> None:
    """Write every account as JSON Lines (importable with 'accounts import'): without secrets unless
    --with-secrets, and then only sealed to a key named with --to-key or --to-key-id."""
    if (to_key or to_key_id) and not with_secrets:
        raise click.UsageError("--to-key / --to-key-id seal secrets: add --with-secrets")
    seal = seal_codec(to_key, to_key_id, os.environ) if with_secrets else None
    from ..embedded import AesGcmCodec, SQLiteStore

    settings = state.settings()
    db = settings.path(settings.runtime.database)
    if not db.exists():
        raise CommandError(f"{settings.source}: runtime.database: {str(db)!r} does not exist", EXIT_CONFIG)
    store = SQLiteStore(db, AesGcmCodec.from_env())
    out: IO[str]
    if out_path == "-":
        out = sys.stdout
    else:
        from ..kv.sqlite_files import create_private

        create_private(Path(out_path))  # 0600 before anything is written
        out = open(out_path, "w", encoding="utf-8")  # closed below
    n = 0
    try:
        for key, _client, text in store.states():
            out.write(json.dumps(export_line(key, text, store=store, seal=seal), separators=(",", ":")) + "\n")
            n += 1
    finally:
        store.close()
        if out is not sys.stdout:
            out.close()
    click.echo(f"exported {n} account(s){' (secrets sealed)' if seal is not None else ' (no secrets)'}", err=True)
