"""Strategies: how an account gets its next token. The refresher's state machine (single flight, ordering,
alarm, retries, alerts) is one; only the exchange varies.

* ``refresh_token`` — a user grant (RFC 6749 §6): today's behaviour, the provider's own request and parsing;
* ``client_credentials`` — RFC 6749 §4.4: the client's own credential (secret, or a private key for
  ``private_key_jwt``); no per-account secret at all;
* ``jwt_bearer`` — RFC 7523 §2.1: an assertion signed with the client's private key (a service-account key);
* ``github_app_installation`` — a GitHub App's JWT (RS256) as Bearer to
  ``{api}/app/installations/{installation_id}/access_tokens``.

A provider says which it supports (``Provider.strategies``) and configures them (``Provider.options_for``,
``provider_options.strategy_options``); an account says which it uses (``Registration.strategy``). A plugin
adds one with the ``freshtoken_register_strategies`` hook. Machine strategies store no refresh token, and a
rejected credential is a configuration problem (``misconfigured``: alerted, retried slowly), never a re-auth.
"""

from __future__ import annotations

from .base import Exchange, MachineStrategy, Strategy
from .registry import BUILTIN_STRATEGIES, REFRESH_TOKEN, builtin_strategies, strategy_from

__all__ = [
    "BUILTIN_STRATEGIES",
    "REFRESH_TOKEN",
    "Exchange",
    "MachineStrategy",
    "Strategy",
    "builtin_strategies",
    "strategy_from",
]
