"""A Temporal payload codec that encrypts every payload with AES-256-GCM: no secret in workflow history.

Same keys and key handling as the embedded runtime (:mod:`freshtoken.embedded.crypto`):
``FRESHTOKEN_ENCRYPTION_KEYS`` = comma-separated ``kid:base64url(32 bytes)``; the first key encrypts, every key
decrypts (rotate by putting a new key first; old histories keep decrypting while the old key is listed).
A missing or invalid key is a :class:`~freshtoken.errors.ConfigError` — there is no plaintext fallback.

Every payload (workflow input, signal arguments, activity input and result, query results, memo, failure
details with :class:`DefaultFailureConverterWithEncodedAttributes`) leaves the client or worker as::

    metadata: {encoding: "binary/freshtoken-aesgcm", encryption-key-id: kid}
    data:     nonce (12 bytes) || AES-GCM(serialized original Payload, aad = "freshtoken/temporal/v1|" + kid)

Decoding passes through payloads that are not in this encoding (e.g. written by the server itself).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence

from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from ..embedded.crypto import ENV_VAR, NONCE_BYTES, DecryptionError, key_ring, key_spec_from_env, parse_keys

ENCODING = b"binary/freshtoken-aesgcm"
KEY_ID = "encryption-key-id"
AAD_PREFIX = b"freshtoken/temporal/v1|"


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over whole payloads, keys as in ``FRESHTOKEN_ENCRYPTION_KEYS``."""

    def __init__(self, keys: Iterable[tuple[str, bytes]] | Mapping[str, bytes]) -> None:
        self._ciphers, self.primary_kid = key_ring(keys, owner="EncryptionCodec")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, var: str = ENV_VAR) -> EncryptionCodec:
        spec = key_spec_from_env(
            environ, var=var, why="the Temporal runtime encrypts every payload (refresh tokens travel in workflow "
            "history) and will not run without a key; use the same keys on every worker and client"
        )
        return cls(parse_keys(spec, source=var))

    @classmethod
    def from_spec(cls, spec: str) -> EncryptionCodec:
        return cls(parse_keys(spec, source="encryption keys"))

    @property
    def kids(self) -> list[str]:
        return list(self._ciphers)

    def _encrypt(self, payload: Payload) -> Payload:
        kid = self.primary_kid
        nonce = os.urandom(NONCE_BYTES)
        ct = self._ciphers[kid].encrypt(nonce, payload.SerializeToString(), AAD_PREFIX + kid.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID: kid.encode()}, data=nonce + ct)

    def _decrypt(self, payload: Payload) -> Payload:
        from cryptography.exceptions import InvalidTag

        kid = payload.metadata.get(KEY_ID, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise DecryptionError(
                f"a Temporal payload is encrypted with key {kid!r}, which is not in {ENV_VAR} "
                f"(known: {', '.join(self._ciphers)})"
            )
        data = payload.data
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], AAD_PREFIX + kid.encode())
        except (InvalidTag, ValueError):
            raise DecryptionError(
                f"a Temporal payload does not decrypt with key {kid!r} (wrong key or tampered)"
            ) from None
        out = Payload()
        out.ParseFromString(plain)
        return out

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(p) if p.metadata.get("encoding") == ENCODING else p for p in payloads]

    def __repr__(self) -> str:  # never the key material
        return f"EncryptionCodec(primary={self.primary_kid!r}, kids={self.kids!r})"


def data_converter(codec: PayloadCodec | None) -> DataConverter:
    """Temporal's default converter with ``codec``; failure messages and stack traces are encoded too."""
    return dataclasses.replace(
        DataConverter.default,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


__all__ = ["ENCODING", "EncryptionCodec", "data_converter"]
