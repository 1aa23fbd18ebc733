"""The endpoint policy at configuration time: every URL a secret goes to is checked when the configuration is
read (naming the file and the field, never the URL's path or query), and the one switch,
``[security] allow_private_networks``, reaches the runtime that sends the requests."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from freshtoken.errors import UnsafeEndpoint
from freshtoken.host.config import load_settings, settings_from_dict
from freshtoken.host.factory import build_host
from tests.admin.support import write_config
from tests.core.hostile_endpoints import ALWAYS_REFUSED, CANARY_QUERY, PRIVATE, with_query

TOML_SAFE = [u for u in ALWAYS_REFUSED if '"' not in u and "\\" not in u]


@pytest.mark.parametrize("url", TOML_SAFE + PRIVATE)
def test_an_unsafe_token_url_is_refused_when_the_file_is_read(env: Path, url: str) -> None:
    path = write_config(env, with_query(url))
    with pytest.raises(UnsafeEndpoint) as info:
        load_settings(path)
    text = str(info.value)
    assert text.startswith(f"{path}: clients.sandbox.provider_options.token_url: "), text
    assert CANARY_QUERY not in text


@pytest.mark.parametrize("field", ["revocation_url", "issuer"])
def test_revocation_and_issuer_urls_are_checked_too(env: Path, field: str) -> None:
    data = {"clients": {"c": {"provider": "generic", "client_id": "cid",
                              "provider_options": {field: "https://[::ffff:169.254.169.254]/x"}}}}
    with pytest.raises(UnsafeEndpoint, match=rf"clients\.c\.provider_options\.{field}: .*metadata"):
        settings_from_dict(data)


def test_private_networks_need_the_switch(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from freshtoken.egress.endpoint_policy import EndpointPolicy
    from freshtoken.egress.guarded_transport import GuardedTransport

    url = "https://10.20.30.40/oauth/token"
    with pytest.raises(UnsafeEndpoint, match=r"private address; to allow private networks set \[security\] "
                                             r"allow_private_networks = true"):
        load_settings(write_config(env, url))
    settings = load_settings(write_config(env, url, extra="\n[security]\nallow_private_networks = true\n"))
    assert settings.endpoint_policy() == EndpointPolicy(allow_private_networks=True)
    host = build_host(settings)
    try:  # threaded to what sends the requests, and to what checks the resolved address
        assert host.runtime.http.policy.allow_private_networks
        assert isinstance(host.runtime.http._http()._transport, GuardedTransport)
        assert host.runtime.http._http()._transport.policy.allow_private_networks
    finally:
        asyncio.run(host.aclose())
    # the environment override of the one switch
    monkeypatch.setenv("FRESHTOKEN_SECURITY__ALLOW_PRIVATE_NETWORKS", "true")
    assert load_settings(write_config(env, url)).security.allow_private_networks
    # the switch never allows what is never allowed
    with pytest.raises(UnsafeEndpoint, match="metadata"):
        load_settings(write_config(env, "https://169.254.169.254/token"))
    with pytest.raises(UnsafeEndpoint, match="plain http"):
        load_settings(write_config(env, "http://10.20.30.40/token"))


def test_loopback_http_is_accepted(env: Path, sandbox) -> None:
    for url in (sandbox.token_url, sandbox.token_url.replace("127.0.0.1", "localhost")):
        assert load_settings(write_config(env, url)).clients["sandbox"].provider_options["token_url"] == url


def test_the_cloudflare_rest_base_url_carries_a_bearer_token(env: Path, sandbox) -> None:
    base = {"kv": {"backend": "cloudflare-rest", "account_id": "a", "namespace_id": "n", "api_token": "t"}}
    with pytest.raises(UnsafeEndpoint, match=r"kv\.base_url: .*plain http"):
        settings_from_dict({"kv": {**base["kv"], "base_url": "http://api.example.com/client/v4"}})
    assert settings_from_dict({"kv": {**base["kv"], "base_url": "http://127.0.0.1:9/client/v4"}}).kv.base_url


@pytest.mark.parametrize("hook", ["http://hooks.example/services/PLANTED", "https://169.254.169.254/PLANTED",
                                  "https://user:PLANTED@hooks.slack.com/services/x"])
def test_the_slack_webhook_is_checked(env: Path, sandbox, monkeypatch: pytest.MonkeyPatch, hook: str) -> None:
    monkeypatch.setenv("FT_HOOK", hook)
    path = write_config(env, sandbox.token_url, extra='\n[alerting]\nslack_webhook = { env = "FT_HOOK" }\n')
    with pytest.raises(UnsafeEndpoint) as info:
        build_host(load_settings(path))
    assert "alerting.slack_webhook" in str(info.value) and "PLANTED" not in str(info.value)
