"""A token answer that carries the request's credentials back: refused before anything of it is kept.

A token endpoint receives the client's secret (or its private key's signature) and the refresh token. A hostile
or broken one may send them back inside its answer — as the access token, the token type, the scope or a field
the provider keeps (``extras``) — and from there they would reach the KV record every gateway reads, the
resource server the gateway calls with the "access token", and the admin API's account view. :func:`echoed`
names the first field of a parsed answer that holds one of them; the refresher then refuses the answer as
malformed (retried with backoff, alerted when it goes on), and the grant stays as it was.

What is compared:

* the **access token** and a **new refresh token** with the client's secrets, in every form
  :func:`~freshtoken.redaction.redact` knows (URL, JSON, base64, invisible characters...); the access token
  also with the grant sent (the refresh token; a first grant's code and PKCE verifier), as it is (in any letter
  case). A new refresh token equal to the one sent is normal (a provider that does not rotate);
* the **token type**, the **scope** and every text in **extras** (what the admin API and the KV record show)
  with both, in every form.

Credentials shorter than :data:`MIN_CREDENTIAL` are not looked for. A field shorter than a secret cannot hold
it, so a usual answer ("Bearer", a short scope) costs a few string comparisons (7–11 µs here); the forms of a client's
secret are built once and kept. Microsoft-sized tokens (a 1,800-character access token, a 1,500-character
refresh token) cost 50–65 µs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from .redaction import carries_secret
from .tokens import TokenSet

#: Shortest credential looked for: refusing an answer costs more than a redaction, so a credential short enough
#: to be an ordinary word (a test client's "secret", "Bear" in "Bearer") is not looked for.
MIN_CREDENTIAL = 8


def echoed(tokens: TokenSet, *, client_secrets: Sequence[str], sent: Sequence[str | None],
           client_id: str | None) -> str | None:
    """The name of the first field of ``tokens`` that holds a credential the request carried, or None.

    ``client_secrets``: the client's own (long-lived: their forms are kept); ``sent``: the grant the request
    carried (the refresh token; the authorization code and PKCE verifier of a first grant)."""
    client_secrets = [s for s in client_secrets if len(s) >= MIN_CREDENTIAL]
    grant = [s for s in sent if s is not None and len(s) >= MIN_CREDENTIAL]
    access = tokens.access_token.get_secret_value()
    if carries_secret(access, client_secrets, client_id=client_id, cache=True):
        return "access_token"
    low = access.lower()
    if any(s.lower() in low for s in grant):
        return "access_token"
    if tokens.refresh_token is not None and carries_secret(
            tokens.refresh_token.get_secret_value(), client_secrets, client_id=client_id, cache=True):
        return "refresh_token"
    for name, text in _public_texts(tokens):
        if carries_secret(text, client_secrets, client_id=client_id, cache=True) or carries_secret(text, grant):
            return name
    return None


def _public_texts(tokens: TokenSet) -> Iterator[tuple[str, str]]:
    yield "token_type", tokens.token_type
    if tokens.scope:
        yield "scope", tokens.scope
    for key, value in tokens.extras.items():
        for text in _texts(value):
            yield f"extras.{key}", text
        if isinstance(key, str):
            yield "extras", key


def _texts(value: Any) -> Iterator[str]:
    """Every string inside a JSON-like value (keys included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str):
                yield k
            yield from _texts(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _texts(v)
