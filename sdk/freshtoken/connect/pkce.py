"""PKCE (RFC 7636, S256 only) and the ``state`` value: both from :mod:`secrets`, the challenge by authlib."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from authlib.oauth2.rfc7636 import create_s256_code_challenge

#: Bytes of randomness in a code verifier (43+ characters once base64url-encoded, RFC 7636 §4.1).
VERIFIER_BYTES = 48
#: Bytes of randomness in a ``state`` value.
STATE_BYTES = 32


@dataclass(frozen=True)
class PkcePair:
    """A code verifier (secret: kept until the code exchange) and its S256 challenge (sent in the URL)."""

    verifier: str
    challenge: str

    def __repr__(self) -> str:  # never the verifier
        return f"PkcePair(challenge={self.challenge!r})"


def new_pkce() -> PkcePair:
    """A fresh verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(VERIFIER_BYTES)
    return PkcePair(verifier, create_s256_code_challenge(verifier))


def new_state() -> str:
    """A fresh, unguessable ``state``."""
    return secrets.token_urlsafe(STATE_BYTES)
