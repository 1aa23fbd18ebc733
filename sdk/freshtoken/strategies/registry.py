"""The built-in strategies and the lookup of a strategy by name (plugins add more through
``freshtoken_register_strategies``; :meth:`freshtoken.plugins.Plugins.strategies` merges them)."""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ConfigError
from .base import Strategy
from .client_credentials import ClientCredentials
from .github_app import GitHubAppInstallation
from .jwt_bearer import JWTBearer
from .refresh_token import RefreshTokenStrategy

REFRESH_TOKEN = RefreshTokenStrategy.name

#: The strategies the core ships, by name.
BUILTIN_STRATEGIES: tuple[type[Strategy], ...] = (
    RefreshTokenStrategy, ClientCredentials, JWTBearer, GitHubAppInstallation,
)


def builtin_strategies() -> dict[str, Strategy]:
    return {cls.name: cls() for cls in BUILTIN_STRATEGIES}


_BUILTIN = builtin_strategies()


def strategy_from(name: str, registry: Mapping[str, Strategy] | None = None) -> Strategy:
    """The strategy called ``name`` in ``registry`` (default: the built-in ones); :class:`ConfigError` naming
    the known ones otherwise."""
    known = _BUILTIN if registry is None else registry
    strategy = known.get(name)
    if strategy is None:
        raise ConfigError(f"unknown strategy {name!r}; known strategies: {', '.join(sorted(known)) or 'none'}")
    return strategy
