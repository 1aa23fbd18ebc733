"""Microsoft (issue 15): national clouds, Azure AD B2C and External ID by a validated ``cloud`` field (no
hand-edited token_url), ``scope`` on refresh as a documented option.

Sources:
* national cloud authority hosts (login.microsoftonline.us; login.partner.microsoftonline.cn, and MSAL's
  AzureChina login.chinacloudapi.cn):
  https://learn.microsoft.com/entra/identity-platform/authentication-national-cloud
  https://learn.microsoft.com/en-us/common-data-model/1.0om/api-reference/cdm/azurecloudendpoint
* B2C token endpoint https://{tenant}.b2clogin.com/{tenant}.onmicrosoft.com/{policy}/oauth2/v2.0/token:
  https://learn.microsoft.com/en-us/azure/active-directory-b2c/b2clogin
* External ID authority https://{tenant}.ciamlogin.com/{tenant id}:
  https://azuread.github.io/microsoft-authentication-library-for-objc/Classes/MSALCIAMAuthority.html
* SPA refresh tokens: 24 hours, not sliding: https://learn.microsoft.com/en-nz/entra/identity-platform/refresh-tokens
"""

import pytest
from freshtoken_microsoft import MicrosoftProvider
from pydantic import SecretStr, ValidationError

from freshtoken import InvalidAccountData, Plugins
from freshtoken.errors import ConfigError
from freshtoken.testing import ProviderConformance, kit_client

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.mark.parametrize(("cloud", "data", "url"), [
    ("global", {"tenant": TENANT}, f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"),
    ("usgov", {"tenant": TENANT}, f"https://login.microsoftonline.us/{TENANT}/oauth2/v2.0/token"),
    ("china", {"tenant": TENANT}, f"https://login.partner.microsoftonline.cn/{TENANT}/oauth2/v2.0/token"),
    ("china_legacy", {"tenant": TENANT}, f"https://login.chinacloudapi.cn/{TENANT}/oauth2/v2.0/token"),
    ("b2c", {"b2c_tenant": "contoso", "policy": "B2C_1_signupsignin"},
     "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signupsignin/oauth2/v2.0/token"),
    ("ciam", {"ciam_tenant": "contoso", "tenant": TENANT},
     f"https://contoso.ciamlogin.com/{TENANT}/oauth2/v2.0/token"),
])
def test_each_cloud_has_its_token_and_authorize_endpoint(cloud: str, data: dict[str, str], url: str) -> None:
    p = MicrosoftProvider(cloud=cloud)  # type: ignore[arg-type]
    p.validate_account_data(data)
    assert p.token_endpoint(data) == url
    assert p.authorization_endpoint(data) == url.removesuffix("/token") + "/authorize"


def test_the_cloud_comes_from_configuration_options() -> None:
    p = Plugins().provider("microsoft", {"cloud": "usgov"})
    assert p.token_endpoint({"tenant": TENANT}).startswith("https://login.microsoftonline.us/")
    with pytest.raises(ConfigError, match="cloud"):
        Plugins().provider("microsoft", {"cloud": "login.microsoftonline.us"})


def test_cloud_and_a_hand_set_token_url_are_refused_together() -> None:
    with pytest.raises(ValidationError, match="cloud 'usgov' sets token_url itself"):
        MicrosoftProvider(cloud="usgov", token_url="https://login.microsoftonline.us/{tenant}/oauth2/v2.0/token")


@pytest.mark.parametrize("data", [
    {"b2c_tenant": "contoso.evil.com", "policy": "B2C_1_x"}, {"b2c_tenant": "contoso", "policy": "B2C_1/../x"},
    {"b2c_tenant": "evil.com#", "policy": "p"}, {"b2c_tenant": "contoso", "policy": "p?x=1"},
    {"b2c_tenant": "Contoso", "policy": "p"}, {"b2c_tenant": "contoso"},
])
def test_b2c_host_parts_are_validated(data: dict[str, str]) -> None:
    with pytest.raises(InvalidAccountData):
        MicrosoftProvider(cloud="b2c").validate_account_data(data)


def test_scope_on_refresh_is_a_documented_option() -> None:
    p = MicrosoftProvider(refresh_scopes=("offline_access", "https://graph.microsoft.com/Mail.Read"))
    request = p.build_refresh_request(SecretStr("rt"), kit_client(p), {"tenant": TENANT})
    assert request.params["scope"] == "offline_access https://graph.microsoft.com/Mail.Read"
    plain = MicrosoftProvider().build_refresh_request(SecretStr("rt"), kit_client(p), {"tenant": TENANT})
    assert "scope" not in plain.params


class TestMicrosoftUsGovConformance(ProviderConformance):
    provider = MicrosoftProvider(cloud="usgov")
    account_data = {"tenant": TENANT}


class TestMicrosoftB2CConformance(ProviderConformance):
    provider = MicrosoftProvider(cloud="b2c")
    account_data = {"b2c_tenant": "contoso", "policy": "B2C_1A_signup_signin"}
    hostile_account_data = [{"b2c_tenant": "contoso.evil.com", "policy": "B2C_1A_signup_signin"},
                            {"b2c_tenant": "contoso", "policy": "B2C_1A/../../evil"}]


class TestMicrosoftExternalIdConformance(ProviderConformance):
    provider = MicrosoftProvider(cloud="ciam")
    account_data = {"ciam_tenant": "contoso", "tenant": TENANT}
