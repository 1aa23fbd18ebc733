"""Token requests over the Workers runtime's own ``fetch()`` instead of httpx.

In a Python Worker, ``js.fetch`` is the native way out; httpx works there only through the runtime's
patching. :class:`FetchTokenHTTP` keeps the core's request preparation (client authentication by
authlib, form/JSON bodies) and replaces only the transport. The refresher Durable Object uses it
whenever it runs in Pyodide; any ``fetch(url, init)`` with the JS shape can be passed (the workerd test
bridge passes one that performs the request inside workerd).

One deadline bounds the whole exchange, connect to last byte: ``AbortSignal.timeout(provider.timeout)`` is
passed to ``fetch()`` (workerd aborts the request *and* the body read at that moment, closing the
connection), and the same deadline (``asyncio.timeout``) is around the awaits of ``fetch()`` and
``response.text()`` together. A token endpoint that answers its headers and then drips one byte a second
cannot hold an alarm past it; the exchange ends as :class:`~freshtoken.errors.RetryableError`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from typing import Any

from ..egress.endpoint_policy import EndpointPolicy
from ..errors import MalformedResponse, Misconfigured, RetryableError
from ..http import MAX_RESPONSE_BYTES, TokenHTTP, TokenResponse
from . import values


def js_fetch() -> Callable[..., Any] | None:
    """The runtime's global ``fetch`` in Pyodide; None elsewhere."""
    if not values.IN_PYODIDE:
        return None
    try:  # pragma: no cover - only inside Pyodide
        from js import fetch  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover
        return None
    return fetch  # type: ignore[no-any-return]  # pragma: no cover


def js_abort_signal() -> Any | None:
    """The runtime's ``AbortSignal`` class in Pyodide; None elsewhere."""
    if not values.IN_PYODIDE:
        return None
    try:  # pragma: no cover - only inside Pyodide
        from js import AbortSignal  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover
        return None
    return AbortSignal  # pragma: no cover


#: JS error names of an aborted fetch or body read (``AbortSignal.timeout`` rejects with ``TimeoutError``).
ABORT_ERRORS = frozenset({"TimeoutError", "AbortError"})


def _deadline(timeout: float) -> RetryableError:
    return RetryableError(
        f"token endpoint timed out: exceeded its deadline ({timeout:g} s from connect to the last byte, fetch)"
    )


def response_headers(headers: Any) -> dict[str, str]:
    """A JS ``Headers`` (or anything with ``items()``) → a dict with lower-case names."""
    if values.is_nullish(headers):
        return {}
    if isinstance(headers, Mapping) or hasattr(headers, "items"):
        pairs = list(headers.items())
    else:  # a JS Headers proxy iterates as [name, value] pairs
        pairs = [tuple(p) for p in headers]
    return {str(k).lower(): str(v) for k, v in pairs}


class FetchTokenHTTP(TokenHTTP):
    """:class:`~freshtoken.http.TokenHTTP` over a JS-shaped ``fetch(url, init)``.

    ``abort_signal``: the JS ``AbortSignal`` class (anything with ``timeout(ms)``); by default the runtime's
    own in Pyodide. Without one only the asyncio deadline applies: the exchange still ends on time, but the
    request is left running in the runtime. ``policy``: the endpoint policy every URL is checked against
    before the secret is attached (default: :data:`~freshtoken.egress.endpoint_policy.DEFAULT_POLICY`).
    """

    def __init__(
        self, fetch: Callable[..., Any], *, abort_signal: Any = None, policy: EndpointPolicy | None = None
    ) -> None:
        super().__init__(policy=policy)  # the httpx client is built on first use only: never, here
        self._fetch = fetch
        self._abort_signal = abort_signal if abort_signal is not None else js_abort_signal()

    async def post(self, url: str, headers: dict[str, str], body: bytes, *, timeout: float) -> TokenResponse:
        if not url.startswith(("https://", "http://")):
            raise Misconfigured("token endpoint URL is invalid")
        # never follow a redirect: the body carries credentials (as TokenHTTP's follow_redirects=False)
        options: dict[str, Any] = {"method": "POST", "headers": dict(headers), "body": body.decode("utf-8"),
                                   "redirect": "manual"}
        if self._abort_signal is not None:
            options["signal"] = self._abort_signal.timeout(max(1, math.ceil(timeout * 1000)))
        init = values.to_js(options)
        try:
            async with asyncio.timeout(timeout):  # one deadline: connect, headers and the last byte of the body
                response = await self._fetch(url, init)
                text = await response.text()
        except TimeoutError:
            raise _deadline(timeout) from None
        except Exception as exc:
            if getattr(exc, "name", None) in ABORT_ERRORS:  # the AbortSignal's deadline, as seen by the runtime
                raise _deadline(timeout) from None
            raise RetryableError(f"token endpoint unreachable ({exc.__class__.__name__})") from None
        raw = str(text).encode("utf-8")
        truncated = len(raw) > MAX_RESPONSE_BYTES
        try:
            status = int(response.status)
        except (TypeError, ValueError):
            raise MalformedResponse("token response has no HTTP status") from None
        return TokenResponse(
            status=status,
            headers=response_headers(values.get_attr(response, "headers")),
            body=raw[:MAX_RESPONSE_BYTES],
            truncated=truncated,
        )
