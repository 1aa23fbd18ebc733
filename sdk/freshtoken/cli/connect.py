"""``freshtoken connect KEY --client NAME``: get the first grant of an account from a terminal.

The authorization-code flow with PKCE (:mod:`freshtoken.connect`): a loopback redirect listener on 127.0.0.1
(RFC 8252; an ephemeral port unless ``--port``), the authorization URL printed (and opened with ``--open``), ONE
callback accepted, the code exchanged, the account registered in the embedded store, its status printed. A
token is never printed. The redirect URI to register at the provider is ``http://127.0.0.1/callback`` (any
port, as RFC 8252 §7.3 asks of providers; with a provider that wants the port too, register
``http://127.0.0.1:PORT/callback`` and pass ``--port PORT``).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from ..errors import AccountExists
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
    with_host,
)


def _account_data(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.UsageError(f"--account-data {item[:40]!r} is not NAME=VALUE")
        out[name] = value
    return out


def _scopes(items: tuple[str, ...]) -> list[str] | None:
    scopes = [s for item in items for s in item.replace(",", " ").split() if s]
    return scopes or None


@click.command("connect")
@click.argument("key")
@click.option("--client", required=True, help="Name of a [clients.<name>] section.")
@click.option("--scope", "scope", multiple=True, metavar="SCOPE",
              help="A scope to ask for (repeat, or space-separated); default: the provider's default scopes.")
@click.option("--account-data", "account_data", multiple=True, metavar="NAME=VALUE",
              help="Account data the provider's URLs need (e.g. shop=acme).")
@click.option("--open", "open_browser", is_flag=True, help="Open the authorization URL in a browser.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Loopback port of the redirect listener (0: any free port).")
@click.option("--redirect-host", type=click.Choice(["127.0.0.1", "localhost"]), default="127.0.0.1",
              show_default=True, help="The host the redirect URI names (a provider that only accepts "
              "http://localhost/... needs localhost); the listener is on 127.0.0.1 either way.")
@click.option("--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True, metavar="SECONDS",
              help="How long to wait for the provider's redirect.")
@click.option("--replace", is_flag=True,
              help="KEY is registered and active: replace its grant. Not needed for an account that needs "
                   "re-authorisation.")
@json_option
@pass_state
def connect(state: CliState, key: str, client: str, scope: tuple[str, ...], account_data: tuple[str, ...],
            open_browser: bool, port: int, redirect_host: str, timeout: float, replace: bool, as_json: bool) -> None:
    """Connect KEY ({tenant}:{provider}:{account_id}): authorise at the provider, register the grant."""
    from ..connect import ConnectError, ConnectFlow, MemoryStateStore
    from ..connect.loopback import LoopbackListener

    data = _account_data(account_data)
    scopes = _scopes(scope)

    async def go(host: Any) -> dict[str, Any]:
        flow = ConnectFlow.for_runtime(host.runtime, MemoryStateStore(), ttl=timeout)
        listener = LoopbackListener(port, redirect_host=redirect_host)
        try:
            await listener.start()
        except OSError as exc:
            raise CommandError(f"cannot listen on 127.0.0.1:{port} for the redirect "
                               f"({exc.strerror or exc.__class__.__name__})", EXIT_CONFIG) from None
        try:
            started = await flow.start(key, client, redirect_uri=listener.redirect_uri, scopes=scopes,
                                       account_data=data, replace=replace)
        except BaseException:
            await listener.close()
            raise
        click.echo(f"Open this URL to authorise {started.key} (waiting {timeout:g} s for the redirect to "
                   f"{listener.redirect_uri}):", err=True)
        click.echo(started.authorization_url)
        sys.stdout.flush()
        if open_browser:
            import webbrowser

            if not webbrowser.open(started.authorization_url):
                click.echo("(no browser could be opened: open the URL yourself)", err=True)
        outcome: dict[str, Any] = {}

        async def on_callback(query: dict[str, str]) -> tuple[int, str, str]:
            try:
                result = await flow.finish(query.get("state"), code=query.get("code"), error=query.get("error"),
                                           redirect_uri=listener.redirect_uri)
            except ConnectError as exc:
                outcome["error"] = exc
                return 400, "Not connected", f"{exc} You may close this window."
            except Exception as exc:
                outcome["error"] = exc
                return 400, "Not connected", "The connection failed; see the terminal. You may close this window."
            outcome["result"] = result
            return 200, "Connected", f"{result.key} is connected (status {result.status}). You may close this window."

        try:
            await listener.wait(on_callback, timeout=timeout)
        except TimeoutError:
            raise CommandError(f"no redirect came back within {timeout:g} s: {key} was not connected",
                               EXIT_FAILED) from None
        if "error" in outcome:
            raise outcome["error"]
        result = outcome["result"]
        return {**result.view, "recovered": result.recovered, "replaced": result.replaced}

    try:
        view = run(with_host(state, go))
    except AccountExists:
        raise CommandError(f"{key!r} is already registered and active; pass --replace to replace its grant",
                           EXIT_CONFIG) from None
    except ConnectError as exc:
        raise CommandError(f"{key}: not connected ({exc.code}): {exc}", EXIT_FAILED) from None
    if as_json:
        print_json(view)
        return
    note = " (re-authorised: recovered)" if view.get("recovered") else " (grant replaced)" if view.get(
        "replaced") else ""
    click.echo(f"connected {view['key']} (client {view['client']}, status {view['status']}, token expires "
               f"{relative(view.get('expires_at'), time.time())}){note}")
