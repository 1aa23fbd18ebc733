"""Encryption at rest for the embedded runtime: AES-256-GCM over every secret in an account's state.

Keys come from the environment, ``FRESHTOKEN_ENCRYPTION_KEYS``, as comma-separated ``kid:base64url(32 bytes)``
entries. The first key encrypts; every key decrypts, so a key is rotated by putting a new one first, running
``SQLiteStore.rewrap`` and later dropping the old one. A missing or invalid key is a :class:`ConfigError` at
start-up: there is no plaintext fallback.

A stored secret names its key and is self-describing: ``v1.<kid>.<nonce>.<ciphertext>`` (base64url, no
padding; the ciphertext carries the 16-byte GCM tag). A codec *bound* to an account key
(:meth:`AesGcmCodec.bound`) passes the account key as associated data, so a ciphertext copied to another
account's row does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from ..storage import SecretCodec

ENV_VAR = "FRESHTOKEN_ENCRYPTION_KEYS"
FORMAT_VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
_KID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class DecryptionError(ConfigError):
    """A stored secret cannot be decrypted: unknown key id, wrong key, tampered or foreign ciphertext."""


class WrongKeys(DecryptionError):
    """The configured keys cannot decrypt a store's key-check value: the store was written with other keys."""


#: The constant a store's key-check value seals, and the associated data it is bound to.
KEY_CHECK_PLAINTEXT = "freshtoken key check v1"
KEY_CHECK_AAD = "freshtoken:key-check"


def _key_check_codec(codec: SecretCodec) -> SecretCodec:
    bound = getattr(codec, "bound", None)
    return bound(KEY_CHECK_AAD) if callable(bound) else codec


def seal_key_check(codec: SecretCodec) -> str:
    """A key-check value: a constant sealed with ``codec``'s primary key (its kid is readable, not its key)."""
    return _key_check_codec(codec).encode(KEY_CHECK_PLAINTEXT)


def verify_key_check(codec: SecretCodec, sealed: str, *, what: str) -> None:
    """:class:`WrongKeys` (one line, no key material) unless one of ``codec``'s keys opens ``sealed``."""
    try:
        ok = _key_check_codec(codec).decode(sealed) == KEY_CHECK_PLAINTEXT
    except Exception:
        ok = False
    if ok:
        return
    kid = AesGcmCodec.kid_of(sealed)
    kids = getattr(codec, "kids", None)
    configured = ", ".join(repr(k) for k in kids) if kids else type(codec).__name__
    sealed_with = f"key {kid!r}" if kid else "another codec"
    raise WrongKeys(
        f"the configured encryption keys cannot decrypt {what}: it was written with {sealed_with}, the "
        f"configured keys are {configured} ({ENV_VAR}; a new key goes first, the old one stays until the store "
        "is rewrapped)"
    )


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_key(kid: str | None = None) -> str:
    """A new key entry for ``FRESHTOKEN_ENCRYPTION_KEYS``: ``kid:base64url(32 random bytes)``."""
    kid = kid or "k" + secrets.token_hex(4)
    if not _KID.fullmatch(kid):
        raise ConfigError(f"encryption key id {kid!r} must be 1-32 characters of A-Z a-z 0-9 _ -")
    return f"{kid}:{_b64e(secrets.token_bytes(KEY_BYTES))}"


def parse_keys(spec: str, *, source: str = ENV_VAR) -> list[tuple[str, bytes]]:
    """Parse ``kid:base64url,kid:base64url,...``; errors name the entry, never the key material."""
    entries = [e.strip() for e in spec.split(",") if e.strip()]
    if not entries:
        raise ConfigError(
            f"{source} is empty: set it to one or more 'kid:base64url(32 bytes)' keys "
            "(generate one with 'python -c \"from freshtoken.embedded import generate_key; print(generate_key())\"')"
        )
    out: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for n, entry in enumerate(entries, 1):
        kid, sep, material = entry.partition(":")
        kid = kid.strip()
        if not sep:
            raise ConfigError(f"{source}: entry {n} is not of the form 'kid:base64url(32 bytes)'")
        if not _KID.fullmatch(kid):
            raise ConfigError(f"{source}: entry {n}: key id must be 1-32 characters of A-Z a-z 0-9 _ -")
        if kid in seen:
            raise ConfigError(f"{source}: key id {kid!r} appears twice")
        try:
            key = _b64d(material.strip())
        except (ValueError, binascii.Error):
            raise ConfigError(f"{source}: key {kid!r} is not valid base64url") from None
        if len(key) != KEY_BYTES:
            raise ConfigError(f"{source}: key {kid!r} is {len(key)} bytes; AES-256-GCM needs {KEY_BYTES}")
        seen.add(kid)
        out.append((kid, key))
    return out


