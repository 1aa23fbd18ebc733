"""The request path of a gateway Worker: one KV read and an expiry check per request.

It never calls a Durable Object and never refreshes: the refresher objects keep KV fresh ahead of time,
so a request costs one KV read, served from the location's cache. A missing, expired or about-to-expire
token is :class:`~freshtoken.errors.TokenUnavailable` (answer 503 and alert; do not refresh inline).
"""

from __future__ import annotations

import re
from typing import Any

from ..clock import Clock
from ..keys import AccountKey
from ..kv.workers_binding import BindingKV
from ..reader import Reading, Token, TokenReader
from . import values
from ._workers import json_response
from .admin import bearer_matches

#: The secret a gateway's callers present (``Authorization: Bearer <GATEWAY_KEY>``).
GATEWAY_KEY_VAR = "GATEWAY_KEY"
#: ``"true"``: the gateway serves any caller (something in front decides: Cloudflare Access, a service binding).
OPEN_GATEWAY_VAR = "OPEN_GATEWAY"
#: The prefix the refresher objects write keys under (``FRESHTOKEN_KV_PREFIX``, the same variable).
KV_PREFIX_VAR = "FRESHTOKEN_KV_PREFIX"


def refuse_caller(request: Any, env: Any) -> Any | None:
    """None when the gateway may serve this caller; otherwise the refusal ``Response``.

    Whoever reaches a gateway acts upstream as any account they name, so it serves nobody until told who may:
    with ``GATEWAY_KEY`` set, callers that send ``Authorization: Bearer <GATEWAY_KEY>`` (compared in constant
    time; a gateway replaces that header with the account's token, so the key never goes upstream), else 401;
    with ``OPEN_GATEWAY = "true"``, everyone; with neither, nobody (500 ``gateway_not_configured``).
    """
    key = values.get_attr(env, GATEWAY_KEY_VAR)
    if isinstance(key, str) and key:
        if bearer_matches(request, key):
            return None
        return json_response({"error": "unauthenticated"}, 401, {"www-authenticate": 'Bearer realm="gateway"'})
    if values.get_attr(env, OPEN_GATEWAY_VAR) == "true":
        return None
    return json_response({"error": "gateway_not_configured", "detail": f"set {GATEWAY_KEY_VAR} or {OPEN_GATEWAY_VAR}"},
                         500)


#: How many times :func:`climbs_out` decodes a segment; one still encoded after that is refused (no name is encoded
#: eight times, and the bound keeps a hostile path's cost linear).
DECODINGS = 8
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_SEPARATOR = re.compile(r"[/\\]")


def _unescape(match: re.Match[str]) -> str:
    return chr(int(match[1], 16))


def climbs_out(path: str) -> bool:
    """True when ``path`` (what a gateway forwards after ``UPSTREAM/``, as the caller sent it) would climb out of
    the upstream's base at an upstream that decodes before it routes.

    The runtime's URL parser resolved plain and ``%2e`` dot segments already; what it passes as one segment is a
    ``..%2f``, a ``..%5c`` (backslash), a ``..`` encoded twice or a ``..;param`` (a servlet container drops the
    parameter). Each segment is decoded until nothing changes (at most :data:`DECODINGS` times: one still encoded
    after that climbs) and split at ``/`` and ``\\``; a piece that is ``..`` before any ``;`` climbs. An encoded
    slash alone is a name (``group%2Fproject`` at GitLab) and does not. The JavaScript Worker
    (readers/js/worker.mjs) applies the same rule.
    """
    for segment in path.split("/"):
        for _ in range(DECODINGS + 1):
            decoded = _ESCAPE.sub(_unescape, segment)
            if decoded == segment:
                break
            segment = decoded
        else:
            return True  # still encoded after DECODINGS rounds: no name is, and each round costs a pass
        if any(piece.split(";", 1)[0] == ".." for piece in _SEPARATOR.split(segment)):
            return True
    return False


class GatewayReader:
    """Reads tokens (:class:`~freshtoken_reader.record.Token`) from a KV binding (``env.TOKENS``).

    ``prefix``: the one the refresher objects write under (their ``FRESHTOKEN_KV_PREFIX``); :meth:`from_env`
    takes it from the same variable, so that the two cannot disagree (a prefix on one side only made every key
    ``unknown``)."""

    def __init__(self, binding: Any, *, clock: Clock | None = None, min_remaining: float = 5.0,
                 prefix: str = "") -> None:
        self.kv = BindingKV(binding)
        self.prefix = prefix
        # no parse cache: a Workers KV read costs milliseconds, the parse microseconds, and an isolate's memory
        # (128 MB) is better spent elsewhere than on up to ~37 MB of kept readings
        self.reader = TokenReader(self.kv, clock=clock, min_remaining=min_remaining, cache_size=0)

    @classmethod
    def from_env(cls, env: Any, binding: str = "TOKENS", **kwargs: Any) -> GatewayReader:
        """The reader of ``env.<binding>`` with the refresher objects' ``FRESHTOKEN_KV_PREFIX``."""
        prefix = values.get_attr(env, KV_PREFIX_VAR, "")
        return cls(values.get_attr(env, binding), prefix=prefix if isinstance(prefix, str) else "", **kwargs)

    async def read(self, key: str | AccountKey) -> Reading:
        """The :class:`~freshtoken_reader.reader.Reading` for ``key`` (``.reason``, ``.status``, ``.token``)."""
        return await self.reader.read(self.prefix + str(key))

    async def get(self, key: str | AccountKey) -> Token:
        """The record for ``key``; :class:`~freshtoken.errors.TokenUnavailable` when there is no usable one."""
        return await self.reader.get(self.prefix + str(key))

    async def authorization(self, key: str | AccountKey) -> str:
        """The ``Authorization`` header value for ``key``."""
        record = await self.get(key)
        return f"{record.token_type} {record.access_token}"
