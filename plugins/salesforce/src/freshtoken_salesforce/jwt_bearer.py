"""Salesforce's OAuth 2.0 JWT bearer flow (server-to-server): the ``jwt_bearer`` strategy with Salesforce's claims.

help.salesforce.com "OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration"
(https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm): ``iss`` the connected app's
consumer key (the client's ``client_id``), ``sub`` the user's Salesforce user name (account data
``username``), ``aud`` ``https://login.salesforce.com`` (``https://test.salesforce.com`` for a sandbox org),
``exp`` within 3 minutes; signed RS256 with the key whose certificate the connected app holds (the client's
``private_key``). The answer has ``access_token``, ``instance_url`` and no refresh token and no ``expires_in``
(the session timeout is the lifetime: ``default_lifetime``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from freshtoken import OAuthClient

#: My Domain hosts of sandbox orgs, and the test login host.
SANDBOX_HOST = re.compile(r"(?i)test\.salesforce\.com|.+\.sandbox\.my\.salesforce\.com|.+--.+\.my\.salesforce\.com")


def jwt_bearer_options(account_data: Mapping[str, str], configured: Mapping[str, Any]) -> dict[str, Any]:
    host = account_data.get("my_domain", "")
    options: dict[str, Any] = {
        "subject_field": "username",
        "subject_required": True,
        "audience": "https://test.salesforce.com" if SANDBOX_HOST.fullmatch(host) else "https://login.salesforce.com",
        "lifetime": 170,  # Salesforce: exp within 3 minutes
    }
    options.update(configured)
    return options


class JWTBearerOptions:
    """Mixed into the Salesforce provider: ``options_for("jwt_bearer", ...)`` with Salesforce's claims."""

    def options_for(self, strategy: str, client: OAuthClient, account_data: Mapping[str, str]) -> dict[str, Any]:
        configured = super().options_for(strategy, client, account_data)  # type: ignore[misc]
        return jwt_bearer_options(account_data, configured) if strategy == "jwt_bearer" else dict(configured)
