"""``freshtoken serve``: the embedded runtime and the admin API, until SIGTERM / SIGINT."""

from __future__ import annotations

import logging
from typing import Any

import click

from ._common import CliState, pass_state, run, stderr


@click.command("serve")
@click.option("--host", "listen_host", default=None, help="Admin API address (default: [admin] host).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Admin API port (default: [admin] port).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
@click.option("--drain-timeout", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="On SIGTERM / SIGINT, wait at most this long for refreshes in flight, then cancel them "
              "(default: [runtime] drain_timeout, 30 s).")
@pass_state
def serve(state: CliState, listen_host: str | None, port: int | None, log_level: str,
          drain_timeout: float | None) -> None:
    """Run the refresher host and the admin API. SIGTERM / SIGINT finish refreshes in flight, then exit."""
    from ..admin import check_bind, serve_host
    from ..admin.server import configured_tokens

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore"):  # one line per request, with URLs: not for a service log
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    settings = state.settings()
    tokens = configured_tokens(settings)
    check_bind(listen_host if listen_host is not None else settings.admin.host, tokens)

    async def main() -> None:
        host = state.host()
        if drain_timeout is not None:
            host.runtime.drain_timeout = drain_timeout
        try:
            def ready(server: Any) -> None:
                auth = f"bearer token required, {len(tokens)} token(s)" if tokens else "no token (loopback only)"
                stderr(f"freshtoken: admin API on {server.url} ({auth}); "
                       f"{host.runtime.store.count()} account(s); Ctrl-C to stop")

            await serve_host(host, listen_host=listen_host, port=port, on_ready=ready)
        finally:
            await host.aclose()
        stderr("freshtoken: stopped")

    run(main())
