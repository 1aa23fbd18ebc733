"""``[admin]``: scoped tokens and allowed host names; bad values are clear errors naming the field, never a
token value."""

from __future__ import annotations

from pathlib import Path

import pytest

from freshtoken.admin import check_bind
from freshtoken.admin.server import configured_tokens
from freshtoken.errors import ConfigError
from freshtoken.host.config import load_settings, settings_from_dict
from tests.admin.support import ADMIN_TOKEN, write_config

SCOPED = """
[admin]
token = { env = "FT_TEST_ADMIN_TOKEN" }
allowed_hosts = ["Admin.Internal.", "10.1.2.3", "[fd00::1]"]
[[admin.tokens]]
token = { env = "FT_ACME" }
scope = "acme:*"
[[admin.tokens]]
token = "literal-token-for-all"
scope = "*"
"""


def test_scoped_tokens_and_allowed_hosts(env: Path, sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FT_ACME", "PLANTED-acme-token-1")
    settings = load_settings(write_config(env, sandbox.token_url, admin_token=False, extra=SCOPED))
    assert settings.admin.allowed_hosts == ["admin.internal", "10.1.2.3", "fd00::1"]
    tokens = configured_tokens(settings)
    assert [(t.token, str(t.scope)) for t in tokens] == [
        (ADMIN_TOKEN, "*"), ("PLANTED-acme-token-1", "acme:*"), ("literal-token-for-all", "*")]
    assert "PLANTED-acme-token-1" not in repr(tokens) and "PLANTED-acme-token-1" in settings.secret_values()
    check_bind("0.0.0.0", tokens)  # any token turns authentication on

    monkeypatch.delenv("FT_ACME")
    with pytest.raises(ConfigError, match=r"admin\.tokens\[0\]\.token: environment variable FT_ACME is not set"):
        configured_tokens(settings)
    monkeypatch.setenv("FT_ACME", ADMIN_TOKEN)
    with pytest.raises(ConfigError, match="two admin tokens are the same") as info:
        configured_tokens(settings)
    assert ADMIN_TOKEN not in str(info.value)


@pytest.mark.parametrize(("admin", "fragment"), [
    ({"tokens": [{"token": "x", "scope": "acme"}]}, "admin.tokens.0.scope: scope must be"),
    ({"tokens": [{"token": "x", "scope": "acme:generic:*"}]}, "admin.tokens.0.scope"),
    ({"tokens": [{"token": "x", "scope": ":*"}]}, "admin.tokens.0.scope"),
    ({"tokens": [{"token": "x"}]}, "admin.tokens.0.scope: Field required"),
    ({"tokens": [{"scope": "*"}]}, "admin.tokens.0.token: Field required"),
    ({"allowed_hosts": ["http://admin.example"]}, "admin.allowed_hosts: 'http://admin.example' is not a host name"),
    ({"allowed_hosts": ["admin.example:8787"]}, "is not a host name"),
    ({"allowed_hosts": ["*.example"]}, "is not a host name"),
    ({"allowed_hosts": ["[fd00::zz]"]}, "is not a host name or an IP address"),
])
def test_bad_admin_settings_are_clear_errors(admin: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_dict({"admin": admin})
    assert fragment in str(info.value), str(info.value)
    assert "'x'" not in str(info.value)


def test_provider_mismatch_ok_reaches_the_client() -> None:
    s = settings_from_dict({"clients": {"a": {"provider": "generic", "client_id": "c", "provider_mismatch_ok": True},
                                        "b": {"provider": "generic", "client_id": "c"}}})
    assert s.oauth_client("a").provider_mismatch_ok is True
    assert s.oauth_client("b").provider_mismatch_ok is False
