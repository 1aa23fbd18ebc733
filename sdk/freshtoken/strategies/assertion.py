"""Signed JWT assertions (RFC 7523 §3) with the client's private key, by joserfc (authlib's JOSE library).

The key is the client's ``private_key`` secret: a PEM private key, a JWK (JSON), or a JSON key file holding a
PEM ``private_key`` and its ``private_key_id`` (the shape of a service-account key). Every assertion has a
fresh, unguessable ``jti``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..client import OAuthClient
from ..errors import Misconfigured


@dataclass(frozen=True)
class SigningKey:
    key: Any
    #: The key id the key file names (``private_key_id``), if any.
    kid: str | None = None


def key_file(client: OAuthClient) -> dict[str, Any] | None:
    """The client's ``private_key`` as a JSON object (a JWK or a key file), or None when it is a PEM."""
    if client.private_key is None:
        return None
    text = client.private_key.get_secret_value().strip()
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        raise Misconfigured(f"client {client.name!r}: private_key looks like JSON but does not parse") from None
    if not isinstance(data, dict):
        raise Misconfigured(f"client {client.name!r}: private_key is JSON but not an object")
    return data


#: Parsed keys by the SHA-256 of the client's private_key text: parsing (with the key's consistency checks) costs
#: ~170 ms for RSA 2048, signing ~3 ms; an account refreshing every hour needs not re-parse its client's key.
_PARSED: dict[bytes, SigningKey] = {}
_PARSED_MAX = 256


def signing_key(client: OAuthClient) -> SigningKey:
    """The client's private key (parsed once per key text); :class:`Misconfigured` (naming the client, never the
    key) when absent or bad."""
    if client.private_key is None:
        raise Misconfigured(f"client {client.name!r}: this strategy signs with a private key: set private_key")
    digest = hashlib.sha256(client.private_key.get_secret_value().encode()).digest()
    parsed = _PARSED.get(digest)
    if parsed is None:
        parsed = _parse(client)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[digest] = parsed
    return parsed


def _parse(client: OAuthClient) -> SigningKey:
    from joserfc import jwk

    if client.private_key is None:
        raise Misconfigured(f"client {client.name!r}: this strategy signs with a private key: set private_key")
    data = key_file(client)
    kid = None
    text = client.private_key.get_secret_value().strip()
    if data is not None:
        if "kty" in data:
            try:
                return SigningKey(jwk.import_key(data), data.get("kid") if isinstance(data.get("kid"), str) else None)
            except Exception:
                raise Misconfigured(f"client {client.name!r}: private_key is not a usable JWK") from None
        pem = data.get("private_key")
        if not isinstance(pem, str):
            raise Misconfigured(f"client {client.name!r}: the JSON private_key has no 'private_key' field (PEM)")
        text = pem.strip()
        key_id = data.get("private_key_id")
        kid = key_id if isinstance(key_id, str) and key_id else None
    for key_type in ("RSA", "EC", "OKP"):
        try:
            return SigningKey(jwk.import_key(text, key_type), kid)
        except Exception:
            continue
    raise Misconfigured(f"client {client.name!r}: private_key is not a PEM or JWK private key")


def sign(claims: Mapping[str, Any], key: SigningKey, *, alg: str, headers: Mapping[str, str] | None = None) -> str:
    """A compact JWS of ``claims`` (``alg``, ``typ`` JWT, and ``kid`` when known)."""
    from joserfc import jwt

    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if key.kid:
        header["kid"] = key.kid
    header.update(headers or {})
    try:
        return jwt.encode(header, dict(claims), key.key, algorithms=[alg])
    except Exception as exc:
        raise Misconfigured(f"cannot sign the assertion with {alg} ({exc.__class__.__name__})") from None


def new_jti() -> str:
    """A unique assertion id (RFC 7519 §4.1.7): 128 random bits."""
    return secrets.token_urlsafe(16)
