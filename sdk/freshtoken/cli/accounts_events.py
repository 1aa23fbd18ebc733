"""``freshtoken accounts events KEY``: an account's event history (newest first), read from the state database.

It needs neither the encryption keys nor a running server: events hold no secret and are read from their own
table (``[history]``, :mod:`freshtoken.embedded.history`). A running ``serve`` writes its events within a second.
"""

from __future__ import annotations

import time
from typing import Any

import click

from ..keys import AccountKey
from ._common import CliState, CommandError, json_option, pass_state, print_json, relative, table
from .accounts import accounts


def _summary(event: dict[str, Any]) -> str:
    d = event["data"]
    kind = event["type"]
    if kind == "refreshed":
        return f"generation {d.get('generation')} in {d.get('duration', 0):.3f}s" + (" (rotated)" if d.get("rotated")
                                                                                      else "")
    if kind == "refresh_failed":
        alert = ", alerted" if d.get("alert") else ""
        return f"{d.get('kind')}, {d.get('consecutive_failures')} in a row{alert}: {d.get('error', '')}"
    if kind == "reauth_required":
        return f"{d.get('kind') or 'invalid_grant'}: {d.get('error', '')}"
    if kind == "recovered":
        return f"was {d.get('previous_status')} after {d.get('failures')} failure(s), via {d.get('via')}"
    if kind in ("registered", "replaced"):
        return f"client {d.get('client')}, {d.get('status')}"
    if kind == "removed":
        return "grant revoked" if d.get("revoked") else "not revoked"
    return ", ".join(f"{k}={v}" for k, v in sorted(d.items()) if not isinstance(v, dict))[:200]


@accounts.command("events")
@click.argument("key")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Events to show.")
@json_option
@pass_state
def events(state: CliState, key: str, limit: int, as_json: bool) -> None:
    """Show what happened to account KEY, newest first: refreshes, failures (with their class), alerts,
    re-authorisation, recovery, registration, removal."""
    from ..embedded.history import AccountHistory

    ks = str(AccountKey.parse(key))
    settings = state.settings()
    db = settings.path(settings.runtime.database)
    if not db.exists():
        raise CommandError(f"no state database at {str(db)!r} (is this the configuration 'freshtoken serve' uses?)")
    history = AccountHistory(db, readonly=True)
    try:
        rows = history.events(ks, limit=limit)
    finally:
        history.close()
    if as_json:
        print_json({"key": ks, "events": rows})
        return
    if not rows:
        raise CommandError(f"no event recorded for {ks!r} (unknown key, or [history] per_account = 0)")
    now = time.time()
    click.echo(table([(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["at"])), relative(r["at"], now),
                       r["type"], _summary(r)) for r in rows], ["time", "when", "event", "details"]))
