"""``freshtoken accounts add|list|show|refresh|remove``: manage accounts in the embedded store directly.

These open the same SQLite files as ``freshtoken serve`` (a lease keeps a CLI refresh and the server from
refreshing one account at once). Secrets are never taken from the command line by default: pass a refresh token
through an environment variable (``--refresh-token-env``) or standard input (``--refresh-token -``).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import click

from ..errors import AccountExists, ConfigError
from ..registration import InvalidRegistration, Registration
from ..state import Status
from ._common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    CliState,
    CommandError,
    json_option,
    pass_state,
    print_json,
    relative,
    run,
    table,
    with_host,
)


@click.group("accounts")
def accounts() -> None:
    """Register, inspect, refresh and remove accounts."""


def _secret_input(value: str | None, env: str | None, what: str) -> str | None:
    if value is not None and env is not None:
        raise click.UsageError(f"give --{what} or --{what}-env, not both")
    if env is not None:
        resolved = os.environ.get(env)
        if not resolved:
            raise ConfigError(f"--{what}-env: environment variable {env} is not set")
        return resolved
    if value == "-":
        line = sys.stdin.readline().strip()
        if not line:
            raise click.UsageError(f"--{what} -: nothing on standard input")
        return line
    return value


def _parse_data(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.UsageError(f"--data {item[:40]!r} is not NAME=VALUE")
        out[name] = value
    return out


def _human_view(view: dict[str, Any]) -> list[str]:
    now = time.time()
    lines = [
        f"key:             {view.get('key')}",
        f"client:          {view.get('client')}",
        f"strategy:        {view.get('strategy', 'refresh_token')}",
        f"status:          {view.get('status')}",
        f"expires:         {relative(view.get('expires_at'), now)}",
        f"next refresh:    {relative(view.get('next_refresh_at'), now)}",
        f"alarm:           {relative(view.get('alarm_at'), now)}",
        f"generation:      {view.get('generation')}",
        f"refreshes:       {view.get('refresh_count')}",
        f"failures:        {view.get('failures')}",
        f"last success:    {relative(view.get('last_success_at'), now)}",
        f"last error:      {view.get('last_error') or '-'}",
        f"refresh token:   {'stored (encrypted)' if view.get('has_refresh_token') else 'none'}"
        + (f", lapses {relative(view['refresh_token_expires_at'], now)}"
           if view.get("refresh_token_expires_at") else ""),
        f"access token:    {'in KV' if view.get('has_access_token') else 'none yet'}",
    ]
    if view.get("account_data"):
        lines.append(f"account data:    {', '.join(f'{k}={v}' for k, v in view['account_data'].items())}")
    return lines


@accounts.command("add")
@click.argument("key")
@click.option("--client", required=True, help="Name of a [clients.<name>] section.")
@click.option("--strategy", default="refresh_token", show_default=True,
              help="How the account gets its next token: refresh_token (a user grant), or a machine strategy "
                   "(client_credentials, jwt_bearer, github_app_installation) that takes no refresh token: the "
                   "credential is the client's.")
@click.option("--refresh-token", default=None, help="The refresh token, or '-' to read it from standard input.")
@click.option("--refresh-token-env", default=None, metavar="VAR", help="Read the refresh token from $VAR.")
@click.option("--access-token-env", default=None, metavar="VAR", help="A current access token, from $VAR.")
@click.option("--expires-in", type=float, default=None, help="Seconds the current access token still lives.")
@click.option("--never-expires", is_flag=True, help="The access token never expires (static; no refresh).")
@click.option("--token-type", default="Bearer", show_default=True, help="The access token's scheme.")
@click.option("--scope", default=None)
@click.option("--refresh-token-expires-in", type=float, default=None, metavar="SECONDS",
              help="The refresh token itself lapses in this many seconds (warned about before it does).")
@click.option("--data", "data", multiple=True, metavar="NAME=VALUE", help="Account data (e.g. tenant=contoso).")
@click.option("--replace", is_flag=True,
              help="KEY is already registered: replace its grant (the old refresh token is revoked where the "
                   "provider can). Not needed for an account that needs re-authorisation.")
@json_option
@pass_state
def add(state: CliState, key: str, client: str, strategy: str, refresh_token: str | None, refresh_token_env: str | None,
        access_token_env: str | None, expires_in: float | None, never_expires: bool, token_type: str,
        scope: str | None, refresh_token_expires_in: float | None, data: tuple[str, ...], replace: bool,
        as_json: bool) -> None:
    """Register KEY ({tenant}:{provider}:{account_id}) with a refresh token (or, with a machine --strategy, with
    none: the client's credential gets each token); it is refreshed at once unless a current access token is
    given. An account already registered (and not waiting for re-authorisation) is only overwritten with
    --replace."""
    rt = _secret_input(refresh_token, refresh_token_env, "refresh-token")
    at = _secret_input(None, access_token_env, "access-token") if access_token_env else None
    try:
        registration = Registration.from_payload({
            "client": client, "strategy": strategy, "refresh_token": rt, "account_data": _parse_data(data),
            "access_token": at,
            "expires_in": expires_in, "token_type": token_type, "scope": scope, "never_expires": never_expires,
            "replace": replace, "refresh_token_expires_at": (
                time.time() + refresh_token_expires_in if refresh_token_expires_in is not None else None
            ),
        })
    except InvalidRegistration as exc:
        raise click.UsageError(str(exc)) from None

    async def go(host: Any) -> dict[str, Any]:
        return await host.runtime.register(key, registration)  # type: ignore[no-any-return]

    try:
        view = run(with_host(state, go))
    except AccountExists:
        raise CommandError(f"{key!r} is already registered; pass --replace to replace its grant (the old refresh "
                           "token is then revoked where the provider can)", EXIT_CONFIG) from None
    if as_json:
        print_json(view)
    else:
        click.echo(f"registered {view['key']} (client {view['client']}, status {view['status']})")


@accounts.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--after", default=None, metavar="KEY", help="Page: list keys after this one.")
@click.option("--status", type=click.Choice([s.value for s in Status]), default=None,
              help="Only accounts with this status.")
@json_option
@pass_state
def list_(state: CliState, limit: int, after: str | None, status: str | None, as_json: bool) -> None:
    """List accounts (key order, paginated)."""
    async def go(host: Any) -> list[dict[str, Any]]:
        return host.runtime.list_accounts(limit=limit, after=after, status=status)  # type: ignore[no-any-return]

    rows = run(with_host(state, go))
    if as_json:
        print_json({"accounts": rows, "next_after": rows[-1]["key"] if len(rows) == limit else None})
        return
    if not rows:
        click.echo("no accounts")
        return
    now = time.time()
    click.echo(table(
        [[r["key"], r.get("client"), r.get("status"), relative(r.get("expires_at"), now),
          relative(r.get("alarm_at"), now), r.get("refresh_count"), (r.get("last_error") or "")[:60]]
         for r in rows],
        ["ACCOUNT", "CLIENT", "STATUS", "EXPIRES", "NEXT ALARM", "REFRESHES", "LAST ERROR"],
    ))
    if len(rows) == limit:
        click.echo(f"(more: --after {rows[-1]['key']})")


@accounts.command("show")
@click.argument("key")
@json_option
@pass_state
def show(state: CliState, key: str, as_json: bool) -> None:
    """Show an account's state (never a secret)."""
    async def go(host: Any) -> dict[str, Any]:
        return await host.runtime.status(key)  # type: ignore[no-any-return]

    view = run(with_host(state, go))
    if as_json:
        print_json(view)
    else:
        for line in _human_view(view):
            click.echo(line)


@accounts.command("refresh")
@click.argument("key")
@json_option
@pass_state
def refresh(state: CliState, key: str, as_json: bool) -> None:
    """Refresh KEY now. Exit 1 if the refresh failed."""
    async def go(host: Any) -> Any:
        return await host.runtime.refresh_now(key)

    outcome = run(with_host(state, go))
    data = outcome.to_dict()
    data["key"] = key
    data["ok"] = not outcome.failed
    if as_json:
        print_json(data)
    elif data["ok"]:
        click.echo(f"{key}: {outcome.kind} (generation {outcome.generation}, next refresh "
                   f"{relative(outcome.next_alarm)})")
    if not data["ok"]:
        raise CommandError(f"{key}: {outcome.kind}: {outcome.error or 'refresh failed'}", EXIT_FAILED)


@accounts.command("remove")
@click.argument("key")
@click.option("--no-revoke", is_flag=True, help="Do not revoke the refresh token at the provider.")
@json_option
@pass_state
def remove(state: CliState, key: str, no_revoke: bool, as_json: bool) -> None:
    """Remove KEY: its KV record, state and alarm (and revoke its refresh token where the provider can)."""
    async def go(host: Any) -> bool:
        return await host.runtime.remove(key, revoke=not no_revoke)  # type: ignore[no-any-return]

    removed = run(with_host(state, go))
    if as_json:
        print_json({"key": key, "removed": removed})
    elif removed:
        click.echo(f"removed {key}")
    if not removed:
        raise CommandError(f"no account is registered under {key!r}", EXIT_FAILED)
