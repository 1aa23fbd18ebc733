"""The endpoint policy: a secret is sent only to an https endpoint (http only to loopback) that is not a
metadata, link-local, unspecified, reserved or (without the switch) private address — refused at
configuration time and again before each request, with nothing sent.

Nothing here sends a packet off this machine: hostile URLs that point elsewhere go to :class:`NeverConnect`
(which records and sends nothing); hostile URLs that point at this machine go to a real recorder on
127.0.0.2 that must stay silent.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import ClassVar

import httpcore
import httpx
import pytest
from pydantic import SecretStr

from freshtoken import ManualClock, MemoryKV, MemoryStorage, OAuthClient, Plugins, Refresher, TokenHTTP
from freshtoken.errors import Misconfigured, RetryableError, UnsafeEndpoint
from freshtoken.http import TokenRequest
from freshtoken.provider import Provider
from freshtoken.providers.generic import GenericProvider
from freshtoken.sandbox.server import SandboxServer
from freshtoken.state import Status
from tests.core.conftest import Recorder
from tests.core.hostile_endpoints import (
    ALLOWED,
    ALWAYS_REFUSED,
    CANARY_QUERY,
    CANARY_SECRET,
    PRIVATE,
    NeverConnect,
    RecordingEndpoint,
    hostile_at,
    with_query,
)

CLIENT = OAuthClient(name="c", provider="generic", client_id="cid", client_secret=SecretStr(CANARY_SECRET),
                     auth_method="client_secret_post")


def _request(url: str) -> TokenRequest:
    return TokenRequest(url=url, params={"grant_type": "refresh_token", "refresh_token": "rt-canary-1"},
                        auth_method="client_secret_post")


def _clean(text: str) -> None:
    assert CANARY_SECRET not in text and CANARY_QUERY not in text and "rt-canary-1" not in text, text


@pytest.fixture
def recorder() -> RecordingEndpoint:
    with RecordingEndpoint().running() as r:
        yield r


# -- configuration time ------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ALWAYS_REFUSED)
@pytest.mark.parametrize("field", ["token_url", "revocation_url", "issuer"])
def test_a_provider_refuses_an_unsafe_url(url: str, field: str) -> None:
    with pytest.raises(UnsafeEndpoint) as info:
        GenericProvider(**{field: with_query(url)})
    _clean(str(info.value))
    assert field in str(info.value)


@pytest.mark.parametrize("url", ALLOWED + PRIVATE)
def test_a_provider_accepts_what_some_deployment_may_allow(url: str) -> None:
    assert GenericProvider(token_url=url, revocation_url=url).token_url == url


@pytest.mark.parametrize("url", PRIVATE)
def test_a_private_token_url_is_refused_unless_the_switch_is_on(url: str) -> None:
    from freshtoken.egress.endpoint_policy import EndpointPolicy
    from freshtoken.host.providers import ClientProviders

    client = CLIENT.model_copy(update={"provider_options": {"token_url": url}})
    plugins = Plugins()
    with pytest.raises(UnsafeEndpoint, match=r"private.*allow_private_networks = true"):
        ClientProviders(plugins).static(client)
    assert ClientProviders(plugins, policy=EndpointPolicy(allow_private_networks=True)).static(client).token_url == url


def test_templates_are_checked_with_placeholders_filled() -> None:
    class Tenant(Provider):
        name = "generic"
        account_fields: ClassVar[Mapping[str, str]] = {"tenant": r"[a-z0-9-]{1,40}"}

    assert Tenant(token_url="https://{tenant}.auth.example/token").token_url
    for bad in ("http://{tenant}.auth.example/token", "https://user:{tenant}@auth.example/token",
                "gopher://{tenant}.auth.example/"):
        with pytest.raises(UnsafeEndpoint):
            Tenant(token_url=bad)


# -- request time -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ALWAYS_REFUSED + PRIVATE)
async def test_request_time_refusal_before_any_connection(url: str) -> None:
    transport = NeverConnect()
    async with httpx.AsyncClient(transport=transport) as hc:
        with pytest.raises(Misconfigured) as info:
            await TokenHTTP(hc).send(_request(with_query(url)), CLIENT, timeout=5)
    assert transport.asked == [], "a hostile endpoint reached the transport"
    assert "refused by the endpoint policy" in str(info.value)
    assert info.value.error == "unsafe_endpoint"
    _clean(str(info.value))
    _clean(info.value.summary())


@pytest.mark.parametrize("url", PRIVATE)
async def test_the_switch_allows_private_networks_at_request_time(url: str) -> None:
    from freshtoken.egress.endpoint_policy import EndpointPolicy

    transport = NeverConnect()
    async with httpx.AsyncClient(transport=transport) as hc:
        http = TokenHTTP(hc, policy=EndpointPolicy(allow_private_networks=True))
        response = await http.send(_request(url), CLIENT, timeout=5)
    assert response.status == 599 and len(transport.asked) == 1


@pytest.mark.parametrize("url", ALLOWED)
async def test_allowed_urls_reach_the_transport(url: str) -> None:
    transport = NeverConnect()
    async with httpx.AsyncClient(transport=transport) as hc:
        response = await TokenHTTP(hc).send(_request(url), CLIENT, timeout=5)
    assert response.status == 599 and len(transport.asked) == 1


async def test_hostile_urls_at_a_real_endpoint_send_nothing(recorder: RecordingEndpoint) -> None:
    http = TokenHTTP()  # the real client, real sockets
    try:
        for url in hostile_at(recorder):
            with pytest.raises(Misconfigured) as info:
                await http.send(_request(url), CLIENT, timeout=5)
            _clean(str(info.value))
        assert recorder.requests == [], "a hostile URL reached the endpoint"
        # the witness works: the same endpoint, addressed plainly, is reached (loopback http is allowed)
        response = await http.send(_request(f"{recorder.origin}/token"), CLIENT, timeout=5)
        assert response.status == 200 and len(recorder.requests) == 1
    finally:
        await http.aclose()


class Lax(Provider):
    """A plugin with a careless account-data pattern: the account data is the whole host."""

    name = "generic"
    account_fields: ClassVar[Mapping[str, str]] = {"host": r".+"}
    token_url: str = "https://{host}/token"


def _refresher(provider: Provider, http: TokenHTTP) -> tuple[Refresher, MemoryStorage, Recorder, ManualClock]:
    clock = ManualClock(1_800_000_000.0)
    storage = MemoryStorage()
    events = Recorder()
    plugins = Plugins(entry_points=False)
    plugins.register(events)
    r = Refresher("t:generic:a", storage=storage, kv=MemoryKV(clock), provider=provider, client=CLIENT, http=http,
                  clock=clock, plugins=plugins, rng=random.Random(1))
    return r, storage, events, clock


async def _assert_misconfigured_alarm(r: Refresher, storage: MemoryStorage, events: Recorder,
                                      clock: ManualClock) -> None:
    outcome = await r.alarm()
    assert outcome.kind == "misconfigured", outcome
    state = await storage.load()
    assert state is not None and state.status is Status.MISCONFIGURED
    assert state.refresh_token is not None and state.refresh_token.get_secret_value() == "rt-canary-1"
    assert state.last_error_kind == "misconfigured" and "unsafe_endpoint" in (state.last_error or "")
    _clean(state.last_error or "")
    [(name, event)] = events.events
    assert name == "failed" and event.alert and event.kind == "misconfigured"
    assert await storage.get_alarm() == clock.now() + r.provider.retry_policy().misconfigured_delay  # slow retry


@pytest.mark.parametrize("host", ["169.254.169.254", "2852039166", "[::ffff:a9fe:a9fe]", "10.0.0.1",
                                  "metadata.google.internal", "user:pw@auth.example.com", "0"])
async def test_account_data_cannot_point_a_lax_template_at_a_forbidden_host(host: str) -> None:
    transport = NeverConnect()
    async with httpx.AsyncClient(transport=transport) as hc:
        r, storage, events, clock = _refresher(Lax(), TokenHTTP(hc))
        await r.register(refresh_token="rt-canary-1", account_data={"host": host})
        await _assert_misconfigured_alarm(r, storage, events, clock)
    assert transport.asked == []


async def test_an_unsafe_endpoint_that_escaped_configuration_is_misconfigured_at_the_alarm(
    recorder: RecordingEndpoint,
) -> None:
    """A provider built without validation (as a discovered endpoint is) still sends nothing, alerts, and
    retries slowly; a revocation to such a URL sends nothing either."""
    http = TokenHTTP()
    try:
        for url in hostile_at(recorder):
            provider = GenericProvider.model_construct(token_url=url, revocation_url=url)
            r, storage, events, clock = _refresher(provider, http)
            await r.register(refresh_token="rt-canary-1")
            await _assert_misconfigured_alarm(r, storage, events, clock)
            assert await r.remove(revoke=True)
        assert recorder.requests == []
    finally:
        await http.aclose()


async def test_a_file_url_is_a_misconfiguration_never_a_retry() -> None:
    """Also when ``post`` is called directly (httpx's UnsupportedProtocol is a TransportError)."""
    http = TokenHTTP()
    try:
        for url in ("file:///etc/passwd", "gopher://127.0.0.1:9/x"):
            with pytest.raises(Misconfigured):
                await http.send(_request(url), CLIENT, timeout=5)
            with pytest.raises(Misconfigured):  # a RetryableError is not a Misconfigured: it would escape
                await http.post(url, {}, b"", timeout=5)
    finally:
        await http.aclose()


def test_messages_name_scheme_and_host_never_path_or_query() -> None:
    with pytest.raises(UnsafeEndpoint) as info:
        GenericProvider(token_url=f"https://169.254.169.254/latest/{CANARY_SECRET}?q={CANARY_QUERY}")
    text = str(info.value)
    assert "https://169.254.169.254" in text and "metadata" in text
    assert "latest" not in text
    _clean(text)
    with pytest.raises(UnsafeEndpoint) as info:
        GenericProvider(token_url="https://2852039166/x")
    assert "2852039166" in str(info.value) and "169.254.169.254" in str(info.value)


# -- the address a name resolves to ------------------------------------------------------------------------
class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Stands in for the socket layer below the policy: records the address asked for, connects nowhere."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: object = None) -> httpcore.AsyncNetworkStream:
        self.asked.append((host, port))
        raise httpcore.ConnectError("the test backend connects nowhere")

    async def sleep(self, seconds: float) -> None:
        return None


def _resolver(answers: dict[str, list[str]]):
    import ipaddress

    async def resolve(host: str, port: int):
        return [ipaddress.ip_address(a) for a in answers[host]]

    return resolve


@pytest.mark.parametrize(("answer", "allowed_with_switch"), [
    (["169.254.169.254"], False), (["10.0.0.7"], True), (["93.184.215.14", "10.0.0.7"], True),
    (["::ffff:169.254.169.254"], False), (["0.0.0.0"], False), (["fd00:ec2::254"], False),
])
async def test_a_name_that_resolves_to_a_forbidden_address_is_refused_before_connecting(
    answer: list[str], allowed_with_switch: bool
) -> None:
    from freshtoken.egress.endpoint_policy import EndpointPolicy
    from freshtoken.egress.guarded_transport import GuardedNetworkBackend, GuardedTransport

    for policy in (EndpointPolicy(), EndpointPolicy(allow_private_networks=True)):
        inner = RecordingBackend()
        backend = GuardedNetworkBackend(policy, resolve=_resolver({"rebind.example": answer}), inner=inner)
        async with httpx.AsyncClient(transport=GuardedTransport(policy, backend=backend)) as hc:
            http = TokenHTTP(hc, policy=policy)
            allowed = policy.allow_private_networks and allowed_with_switch
            with pytest.raises(RetryableError if allowed else Misconfigured) as info:
                await http.send(_request("https://rebind.example/token"), CLIENT, timeout=5)
            _clean(str(info.value))
        if allowed:
            assert inner.asked == [(a, 443) for a in answer]  # the checked addresses, each in turn
        else:
            assert inner.asked == [], f"connected to {inner.asked} for {answer}"
            assert "resolves to" in str(info.value)


async def test_the_default_client_checks_the_resolved_address_and_reaches_loopback(sandbox: SandboxServer) -> None:
    from freshtoken.egress.guarded_transport import GuardedTransport

    http = TokenHTTP()
    try:
        assert isinstance(http._http()._transport, GuardedTransport)
        grant = sandbox.mint()
        client = OAuthClient(name="s", provider="generic", client_id="sandbox-client", client_secret="sandbox-secret",
                             auth_method="client_secret_post")
        request = TokenRequest(url=f"http://localhost:{sandbox.port}/token",  # a name, really resolved
                               params={"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]},
                               auth_method="client_secret_post")
        response = await http.send(request, client, timeout=5)
        assert response.status == 200, response.body
    finally:
        await http.aclose()


def test_a_plugin_class_default_is_checked_too() -> None:
    class Careless(Provider):
        name = "generic"
        token_url: str = "https://[::ffff:169.254.169.254]/token"

    with pytest.raises(UnsafeEndpoint, match="metadata"):
        Careless()
