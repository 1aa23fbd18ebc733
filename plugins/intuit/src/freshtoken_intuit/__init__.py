"""Intuit QuickBooks: 1-hour tokens; ``x_refresh_token_expires_in`` (~100 days, rolling) is tracked, and
the refresh token value can change on any refresh, so the latest is always stored."""

from __future__ import annotations

from collections.abc import Callable

from freshtoken import Provider, hookimpl


class IntuitProvider(Provider):
    name = "intuit"

    token_url: str = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    # Connecting: Intuit's authorization endpoint; QuickBooks Online Accounting is the scope this plugin is for.
    authorize_url: str = "https://appcenter.intuit.com/connect/oauth2"
    default_scopes: tuple[str, ...] = ("com.intuit.quickbooks.accounting",)


@hookimpl
def freshtoken_register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(IntuitProvider)
