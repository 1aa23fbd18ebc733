"""How secrets are kept at rest: the :class:`SecretCodec` contract and the plaintext codec.

The state (:mod:`freshtoken.state`) passes every secret through a codec when it is saved and loaded; a
runtime's storage (:mod:`freshtoken.storage`) chooses which. The embedded runtime uses AES-GCM
(:mod:`freshtoken.embedded.crypto`).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class SecretCodec(Protocol):
    """Encodes secret strings for storage at rest (e.g. AES-GCM) and decodes them back."""

    def encode(self, plaintext: str) -> str: ...

    def decode(self, stored: str) -> str: ...

    # Optional: ``reusable(stored) -> bool`` — True when a stored value may be kept as it is for the same
    # plaintext and account (it is under the current key). Without it every save encodes afresh.


class PlaintextCodec:
    """Stores secrets as they are. Only for storage that is already private to the process (tests,
    in-memory runs); the embedded runtime refuses to start without an encryption key."""

    def encode(self, plaintext: str) -> str:
        return plaintext

    def decode(self, stored: str) -> str:
        return stored
