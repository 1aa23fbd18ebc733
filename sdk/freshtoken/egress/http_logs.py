"""The HTTP libraries' own log records, without what a token endpoint chose to put in its status line and headers.

httpx logs each response's reason phrase at INFO, and httpcore logs the whole status line and every response
header at DEBUG. A hostile or careless token endpoint can echo the client secret or the refresh token there
(``HTTP/1.1 401 Unauthorized <secret>``, ``X-Debug: <Authorization header>``). :func:`quiet_provider_echoes`
rewrites those records: httpx's keeps the standard reason phrase for the status code, httpcore's keeps the
status code only. Idempotent; applied when :mod:`freshtoken.http` is imported.
"""

from __future__ import annotations

import logging
import re

#: Loggers whose records quote response status lines or headers.
HTTP_LOGGERS = ("httpx", "httpcore.http11", "httpcore.http2", "httpcore.proxy")
_HTTPX_RESPONSE = 'HTTP Request: %s %s "%s %d %s"'
_HTTPCORE_HEADERS = "receive_response_headers.complete"
_STATUS = re.compile(r"return_value=\(b'[^']*', (\d{3}),")


def _standard_phrase(status: object) -> str:
    import httpx

    try:
        return httpx.codes.get_reason_phrase(int(status))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return ""


class ProviderEchoFilter(logging.Filter):
    """Drops server-chosen reason phrases and response headers from httpx / httpcore log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        if not isinstance(msg, str):
            return True
        if msg == _HTTPX_RESPONSE and isinstance(record.args, tuple) and len(record.args) == 5:
            record.args = (*record.args[:4], _standard_phrase(record.args[3]))
        elif msg.startswith(_HTTPCORE_HEADERS):
            m = _STATUS.search(msg)
            status = f" status={m.group(1)}" if m else ""
            record.msg = f"{_HTTPCORE_HEADERS}{status} (reason phrase and headers not logged)"
            record.args = ()
        return True


_FILTER = ProviderEchoFilter()


def quiet_provider_echoes() -> None:
    """Attach :class:`ProviderEchoFilter` to the HTTP libraries' loggers (once)."""
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
