"""Docusign: the kit on the demo and production account servers, and the environment option.

Sources: https://developers.docusign.com/platform/auth/reference/obtain-access-token (POST /oauth/token, Basic
client authentication, a refresh returns a new refresh token) and Docusign's IAM SDK reference
("For the developer environment, the URI is https://account-d.docusign.com/oauth/token; for the production
environment, the URI is https://account.docusign.com/oauth/token"). The documented response and error bodies
are replayed in test_docusign_replay.py.
"""

import pytest
from freshtoken_docusign import DocusignProvider

from freshtoken import ConfigError, Plugins
from freshtoken.testing import ProviderConformance

P = DocusignProvider(environment="demo")


class TestDocusignDemoConformance(ProviderConformance):
    provider = P


class TestDocusignProductionConformance(ProviderConformance):
    provider = DocusignProvider(environment="production")


def test_environments() -> None:
    assert P.token_endpoint({}) == "https://account-d.docusign.com/oauth/token"
    production = Plugins().provider("docusign", {"environment": "production"})
    assert production.token_endpoint({}) == "https://account.docusign.com/oauth/token"
    with pytest.raises(ConfigError, match="environment"):
        Plugins().provider("docusign", {"environment": "account.docusign.com"})
    with pytest.raises(ConfigError, match="token_url"):
        Plugins().provider("docusign", {"environment": "production", "token_url": "https://account.docusign.com/x"})
