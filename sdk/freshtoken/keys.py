"""Account keys: ``{tenant}:{provider}:{account_id}``.

One refresher exists per key. The key is also the KV key the request path reads, so it obeys
Cloudflare KV's 512-byte key limit.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from .errors import InvalidAccountKey

#: Workers KV refuses keys longer than this many UTF-8 bytes.
MAX_KEY_BYTES = 512


def _check_part(name: str, value: str, *, allow_colon: bool) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidAccountKey(f"account key: {name} is empty")
    if not allow_colon and ":" in value:
        raise InvalidAccountKey(f"account key: {name} {value!r} must not contain ':'")
    # printable ASCII has none of these categories: only other text is looked at character by character
    for ch in () if value.isascii() and value.isprintable() else value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            raise InvalidAccountKey(
                f"account key: {name} contains a control character (U+{ord(ch):04X})"
            )
    if value != value.strip():
        raise InvalidAccountKey(f"account key: {name} {value!r} has leading or trailing white space")


@dataclass(frozen=True, slots=True)
class AccountKey:
    """A validated ``{tenant}:{provider}:{account_id}``; the account id may itself contain ``:``."""

    tenant: str
    provider: str
    account_id: str

    def __post_init__(self) -> None:
        _check_part("tenant", self.tenant, allow_colon=False)
        _check_part("provider", self.provider, allow_colon=False)
        _check_part("account_id", self.account_id, allow_colon=True)
        size = len(str(self).encode("utf-8"))
        if size > MAX_KEY_BYTES:
            raise InvalidAccountKey(
                f"account key is {size} bytes; the KV key limit is {MAX_KEY_BYTES} bytes"
            )

    @classmethod
    def parse(cls, text: str) -> AccountKey:
        if not isinstance(text, str):
            raise InvalidAccountKey(f"account key must be a string, not {type(text).__name__}")
        parts = text.split(":", 2)
        if len(parts) != 3:
            raise InvalidAccountKey(
                f"account key {text[:80]!r} is not of the form '{{tenant}}:{{provider}}:{{account_id}}'"
            )
        return cls(*parts)

    def __str__(self) -> str:
        return f"{self.tenant}:{self.provider}:{self.account_id}"
