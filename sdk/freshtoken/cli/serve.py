"""``freshtoken serve``: the embedded runtime and the admin API, until SIGTERM / SIGINT."""

from __future__ import annotations

import logging
from typing import Any

import click

from ._common import CliState, pass_state, run, stderr
from .log_format import CHOICE, chosen_format, use_json_errors


@click.command("serve")
@click.option("--host", "listen_host", default=None, help="Admin API address (default: [admin] host).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Admin API port (default: [admin] port).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default=None,
              help="Log level (default: [logging] level, info).")
@click.option("--log-format", type=CHOICE, default=None,
              help="text, or json: one JSON object per line (default: [logging] format, text).")
@click.option("--metrics-listen", default=None, metavar="HOST:PORT",
              help="Serve /metrics without the admin token on this address (default: [metrics] listen; off).")
@click.option("--drain-timeout", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="On SIGTERM / SIGINT, wait at most this long for refreshes in flight, then cancel them "
              "(default: [runtime] drain_timeout, 30 s).")
@pass_state
@click.pass_context
def serve(ctx: click.Context, state: CliState, listen_host: str | None, port: int | None, log_level: str | None,
          log_format: str | None, metrics_listen: str | None, drain_timeout: float | None) -> None:
    """Run the refresher host and the admin API. SIGTERM / SIGINT finish refreshes in flight, then exit."""
    from ..admin import check_bind, serve_host
    from ..admin.server import configured_tokens
    from ..host.config import parse_listen
    from ..observability.logs import configure_logging

    fmt = log_format or chosen_format(ctx)
    if fmt == "json":  # even the configuration's errors are JSON lines from here on
        configure_logging("INFO", "json")
        use_json_errors()
    settings = state.settings()
    fmt = fmt or settings.logging.format
    use_json_errors(fmt == "json")
    secrets = settings.secret_values()
    configure_logging((log_level or settings.logging.level).upper(), "json" if fmt == "json" else "text",
                      secrets=secrets)
    log = logging.getLogger("freshtoken.serve")

    def say(message: str) -> None:
        if fmt == "json":
            log.info(message)
        else:
            stderr(f"freshtoken: {message}")

    tokens = configured_tokens(settings)
    check_bind(listen_host if listen_host is not None else settings.admin.host, tokens)
    metrics_at = metrics_listen if metrics_listen is not None else settings.metrics.listen
    try:
        metrics_addr = parse_listen(metrics_at) if metrics_at else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--metrics-listen") from None

    async def main() -> None:
        host = state.host()
        if drain_timeout is not None:
            host.runtime.drain_timeout = drain_timeout
        metrics_server = None
        try:
            if metrics_addr is not None and host.metrics is not None:
                from ..observability.metrics_server import MetricsServer

                metrics_server = MetricsServer(host.metrics, host=metrics_addr[0], port=metrics_addr[1])
                await metrics_server.start()
                say(f"metrics on {metrics_server.url} (no token)")

            def ready(server: Any) -> None:
                auth = f"bearer token required, {len(tokens)} token(s)" if tokens else "no token (loopback only)"
                say(f"admin API on {server.url} ({auth}); {host.runtime.store.count()} account(s); Ctrl-C to stop")

            await serve_host(host, listen_host=listen_host, port=port, on_ready=ready)
        finally:
            if metrics_server is not None:
                await metrics_server.stop()
            await host.aclose()
        say("stopped")

    run(main())
