"""``refresh_token``: a user grant refreshed as RFC 6749 §6 says — the provider's own request and parsing,
exactly as before strategies existed."""

from __future__ import annotations

from ..errors import ReauthRequired
from ..http import TokenRequest
from .base import Exchange, Strategy


class RefreshTokenStrategy(Strategy):
    name = "refresh_token"
    uses_refresh_token = True

    def build_request(self, exchange: Exchange) -> TokenRequest:
        if exchange.refresh_token is None:
            raise ReauthRequired("no refresh token stored")
        return exchange.provider.build_refresh_request(exchange.refresh_token, exchange.client, exchange.account_data)
