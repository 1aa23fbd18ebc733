"""Every error freshtoken raises, by what the caller should do about it.

Refresh failures fall in four classes: *retryable* (network, timeout, 5xx, 429, ``temporarily_unavailable``),
*re-authorisation required* (``invalid_grant`` and provider equivalents: stop retrying), *misconfigured*
(``invalid_client``, ``unauthorized_client``: a human must fix the client), and *malformed response*
(retried, since proxies and outages produce garbage). Each keeps the provider's own error code and
description, cut to a safe length, and never a secret.
"""

from __future__ import annotations

from collections.abc import Iterable

# Re-exported: there is one redaction, in freshtoken.redaction.
from .redaction import ELLIPSIS as ELLIPSIS
from .redaction import MAX_TEXT as MAX_TEXT
from .redaction import redact as redact


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
    """The request path found no usable token for a key; ``reason`` says why (``unknown``, ``reauth_required``,
    ``expired``, ``unsupported_version``: see docs/reading-tokens.md)."""

    def __init__(self, message: str = "no usable token", *, reason: str = "unknown") -> None:
        super().__init__(message)
        self.reason = reason


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

    def summary(self, secrets: Iterable[str | None] = (), *, client_id: str | None = None) -> str:
        """One line for logs and status: class, HTTP status, provider code, description, redacted.

        The provider's code and description are redacted *together* (a secret split between them is found)
        with :func:`~freshtoken.redaction.redact`, then cut: pass every secret the caller knows.
        """
        head = self.kind if self.status is None else f"{self.kind} HTTP {self.status}"
        detail = self.description or str(self)
        fields = [f for f in (self.error, detail) if f]
        if not fields:
            return head
        room = max(MAX_TEXT - len(head) - 2, 40)
        text = redact(fields, secrets, client_id=client_id, joiner=": ", limit=room)
        return f"{head} {text}" if self.error else f"{head}: {text}"


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


class UnexplainedClientError(MalformedResponse):
    """An HTTP 4xx (not 408/425/429) whose body names no error code. Retried like a malformed response (a proxy
    or WAF may say it for a moment); after ``RetryPolicy.client_error_retries`` of them in a row the account is
    misconfigured: alerted, then retried slowly so that a fixed configuration heals."""

    kind = "unexplained_client_error"


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


class KVError(FreshtokenError):
    """A KV backend refused or failed a read or a write (limits, transport, the store's own error). Every
    backend's error derives from it, so a host can catch one class whatever KV it runs on."""
