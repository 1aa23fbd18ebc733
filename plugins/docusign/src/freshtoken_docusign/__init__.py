"""Docusign (Authorization Code Grant): tokens from ``/oauth/token`` on the account server of the
environment, ``account-d.docusign.com`` (demo, the developer environment) or ``account.docusign.com``
(production), chosen by the required, validated ``environment`` option, never a hand-edited URL
(developers.docusign.com/platform/auth/reference/obtain-access-token). The client authenticates with Basic
(integration key and secret key); a refresh returns a new access token and a new refresh token; the
lifetime is the response's ``expires_in``.

Connecting: ``/oauth/auth`` on the same account server (developers.docusign.com/platform/auth/reference/
obtain-consent). ``signature`` is the scope the eSignature API needs (asked for unless the operator names
others); ``extended`` is always asked for: without it every refreshed refresh token keeps the first one's
expiry (typically 30 days after the first login), with it each refresh issues one with a full lifetime
(developers.docusign.com/platform/auth/reference/scopes).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from freshtoken import Provider, ProviderRegistrar, hookimpl

HOSTS = {"demo": "account-d.docusign.com", "production": "account.docusign.com"}


class DocusignProvider(Provider):
    name = "docusign"
    default_scopes: tuple[str, ...] = ("signature",)  # the eSignature API's scope
    offline_scopes: tuple[str, ...] = ("extended",)  # refresh tokens with a full lifetime on every refresh

    environment: Literal["demo", "production"] = Field(
        description="demo (account-d.docusign.com) or production (account.docusign.com): required, since a "
        "refresh token sent to the other environment's server looks like a dead grant."
    )

    @model_validator(mode="before")
    @classmethod
    def _environment_host(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("environment") not in HOSTS:
            return data  # the Literal refuses anything else, naming the choices
        for field in ("token_url", "authorize_url"):
            if field in data:
                raise ValueError(f"environment sets {field} itself: set one or the other")
        host = HOSTS[data["environment"]]
        return {**data, "token_url": f"https://{host}/oauth/token", "authorize_url": f"https://{host}/oauth/auth"}


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(DocusignProvider)
