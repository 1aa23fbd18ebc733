"""pluggy hook specifications: providers register themselves; alerting and metrics listen to events.

A plugin is a module (or object) named by an entry point in the group ``freshtoken``::

    [project.entry-points.freshtoken]
    acme = "freshtoken_acme"

and implements any of these hooks with ``@freshtoken.hookimpl``. Event hooks may return an awaitable
(e.g. an HTTP call to an alerting service); the runtime awaits it, and an alerter that fails is logged and
never affects a refresh.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .events import (
        AccountRecovered,
        AccountRegistered,
        AccountRemoved,
        BacklogRising,
        ReauthRequiredEvent,
        RefreshFailed,
        RefreshSucceeded,
        RefreshTokenExpiring,
        RotatedTokenNotDurable,
        TokenExpired,
    )
    from .provider import Provider
    from .strategies import Strategy

PROJECT = "freshtoken"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def freshtoken_register_providers(register: Callable[[type[Provider]], None]) -> None:
    """Register provider classes: call ``register(MyProvider)`` for each."""


@hookspec
def freshtoken_register_strategies(register: Callable[[type[Strategy]], None]) -> None:
    """Register strategies (how an account gets its next token, :mod:`freshtoken.strategies`): call
    ``register(MyStrategy)`` for each. The built-in ones (refresh_token, client_credentials, jwt_bearer,
    github_app_installation) are always there; a name is registered once."""


@hookspec
def freshtoken_refresh_succeeded(event: RefreshSucceeded) -> Awaitable[Any] | None:
    """A refresh succeeded and its token is in KV."""


@hookspec
def freshtoken_refresh_failed(event: RefreshFailed) -> Awaitable[Any] | None:
    """A refresh failed; ``event.alert`` says whether this failure should page someone."""


@hookspec
def freshtoken_reauth_required(event: ReauthRequiredEvent) -> Awaitable[Any] | None:
    """The grant is dead: the user must authorise again. Raised once per dead grant."""


@hookspec
def freshtoken_token_expired(event: TokenExpired) -> Awaitable[Any] | None:
    """The access token in KV expired without a replacement: the request path is failing now."""


@hookspec
def freshtoken_refresh_token_expiring(event: RefreshTokenExpiring) -> Awaitable[Any] | None:
    """The refresh token itself will lapse soon: ask the user to re-authorise before it does."""


@hookspec
def freshtoken_backlog_rising(event: BacklogRising) -> Awaitable[Any] | None:
    """The due backlog's projected drain time (due × latency / concurrency) approaches the refresh lead: add
    concurrency or hosts, or raise the rate limit, before tokens are served expired. Raised once per episode."""


@hookspec
def freshtoken_rotated_token_not_durable(event: RotatedTokenNotDurable) -> Awaitable[Any] | None:
    """The provider answered but the new state could not be saved (disk full, database locked): the tokens are
    held in memory (and ``event.rescued``: in the runtime's encrypted recovery file) while the save is retried.
    Raised once per failed save. Until it succeeds the account is stuck; if the process dies without a rescue,
    a rotating provider's grant is lost."""


@hookspec
def freshtoken_account_recovered(event: AccountRecovered) -> Awaitable[Any] | None:
    """An account that was failing (or needed re-authorisation) is healthy again."""


@hookspec
def freshtoken_account_registered(event: AccountRegistered) -> Awaitable[Any] | None:
    """An account was registered or replaced."""


@hookspec
def freshtoken_account_removed(event: AccountRemoved) -> Awaitable[Any] | None:
    """An account was removed."""
