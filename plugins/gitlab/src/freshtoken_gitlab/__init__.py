"""GitLab (gitlab.com and self-managed instances): 2-hour tokens; every refresh invalidates the access and
refresh tokens it replaces and returns new ones (docs.gitlab.com/ee/api/oauth2.html).

The instance is the account's ``host`` field. A pattern cannot tell a company's GitLab from any other host,
so a host is accepted only when the operator lists it in ``allowed_hosts`` (default: ``gitlab.com``);
anything else is refused before a request, and so the client secret, goes anywhere. GitLab's documented
refresh request repeats the ``redirect_uri``: set ``refresh_params = {redirect_uri = "..."}`` if your
instance asks for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field, field_validator

from freshtoken import AuthMethod, InvalidAccountData, Provider, ProviderRegistrar, hookimpl

#: A DNS name of two or more lower-case labels, no port, no trailing dot (the allowlist decides the rest).
HOST = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+"


class GitLabProvider(Provider):
    name = "gitlab"
    account_fields: ClassVar[Mapping[str, str]] = {"host": HOST}

    token_url: str = "https://{host}/oauth/token"
    authorize_url: str = "https://{host}/oauth/authorize"
    auth_method: AuthMethod = "client_secret_post"
    default_lifetime: float | None = 7200.0  # documented: expires_in 7200
    allowed_hosts: tuple[str, ...] = Field(
        default=("gitlab.com",),
        description="GitLab hosts accounts may name: gitlab.com and your self-managed instances.",
    )

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("allowed_hosts is empty: name gitlab.com or your instance's host")
        for host in value:
            if not re.fullmatch(HOST, host):
                raise ValueError(f"allowed_hosts: {host[:80]!r} is not a lower-case host name (no port, no path)")
        return value

    def _check_host(self, data: Mapping[str, str]) -> None:
        host = data.get("host")
        if host is not None and host not in self.allowed_hosts:
            raise InvalidAccountData(
                f"{self.name}: account data 'host' = {host[:80]!r} is not valid "
                f"(not in allowed_hosts: {', '.join(self.allowed_hosts)})"
            )

    def validate_account_data(self, data: Mapping[str, str]) -> dict[str, str]:
        out = super().validate_account_data(data)
        self._check_host(out)
        return out

    def token_endpoint(self, account_data: Mapping[str, str]) -> str:
        self._check_host(account_data)
        return super().token_endpoint(account_data)

    def authorization_endpoint(self, account_data: Mapping[str, str]) -> str:
        self._check_host(account_data)
        return super().authorization_endpoint(account_data)


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(GitLabProvider)
