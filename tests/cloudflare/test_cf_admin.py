"""Admin routes and authentication (pure functions; the full surface runs on workerd in test_cf_workerd)."""

from __future__ import annotations

import json

import pytest

from freshtoken.cloudflare import admin
from freshtoken.cloudflare.durable_object import clients_from_env, secret_var
from freshtoken.errors import (
    AccountExists,
    ConfigError,
    FreshtokenError,
    InvalidAccountKey,
    NotRegistered,
    ProviderMismatch,
    RefreshError,
)

from .harness import Headers


@pytest.mark.parametrize(
    ("method", "path", "action", "key"),
    [
        ("POST", "/admin/accounts/acme%3Ageneric%3Au-1", "register", "acme:generic:u-1"),
        ("PUT", "/admin/accounts/acme:generic:u-1", "register", "acme:generic:u-1"),
        ("GET", "/admin/accounts/acme:generic:u%2F1", "status", "acme:generic:u/1"),
        ("POST", "/admin/accounts/acme:generic:u-1/refresh", "refresh", "acme:generic:u-1"),
        ("DELETE", "/admin/accounts/acme:generic:u-1?revoke=false", "remove", "acme:generic:u-1"),
    ],
)
def test_routes(method: str, path: str, action: str, key: str):
    route = admin.parse(method, "https://gw.example" + path)
    assert route is not None and route.action == action and route.key == key


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/admin/accounts/"), ("GET", "/other/x"), ("PATCH", "/admin/accounts/k"),
     ("GET", "/admin/accounts/k/refresh"), ("POST", "/admin/accounts/k/a/b")],
)
def test_non_routes(method: str, path: str):
    assert admin.parse(method, "https://gw.example" + path) is None


class Req:
    def __init__(self, auth: str | None) -> None:
        self.headers = Headers([("authorization", auth)] if auth is not None else [])


class Env:
    FRESHTOKEN_ADMIN_TOKEN = "s3cret-token"


def test_authorize():
    assert admin.authorize(Req("Bearer s3cret-token"), Env) is None
    assert admin.authorize(Req("bearer s3cret-token"), Env) is None
    for bad in (None, "", "Bearer", "Bearer s3cret-tokeN", "Basic s3cret-token", "Bearer s3cret-token2"):
        denied = admin.authorize(Req(bad), Env)
        assert denied is not None and denied.status == 401
        assert denied.headers["www-authenticate"].startswith("Bearer")
    # no secret configured: the admin surface is closed, not open
    denied = admin.authorize(Req("Bearer "), object())
    assert denied is not None and denied.status == 503


def test_clients_from_env_takes_secrets_from_secrets_only():
    class E:
        FRESHTOKEN_CLIENTS = json.dumps({"acme-prod": {"provider": "generic", "client_id": "id",
                                                       "provider_options": {"token_url": "https://t"}}})
        FRESHTOKEN_CLIENT_SECRET_ACME_PROD = "sec"

    clients = clients_from_env(E)
    assert secret_var("acme-prod") == "FRESHTOKEN_CLIENT_SECRET_ACME_PROD"
    client = clients["acme-prod"]
    assert client.client_secret is not None and client.client_secret.get_secret_value() == "sec"
    assert client.provider_options == {"token_url": "https://t"}

    class Leaky:
        FRESHTOKEN_CLIENTS = json.dumps({"a": {"provider": "generic", "client_id": "i", "client_secret": "x"}})

    with pytest.raises(ConfigError, match="secrets belong"):
        clients_from_env(Leaky)

    class Broken:
        FRESHTOKEN_CLIENTS = "{nope"

    with pytest.raises(ConfigError, match="not valid JSON"):
        clients_from_env(Broken)
    assert clients_from_env(object()) == {}


RT = "rt-Zq8Lk2Vb7Nw4Xs1Pd6Hf9Jc3Mg5Tr0Ya"


@pytest.mark.parametrize("exc", [
    AccountExists(f"account exists (given {RT}); register with ?replace=true"),
    ProviderMismatch(f"provider mismatch for {RT}"),
    ConfigError("bad client configuration: client_secret=cs-Hk3Lm9Qw2Er7Ty5Ui1Op"),
    RefreshError(f"the endpoint answered {RT}"),
    InvalidAccountKey(f"bad key {RT}"),
])
def test_error_replies_never_quote_a_secret(exc: FreshtokenError):
    """The Durable Object's admin replies carried ``str(exc)[:300]`` as it was; now the one redaction (the embedded
    admin API's) runs over it: the request's secrets, the clients' secrets, the admin token, token-like runs."""
    reply = admin.error_reply(exc, "acme:generic:u-1", [RT, "cs-Hk3Lm9Qw2Er7Ty5Ui1Op", None])
    body = json.loads(reply.body if isinstance(reply.body, str) else reply.body.decode())
    assert RT not in json.dumps(body) and "cs-Hk3Lm9Qw2Er7Ty5Ui1Op" not in json.dumps(body)
    assert body["error"] in {"account_exists", "provider_mismatch", "invalid_request"}
    assert "[redacted]" in body["detail"]


def test_error_replies_keep_what_the_caller_needs():
    reply = admin.error_reply(AccountExists("an account is registered; register with ?replace=true"), "k", [RT])
    body = json.loads(reply.body if isinstance(reply.body, str) else reply.body.decode())
    assert (reply.status, body["error"]) == (409, "account_exists") and "replace=true" in body["detail"]
    assert admin.error_reply(NotRegistered("k"), "k", []).status == 404


def test_refuse_caller_without_a_gateway_key_or_open_gateway_serves_nobody():
    from freshtoken.cloudflare import refuse_caller

    class Keyed:
        GATEWAY_KEY = "gw-key-1"

    class Open:
        OPEN_GATEWAY = "true"

    assert refuse_caller(Req("Bearer gw-key-1"), Keyed) is None
    for bad in (None, "Bearer gw-key-2", "gw-key-1", "Basic gw-key-1"):
        denied = refuse_caller(Req(bad), Keyed)
        assert denied is not None and denied.status == 401
    assert refuse_caller(Req(None), Open) is None
    denied = refuse_caller(Req("Bearer gw-key-1"), object())
    assert denied is not None and denied.status == 500 and "gateway_not_configured" in denied.body


def test_gateway_reader_reads_under_the_refreshers_prefix():
    import asyncio

    from freshtoken.cloudflare import GatewayReader

    class Binding:
        def __init__(self) -> None:
            self.asked: list[str] = []

        async def get(self, key: str, *args: object) -> None:
            self.asked.append(key)
            return None

    class Env:
        FRESHTOKEN_KV_PREFIX = "tenant-a/"
        TOKENS = Binding()

    reading = asyncio.run(GatewayReader.from_env(Env).read("acme:generic:u-1"))
    assert reading.reason.value == "unknown" and Env.TOKENS.asked == ["tenant-a/acme:generic:u-1"]
