"""Every error freshtoken raises, by what the caller should do about it.

Refresh failures fall in four classes: *retryable* (network, timeout, 5xx, 429, ``temporarily_unavailable``),
*re-authorisation required* (``invalid_grant`` and provider equivalents: stop retrying), *misconfigured*
(``invalid_client``, ``unauthorized_client``: a human must fix the client), and *malformed response*
(retried, since proxies and outages produce garbage). Each keeps the provider's own error code and
description, cut to a safe length, and never a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Longest provider text kept in an error.
MAX_TEXT = 300


class FreshtokenError(Exception):
    """Base class of every freshtoken error."""


class ConfigError(FreshtokenError):
    """The configuration (file, environment, registration) is invalid; the message names what."""


class UnknownProvider(ConfigError):
    """No installed plugin registers a provider of this name."""


class InvalidAccountKey(FreshtokenError, ValueError):
    """An account key is not a valid ``{tenant}:{provider}:{account_id}``."""


class InvalidAccountData(ConfigError, ValueError):
    """Account data (a tenant, shop, subdomain...) fails the provider's validation."""


class NotRegistered(FreshtokenError, KeyError):
    """No account is registered under this key."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "account not registered"


class TokenUnavailable(FreshtokenError):
    """The request path found no usable token for a key (absent, expired, or about to expire)."""


#: What :func:`redact` appends to a text it cut.
ELLIPSIS = "…"


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Cut ``text`` to :data:`MAX_TEXT` characters, with every known secret value replaced.

    A secret is replaced in any letter case (a provider may lower-case what it echoes), longest first (one
    secret may contain another), and so is the beginning of a secret that an earlier cut left just before
    an ellipsis (a provider's error text is cut before the refresher, which knows the secrets, sees it).
    """
    out = text
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        out = re.sub(re.escape(secret), "[redacted]", out, flags=re.IGNORECASE)
        out = _redact_cut(out, secret)
    out = "".join(ch if ch.isprintable() else "?" for ch in out)
    if len(out) > MAX_TEXT:
        out = out[:MAX_TEXT] + ELLIPSIS
    return out


def _redact_cut(text: str, secret: str) -> str:
    """Replace the first 4 or more characters of ``secret`` where they end a cut text (just before ``…``)."""
    if ELLIPSIS not in text:
        return text
    low = secret.lower()
    positions = [i for i, ch in enumerate(text) if ch == ELLIPSIS]
    for pos in reversed(positions):  # right to left: earlier positions stay valid
        tail = text[max(0, pos - len(low)) : pos].lower()
        for k in range(min(len(low) - 1, len(tail)), 3, -1):
            if tail.endswith(low[:k]):
                text = text[: pos - k] + "[redacted]" + text[pos:]
                break
    return text


class RefreshError(FreshtokenError):
    """A refresh did not produce a token. Subclasses say what to do next."""

    kind: str = "error"
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        description: str | None = None,
        status: int | None = None,
    ) -> None:
        self.error = error
        self.description = description
        self.status = status
        super().__init__(message)

    def summary(self) -> str:
        """One line for logs and status: class, HTTP status, provider code, description."""
        parts = [self.kind]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.error:
            parts.append(self.error)
        text = " ".join(parts)
        detail = self.description or str(self)
        return f"{text}: {detail}" if detail else text


class RetryableError(RefreshError):
    """Try again later: network failure, timeout, 5xx, 429, ``temporarily_unavailable``."""

    kind = "retryable"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)  # type: ignore[arg-type]


class MalformedResponse(RetryableError):
    """The token endpoint answered something that is not a usable token response."""

    kind = "malformed_response"


class ReauthRequired(RefreshError):
    """The grant is dead (``invalid_grant`` or equivalent): the user must authorise again."""

    kind = "reauth_required"


class Misconfigured(RefreshError):
    """The client is wrong (``invalid_client``, ``unauthorized_client``, bad scope): a human must fix it."""

    kind = "misconfigured"


class StateConflict(FreshtokenError):
    """A state write was refused because this process no longer owns the account: its lease was taken over,
    or the stored generation moved on (another host refreshed it). The newer state wins; the caller stops."""


class AccountExists(ConfigError):
    """Registering over an account that already holds a grant needs an explicit replace."""


class ProviderMismatch(ConfigError):
    """An account key's provider part names neither the client's provider nor the client (and the client does
    not set ``provider_mismatch_ok``)."""


class UnsafeEndpoint(ConfigError):
    """A URL a secret would be sent to breaks the endpoint policy (scheme, host, address, userinfo)."""
