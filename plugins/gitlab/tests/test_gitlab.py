"""GitLab: the kit on gitlab.com and on an allowlisted self-managed host, the allowlist, and the documented
refresh response.

Source of the replayed body (field set and values): the "To retrieve a new access_token, use the
refresh_token parameter" example of https://docs.gitlab.com/ee/api/oauth2.html (authorization code flow):
access_token, token_type "bearer", expires_in 7200, refresh_token, created_at. The same page: a refresh
"invalidates the existing access_token and refresh_token" and sends new ones.
"""

import pytest
from freshtoken_gitlab import GitLabProvider
from pydantic import ValidationError

from freshtoken import InvalidAccountData, TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay

P = GitLabProvider()
SELF_MANAGED = GitLabProvider(allowed_hosts=("gitlab.example.com", "git.acme.internal"))
DOCUMENTED = {"access_token": "c97d1fe52119f38c7f67f0a14db68d60caa35ddc86fd12401718b649dcfa9c68",
              "token_type": "bearer", "expires_in": 7200,
              "refresh_token": "8257e65c97202ed1726cf9571600918f3bffb2544b26e00a61df9897668c33a1",
              "created_at": 1607635748}


class TestGitLabConformance(ProviderConformance):
    provider = P
    account_data = {"host": "gitlab.com"}
    lifetime = 7200
    hostile_account_data = [{"host": h} for h in ("gitlab.example.com", "gitlab.com.evil.com", "evil.com",
                                                  "GITLAB.COM", "gitlab.com:443", "gitlab.com/", "127.0.0.1")]


class TestGitLabSelfManagedConformance(ProviderConformance):
    provider = SELF_MANAGED
    account_data = {"host": "gitlab.example.com"}
    valid_account_data = [{"host": "git.acme.internal"}]
    hostile_account_data = [{"host": "gitlab.com"}, {"host": "gitlab.example.com.evil.com"}]


def test_documented_refresh_response() -> None:
    tokens = replay(P, 200, DOCUMENTED)
    assert isinstance(tokens, TokenSet) and tokens.token_type == "Bearer"
    assert tokens.expires_at == KIT_NOW + 7200 and tokens.refresh_token is not None


def test_a_host_must_be_allowlisted() -> None:
    assert P.token_endpoint({"host": "gitlab.com"}) == "https://gitlab.com/oauth/token"
    with pytest.raises(InvalidAccountData, match="not in allowed_hosts"):
        P.validate_account_data({"host": "gitlab.example.com"})
    assert SELF_MANAGED.token_endpoint({"host": "gitlab.example.com"}) == "https://gitlab.example.com/oauth/token"


@pytest.mark.parametrize("hosts", [(), ("GitLab.example.com",), ("gitlab.example.com:8443",),
                                   ("gitlab.example.com/path",), ("https://gitlab.example.com",)])
def test_bad_allowlists_are_refused(hosts: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError, match="allowed_hosts"):
        GitLabProvider(allowed_hosts=hosts)