def key_ring(keys: Iterable[tuple[str, bytes]] | Mapping[str, bytes], *, owner: str) -> tuple[dict[str, AESGCM], str]:
    """(kid -> AESGCM, primary kid) from ``(kid, 32-byte key)`` pairs, validated; the first pair is primary.
    Shared by every freshtoken cipher (secrets at rest, Temporal payloads)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    pairs = list(keys.items()) if isinstance(keys, Mapping) else list(keys)
    if not pairs:
        raise ConfigError(f"{owner} needs at least one key")
    ciphers: dict[str, AESGCM] = {}
    for kid, key in pairs:
        if not _KID.fullmatch(kid):
            raise ConfigError(f"encryption key id {kid!r} must be 1-32 characters of A-Z a-z 0-9 _ -")
        if len(key) != KEY_BYTES:
            raise ConfigError(f"encryption key {kid!r} must be {KEY_BYTES} bytes")
        if kid in ciphers:
            raise ConfigError(f"encryption key id {kid!r} appears twice")
        ciphers[kid] = AESGCM(key)
    return ciphers, pairs[0][0]


def key_spec_from_env(environ: Mapping[str, str] | None = None, *, var: str = ENV_VAR, why: str) -> str:
    """The key spec in ``var``; a :class:`ConfigError` saying ``why`` a key is required when it is missing."""
    env = os.environ if environ is None else environ
    spec = env.get(var)
    if spec is None or not spec.strip():
        raise ConfigError(
            f"{var} is not set: {why}. Set it to 'kid:base64url(32 bytes)' (comma-separate several keys to "
            "rotate; the first encrypts). Generate one with: python -c \"from freshtoken.embedded "
            'import generate_key; print(generate_key())"'
        )
    return spec


class AesGcmCodec:
    """A :class:`freshtoken.storage.SecretCodec` with AES-256-GCM and key rotation.

    ``keys`` are ``(kid, 32-byte key)`` pairs; the first is the primary (it encrypts).
    """

    def __init__(self, keys: Iterable[tuple[str, bytes]] | Mapping[str, bytes], *, aad: bytes = b"") -> None:
        self._ciphers, self.primary_kid = key_ring(keys, owner="AesGcmCodec")
        self._aad = aad

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, var: str = ENV_VAR) -> AesGcmCodec:
        """The codec from ``FRESHTOKEN_ENCRYPTION_KEYS``; :class:`ConfigError` if it is missing or invalid."""
        spec = key_spec_from_env(
            environ, var=var, why="the embedded runtime encrypts refresh tokens at rest and will not store them "
            "in plaintext"
        )
        return cls(parse_keys(spec, source=var))

    @classmethod
    def from_spec(cls, spec: str) -> AesGcmCodec:
        return cls(parse_keys(spec, source="encryption keys"))

    def bound(self, associated_data: str) -> AesGcmCodec:
        """The same keys, with ``associated_data`` (the account key) bound into every ciphertext."""
        clone = object.__new__(AesGcmCodec)
        clone._ciphers = self._ciphers
        clone.primary_kid = self.primary_kid
        clone._aad = associated_data.encode("utf-8")
        return clone

    @property
    def kids(self) -> list[str]:
        return list(self._ciphers)

    # -- SecretCodec --------------------------------------------------------------------------------
    def encode(self, plaintext: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        ct = self._ciphers[self.primary_kid].encrypt(nonce, plaintext.encode("utf-8"), self._aad or None)
        return f"{FORMAT_VERSION}.{self.primary_kid}.{_b64e(nonce)}.{_b64e(ct)}"

    def reusable(self, stored: str) -> bool:
        """True when ``stored`` is under the current primary key (so rewrapping has nothing to do for it)."""
        return stored.startswith(f"{FORMAT_VERSION}.{self.primary_kid}.")

    def decode(self, stored: str) -> str:
        from cryptography.exceptions import InvalidTag

        parts = stored.split(".") if isinstance(stored, str) else []
        if len(parts) != 4 or parts[0] != FORMAT_VERSION:
            raise DecryptionError("stored secret is not an encrypted value (expected 'v1.<kid>.<nonce>.<ct>')")
        _, kid, nonce_s, ct_s = parts
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise DecryptionError(
                f"stored secret is encrypted with key {kid!r}, which is not in {ENV_VAR} "
                f"(known: {', '.join(self._ciphers)})"
            )
        try:
            nonce, ct = _b64d(nonce_s), _b64d(ct_s)
            return cipher.decrypt(nonce, ct, self._aad or None).decode("utf-8")
        except (InvalidTag, ValueError, binascii.Error):
            raise DecryptionError(
                f"stored secret does not decrypt with key {kid!r} (wrong key, or a tampered or moved value)"
            ) from None

    @staticmethod
    def kid_of(stored: str) -> str | None:
        """The key id a stored value was encrypted with, without decrypting it."""
        parts = stored.split(".") if isinstance(stored, str) else []
        return parts[1] if len(parts) == 4 and parts[0] == FORMAT_VERSION else None

    def __repr__(self) -> str:  # never the key material
        return f"AesGcmCodec(primary={self.primary_kid!r}, kids={self.kids!r})"
