"""How a plugin adds a strategy (the ``freshtoken_register_strategies`` hook) and declares it on its provider;
the registry's guarantees (built-ins always there, a name registered once, a broken plugin isolated); the
refresh_token strategy is today's behaviour; the generic provider's machine strategies find the token endpoint
by discovery."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import pytest

from freshtoken import ConfigError, OAuthClient, Plugins, Provider, TokenReader, hookimpl
from freshtoken.http import TokenRequest
from freshtoken.sandbox.server import SandboxServer
from freshtoken.strategies import BUILTIN_STRATEGIES, Exchange, Strategy
from freshtoken.strategies.client_credentials import ClientCredentials

from .conftest import CLIENT_ID, CLIENT_SECRET, HOUR, KeyPair, MachineHost


class AudienceCredentials(ClientCredentials):
    """A plugin's strategy: client credentials with the account's audience (Auth0-style), per account."""

    name = "audience_credentials"
    account_fields = {"audience": "the API the token is for"}

    def build_request(self, exchange: Exchange) -> TokenRequest:
        request = super().build_request(exchange)
        request.params["audience"] = exchange.account_data["audience"]
        return request


class AcmeProvider(Provider):
    name = "acme"
    strategies: ClassVar[tuple[str, ...]] = ("audience_credentials",)


class AcmePlugin:
    @hookimpl
    def freshtoken_register_providers(self, register: Callable[[type[Provider]], None]) -> None:
        register(AcmeProvider)

    @hookimpl
    def freshtoken_register_strategies(self, register: Callable[[type[Strategy]], None]) -> None:
        register(AudienceCredentials)


def test_the_registry_has_the_builtins_and_what_plugins_add() -> None:
    plugins = Plugins(entry_points=False)
    assert set(plugins.strategies()) == {s.name for s in BUILTIN_STRATEGIES} == {
        "refresh_token", "client_credentials", "jwt_bearer", "github_app_installation"}
    plugins.register(AcmePlugin(), name="acme")
    assert isinstance(plugins.strategies()["audience_credentials"], AudienceCredentials)


def test_a_name_is_registered_once_and_a_broken_plugin_is_isolated() -> None:
    class Clash:
        @hookimpl
        def freshtoken_register_strategies(self, register: Callable[[type[Strategy]], None]) -> None:
            class Fake(ClientCredentials):
                name = "client_credentials"

            register(Fake)

    plugins = Plugins(entry_points=False)
    plugins.register(Clash(), name="clash")
    with pytest.raises(ConfigError, match="'client_credentials' is registered twice: by 'freshtoken' and 'clash'"):
        plugins.strategies()

    class Broken:
        @hookimpl
        def freshtoken_register_strategies(self, register: Callable[[type[Strategy]], None]) -> None:
            register(int)  # type: ignore[arg-type]

    plugins = Plugins(entry_points=False)
    plugins.register(Broken(), name="broken")
    assert "refresh_token" in plugins.strategies()
    assert [b.name for b in plugins.broken] == ["broken"]


async def test_a_plugin_strategy_refreshes_ahead_of_expiry(
    machine_sandbox: SandboxServer, host_factory: Callable[..., MachineHost]
) -> None:
    client = OAuthClient(name="acme", provider="acme", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                         provider_options={"token_url": machine_sandbox.token_url})
    host = host_factory({"acme": client}, extra_plugins=(AcmePlugin(),))
    with pytest.raises(ConfigError, match="needs account data audience"):
        await host.rt.register("t:acme:orders", client="acme", strategy="audience_credentials")
    with pytest.raises(ConfigError, match="does not support strategy 'client_credentials'"):
        await host.rt.register("t:acme:orders", client="acme", strategy="client_credentials")
    await host.rt.register("t:acme:orders", client="acme", strategy="audience_credentials",
                           account_data={"audience": "https://orders.acme.example"})
    assert await host.rt.run_due() == 1
    assert machine_sandbox.app.last_request["params"]["audience"] == "https://orders.acme.example"
    assert host.store.next_alarm_at() == pytest.approx(host.clock.now() + HOUR - 600)
    assert await host.step() == 1
    assert (await host.rt.status("t:acme:orders"))["refresh_count"] == 2


async def test_refresh_token_named_explicitly_is_the_user_grant_as_before(
    machine_sandbox: SandboxServer, host_factory: Callable[..., MachineHost]
) -> None:
    client = OAuthClient(name="u", provider="generic", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                         provider_options={"token_url": machine_sandbox.token_url})
    host = host_factory({"u": client})
    grant = machine_sandbox.mint()
    await host.rt.register("t:generic:alice", client="u", strategy="refresh_token", refresh_token=grant["refresh_token"])
    assert await host.rt.run_due() == 1
    for _ in range(2):
        assert host.store.next_alarm_at() == pytest.approx(host.clock.now() + HOUR - 600)
        assert await host.step() == 1
    assert machine_sandbox.app.stats.refreshes == 3 and machine_sandbox.app.stats.reuse_detected == 0
    status = await host.rt.status("t:generic:alice")
    assert status["strategy"] == "refresh_token" and status["has_refresh_token"] is True


async def test_generic_jwt_bearer_finds_the_token_endpoint_by_discovery(
    machine_sandbox: SandboxServer, host_factory: Callable[..., MachineHost], keys: tuple[KeyPair, KeyPair]
) -> None:
    machine_sandbox.app.machine.trust_issuer("svc@disco", keys[0].public_pem)
    client = OAuthClient(name="d", provider="generic", client_id="svc@disco", private_key=keys[0].private_pem,
                         provider_options={"issuer": machine_sandbox.url})
    host = host_factory({"d": client})
    await host.rt.register("t:generic:disco", client="d", strategy="jwt_bearer")
    assert await host.rt.run_due() == 1
    claims = machine_sandbox.app.machine.last_claims
    assert claims["aud"] == machine_sandbox.token_url and claims["iss"] == claims["sub"] == "svc@disco"
    record = await TokenReader(host.kv, clock=host.clock).get("t:generic:disco")
    assert record.expires_at == int(host.clock.now() + HOUR)



async def test_options_are_validated_and_never_hold_a_secret(
    machine_sandbox: SandboxServer, host_factory: Callable[..., MachineHost]
) -> None:
    def client(options: dict[str, object]) -> OAuthClient:
        return OAuthClient(name="c", provider="generic", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                           provider_options={"token_url": machine_sandbox.token_url,
                                             "strategy_options": {"client_credentials": options}})

    host = host_factory({"c": client({"params": {"client_secret": "s3cr3t-in-plain-config"}})})
    with pytest.raises(ConfigError) as refused:
        await host.rt.register("t:generic:x", client="c", strategy="client_credentials")
    assert "strategy_options.client_credentials: params" in str(refused.value)
    assert "a secret is not an option" in str(refused.value) and "s3cr3t-in-plain-config" not in str(refused.value)
    host = host_factory({"c": client({"scopes": "a b"})})
    with pytest.raises(ConfigError, match=r"strategy_options\.client_credentials: scopes: Extra inputs"):
        await host.rt.register("t:generic:x", client="c", strategy="client_credentials")


async def test_an_account_whose_strategy_is_gone_is_misconfigured_not_lost(
    machine_sandbox: SandboxServer, host_factory: Callable[..., MachineHost]
) -> None:
    client = OAuthClient(name="acme", provider="acme", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                         provider_options={"token_url": machine_sandbox.token_url})
    host = host_factory({"acme": client}, extra_plugins=(AcmePlugin(),))
    await host.rt.register("t:acme:orders", client="acme", strategy="audience_credentials",
                           account_data={"audience": "https://orders.acme.example"})
    await host.close()

    class ProviderOnly:  # the same provider, but the plugin that brought the strategy is gone
        @hookimpl
        def freshtoken_register_providers(self, register: Callable[[type[Provider]], None]) -> None:
            register(AcmeProvider)

    later = MachineHost(host.tmp, host.clock, {"acme": client}, extra_plugins=(ProviderOnly(),), codec=host.codec)
    try:
        assert await later.rt.run_due() == 1
        status = await later.rt.status("t:acme:orders")
        assert status["status"] == "misconfigured" and "unknown strategy 'audience_credentials'" in status["last_error"]
        assert status["alarm_at"] is not None  # retried slowly: installing the plugin again heals it
    finally:
        await later.close()
