"""Docusign (Authorization Code Grant): tokens from ``/oauth/token`` on the account server of the
environment, ``account-d.docusign.com`` (demo, the developer environment) or ``account.docusign.com``
(production), chosen by the required, validated ``environment`` option, never a hand-edited URL
(developers.docusign.com/platform/auth/reference/obtain-access-token). The client authenticates with Basic
(integration key and secret key); a refresh returns a new access token and a new refresh token; the
lifetime is the response's ``expires_in``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from freshtoken import Provider, ProviderRegistrar, hookimpl

HOSTS = {"demo": "account-d.docusign.com", "production": "account.docusign.com"}


class DocusignProvider(Provider):
    name = "docusign"

    environment: Literal["demo", "production"] = Field(
        description="demo (account-d.docusign.com) or production (account.docusign.com): required, since a "
        "refresh token sent to the other environment's server looks like a dead grant."
    )

    @model_validator(mode="before")
    @classmethod
    def _environment_host(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("environment") not in HOSTS:
            return data  # the Literal refuses anything else, naming the choices
        if "token_url" in data:
            raise ValueError("environment sets token_url itself: set one or the other")
        return {**data, "token_url": f"https://{HOSTS[data['environment']]}/oauth/token"}


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(DocusignProvider)
