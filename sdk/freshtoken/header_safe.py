"""A token answer whose access token or token type cannot go into an HTTP header: refused before anything of it is
kept.

Every gateway sends ``token_type + " " + access_token`` as the ``Authorization`` header. RFC 6749 (appendix A.12
and A.13) allows printable ASCII only there: ``access-token = 1*VSCHAR``, VSCHAR being %x20-7E, and a token type
is a name (or a URI). A hostile or broken token endpoint that answers with a CR LF inside the token (JSON carries
it escaped, ``"at\\r\\nX-Injected: 1"``) would otherwise have it written to the KV record, where a gateway that
builds its header by hand splits it into two header lines, and one that does not (httpx, Node, Go, Workers)
fails the request. The refresher and the first-grant exchange refuse such an answer as malformed (retried with
backoff, alerted when it goes on) and the grant stays as it was; a registration refuses such a token by name;
every reader refuses such a record (:func:`freshtoken_reader.record.header_safe`, the one definition).
"""

from __future__ import annotations

from freshtoken_reader.record import header_safe

from .tokens import TokenSet

__all__ = ["header_safe", "refusal", "unsendable"]


def unsendable(tokens: TokenSet) -> str | None:
    """The first field of ``tokens`` that an HTTP header cannot carry (``access_token``, ``token_type``), or None."""
    if not header_safe(tokens.access_token.get_secret_value()):
        return "access_token"
    if not tokens.token_type or not header_safe(tokens.token_type):
        return "token_type"
    return None


def refusal(field: str) -> str:
    """The error text for :func:`unsendable`'s field (names the field, never its value)."""
    return (f"the token answer's {field} holds characters an HTTP header cannot carry "
            "(RFC 6749 appendix A: printable ASCII only): refused")
