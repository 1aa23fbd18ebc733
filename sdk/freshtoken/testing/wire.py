"""What a provider's authorization side puts on the wire, in the shape a documentation replay compares:
:func:`authorize_parts` splits an authorize URL into its endpoint and query; :func:`code_exchange_on_wire`
authenticates a code request as the SDK sends it (:func:`freshtoken.http.prepare`) and decodes its form body."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from ..client import OAuthClient
from ..http import TokenRequest, prepare


def authorize_parts(url: str) -> tuple[str, dict[str, list[str]]]:
    """(``scheme://host/path``, the query as :func:`urllib.parse.parse_qs` reads it)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", parse_qs(parts.query)


@dataclass(frozen=True)
class OnTheWire:
    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        """A form body's fields (the first value of each; blank values kept)."""
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


def code_exchange_on_wire(request: TokenRequest, client: OAuthClient) -> OnTheWire:
    """``request`` with the client's authentication applied, as it is sent."""
    url, headers, body = prepare(request, client)
    return OnTheWire(url, headers, body)
