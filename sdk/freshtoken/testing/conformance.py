"""The conformance suite: what every provider must do for the refresher to rely on it.

A plugin author subclasses :class:`ProviderConformance` in a test module::

    from freshtoken.testing import ProviderConformance
    from freshtoken_acme import AcmeProvider

    class TestAcme(ProviderConformance):
        provider = AcmeProvider()
        account_data = {"subdomain": "shop1"}        # only if the token URL needs account data

and overrides a hook only where the provider's responses differ from RFC 6749:

* :meth:`~ProviderConformance.success_body` — the provider's success body;
* :meth:`~ProviderConformance.error_body` and :meth:`~ProviderConformance.error_status` — its error body
  and HTTP status for an RFC error code (``invalid_grant``, ``invalid_client``);
* :meth:`~ProviderConformance.expected_lifetime` — the lifetime the provider should parse;
* ``client`` — the OAuth client (e.g. ``private_key_jwt``); ``valid_account_data`` /
  ``hostile_account_data`` — more values to accept or refuse.

A provider that declares ``authorize_url`` (the authorization side, for ``freshtoken connect``) is also
checked there: the authorize request it builds (``response_type=code``, ``client_id``, ``redirect_uri``,
``state``, the S256 ``code_challenge`` when ``pkce``, its offline scopes whatever the operator names), its
authorization endpoint (https, the deployment policy, placeholders declared in ``account_fields``, hostile
values refused) and the code exchange, sent to the local endpoint and parsed (``grant_type=authorization_code``,
``code``, ``redirect_uri``, ``code_verifier``, the client authenticated as a refresh is).

Each ``test_*`` method drives the provider through the real :class:`~freshtoken.refresher.Refresher`
(memory storage and KV, virtual clock) against a local HTTP token endpoint playing back one scenario,
and checks what the SDK relies on. The scenarios are plain sync tests: no asyncio plugin is needed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from ..client import OAuthClient
from ..egress.endpoint_policy import DEFAULT_POLICY
from ..errors import (
    ConfigError,
    InvalidAccountData,
    MalformedResponse,
    Misconfigured,
    ReauthRequired,
    RefreshError,
    RetryableError,
)
from ..http import TokenHTTP
from ..lead import refresh_at
from ..plugins import Plugins
from ..provider import Provider
from ..refresher import Outcome
from ..state import AccountState, Status
from ..tokens import TokenSet
from .endpoint import Recorded, RedirectTransport, Reply, TokenEndpoint
from .harness import KIT_NOW, KitRun, hostile_values, kit_client, replay, unique

T = TypeVar("T")

#: Retry-After the 429 scenario sends, seconds.
RETRY_AFTER = 240
#: The refresh token a kit account is registered with.
RT0 = "kit-refresh-token-0-5b1e"
RT1 = "kit-refresh-token-1-c9d2"
AT1 = "kit-access-token-1-e4f7"
#: The authorization side: a loopback redirect URI (as ``freshtoken connect`` listens on), state, PKCE, code.
KIT_REDIRECT_URI = "http://127.0.0.1:53682/callback"
KIT_STATE = "kit-state-3c8e1f0a9b"
KIT_CODE = "kit-authorization-code-77d1"
KIT_VERIFIER = "kit-code-verifier-" + "v" * 40  # RFC 7636 §4.1: 43-128 characters
KIT_CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(KIT_VERIFIER.encode()).digest()).rstrip(b"=").decode()


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion in a fresh event loop (the endpoint lives in its own thread)."""

    async def main() -> T:
        return await factory()

    return asyncio.run(main())


class ProviderConformance:
    """Base class of a provider's conformance tests. Set ``provider``; override hooks where it differs."""

    #: The provider under test, configured as a user would (required).
    provider: ClassVar[Provider]
    #: Account data a refresh needs (e.g. ``{"shop": "acme.myshopify.com"}``).
    account_data: ClassVar[Mapping[str, str]] = {}
    #: The OAuth client; None: a client secret with the provider's default auth method.
    client: ClassVar[OAuthClient | None] = None
    #: The access-token lifetime the success scenarios send, seconds.
    lifetime: ClassVar[int] = 3600
    #: Also check that an installed entry point registers ``type(provider)`` under ``provider.name``.
    check_entry_point: ClassVar[bool] = True
    #: Account data that must be accepted, beyond ``account_data``.
    valid_account_data: ClassVar[list[Mapping[str, str]]] = []
    #: Account data that must be refused, beyond the generated hostile values.
    hostile_account_data: ClassVar[list[Mapping[str, str]]] = []
    #: Where the code exchange must go when it is not the token endpoint (Figma exchanges codes at
    #: /v1/oauth/token and refreshes at /v1/oauth/refresh); None: the token endpoint.
    code_endpoint: ClassVar[str | None] = None

    # -- hooks --------------------------------------------------------------------------------------
    def success_body(self, *, access_token: str, refresh_token: str | None, expires_in: int | None) -> Any:
        """The provider's success body. ``refresh_token`` None: none issued; ``expires_in`` None: none sent."""
        body: dict[str, Any] = {"access_token": access_token, "token_type": "Bearer"}
        if expires_in is not None:
            body["expires_in"] = expires_in
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        return body

    def error_body(self, code: str, description: str) -> Any:
        """The provider's error body for an RFC 6749 error code (map it to the provider's own)."""
        return {"error": code, "error_description": description}

    def error_status(self, code: str) -> int:
        """The HTTP status the provider answers an error ``code`` with."""
        return 401 if code == "invalid_client" else 400

    def expected_lifetime(self, expires_in: int | None) -> float | None:
        """The lifetime the provider must parse from a success body built with ``expires_in``."""
        return float(expires_in) if expires_in is not None else self.provider.default_lifetime

    # -- plumbing ---------------------------------------------------------------------------------
    @pytest.fixture(autouse=True)
    def _kit_endpoint(self, freshtoken_endpoint: TokenEndpoint) -> None:
        freshtoken_endpoint.reset()
        self.endpoint = freshtoken_endpoint

    def kit_client(self) -> OAuthClient:
        return self.client or kit_client(self.provider)

    def run(self, provider: Provider | None = None, **kw: Any) -> KitRun:
        kw.setdefault("account_data", self.account_data)
        kw.setdefault("client", self.kit_client())
        return KitRun(provider or self.provider, self.endpoint, **kw)

    def success(self, refresh_token: str | None = RT1, expires_in: int | None = -1) -> Reply:
        exp = self.lifetime if expires_in == -1 else expires_in
        return Reply(200, self.success_body(access_token=AT1, refresh_token=refresh_token, expires_in=exp))

    def error(self, code: str, *, status: int | None = None, description: str | None = None) -> Reply:
        """An error reply; its description echoes the refresh token and client secret, as careless servers do."""
        desc = description or f"kit: {code} for refresh token {RT0} of client {_client_secret(self.kit_client())}"
        return Reply(self.error_status(code) if status is None else status, self.error_body(code, desc))

    async def refresh_once(
        self, *replies: Reply, provider: Provider | None = None
    ) -> tuple[KitRun, Outcome, AccountState]:
        """Register with RT0, script ``replies``, fire the alarm once. Returns (run, outcome, state)."""
        self.endpoint.reset()
        async with self.run(provider) as run:
            await run.register(RT0)
            self.endpoint.script(*replies)
            outcome = await run.alarm()
            state = await run.state()
            await run.assert_no_secrets(RT0, RT1, outcome=outcome)
            assert self.endpoint.pending == 0, "the refresher did not send the requests the scenario expects"
            return run, outcome, state

    def _check_failure_kept_grant(self, state: AccountState) -> None:
        assert state.refresh_token is not None and state.refresh_token.get_secret_value() == RT0, (
            "a failed refresh must keep the stored refresh token"
        )
        assert state.generation == 0

    # -- the request --------------------------------------------------------------------------------
    def test_request_shape(self) -> None:
        """One POST to the provider's https token endpoint, with the refresh token and client auth."""
        run, outcome, _ = run_async(lambda: self.refresh_once(self.success()))
        assert outcome.kind == "refreshed", outcome
        expected = self.provider.token_endpoint(self.account_data)
        assert run.transport.targets == [expected], "the request went to an unexpected URL"
        assert urlsplit(expected).scheme == "https", "a token endpoint must be https"
        request: Recorded = self.endpoint.requests[-1]
        assert request.method == "POST"
        params = request.params
        assert params.get("grant_type") == "refresh_token", params.keys()
        assert params.get("refresh_token") == RT0
        self._check_client_auth(request, run.client)

    def _check_client_auth(self, request: Recorded, client: OAuthClient) -> None:
        """The request authenticates ``client`` as its auth method says, and asks for JSON."""
        params = request.params
        method = client.auth_method or self.provider.auth_method
        if method == "client_secret_basic":
            assert request.basic_auth == (client.client_id, _client_secret(client))
            assert "client_secret" not in params, "the secret is sent twice"
        elif method == "client_secret_post":
            assert params.get("client_id") == client.client_id
            assert params.get("client_secret") == _client_secret(client)
        elif method in ("private_key_jwt", "client_secret_jwt"):
            assert params.get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            assert params.get("client_assertion", "").count(".") == 2
            assert "client_secret" not in params and "authorization" not in request.headers
        elif method == "none":  # a public client: its id in the body, nothing secret
            assert params.get("client_id") == client.client_id
            assert "client_secret" not in params and "authorization" not in request.headers
        assert "json" in request.headers.get("accept", ""), "ask for JSON (Accept: application/json)"

    def test_entry_point(self) -> None:
        if not self.check_entry_point:
            pytest.skip("check_entry_point is False")
        registered = Plugins().providers().get(self.provider.name)
        assert registered is not None, (
            f"no installed plugin registers provider {self.provider.name!r}: add an entry point in the "
            "'freshtoken' group and 'pip install -e .' the plugin"
        )
        assert registered.provider is type(self.provider)

    # -- success ------------------------------------------------------------------------------------
    def test_success_with_rotation(self) -> None:
        """A new refresh token replaces the old one (the old one kept as previous); expiry and schedule."""
        run, outcome, state = run_async(lambda: self.refresh_once(self.success(RT1)))
        assert outcome.kind == "refreshed", outcome
        assert state.refresh_token is not None and state.refresh_token.get_secret_value() == RT1
        assert state.previous_refresh_token is not None
        assert state.previous_refresh_token.get_secret_value() == RT0
        self._check_expiry(run, state, self.expected_lifetime(self.lifetime))

    def test_success_without_rotation(self) -> None:
        """No refresh token in the response: the old one is kept (RFC 6749 §6)."""
        run, outcome, state = run_async(lambda: self.refresh_once(self.success(None)))
        assert outcome.kind == "refreshed", outcome
        assert state.refresh_token is not None and state.refresh_token.get_secret_value() == RT0
        self._check_expiry(run, state, self.expected_lifetime(self.lifetime))

    def test_expiry_follows_response(self) -> None:
        """The parsed expiry is the response's, not a default (a lifetime no default would match)."""
        odd = self.lifetime + 321
        run, outcome, state = run_async(lambda: self.refresh_once(self.success(RT1, expires_in=odd)))
        assert outcome.kind == "refreshed", outcome
        self._check_expiry(run, state, self.expected_lifetime(odd))

    def test_missing_expiry(self) -> None:
        """No expiry in the response: the provider's default lifetime, or never (only if declared)."""
        run, outcome, state = run_async(lambda: self.refresh_once(self.success(RT1, expires_in=None)))
        assert outcome.kind == "refreshed", outcome
        self._check_expiry(run, state, self.expected_lifetime(None))

    def _check_expiry(self, run: KitRun, state: AccountState, lifetime: float | None) -> None:
        record = run.kv_record()
        assert record is not None, "no KV record after a successful refresh"
        assert record.access_token == AT1
        assert state.issued_at is not None
        if lifetime is None:
            assert state.expires_at is None and record.expires_at is None
            assert state.status is Status.STATIC and run.storage.alarm is None
            return
        assert state.expires_at == pytest.approx(state.issued_at + lifetime), "expiry parsed wrongly"
        assert record.expires_at == int(state.issued_at + lifetime)
        assert run.storage.alarm == pytest.approx(
            refresh_at(state.issued_at, state.issued_at + lifetime, self.provider.lead)
        )
        assert state.status is Status.ACTIVE

    # -- failures -------------------------------------------------------------------------------------
    def test_invalid_grant(self) -> None:
        """A dead grant stops refreshing (no alarm), keeps the grant for inspection, leaks nothing."""
        _, outcome, state = run_async(lambda: self.refresh_once(self.error("invalid_grant")))
        assert outcome.kind == "reauth_required", outcome
        assert state.status is Status.REAUTH_REQUIRED and state.next_refresh_at is None
        self._check_failure_kept_grant(state)
        assert isinstance(self.replayed(self.error("invalid_grant")), ReauthRequired)

    def test_invalid_client(self) -> None:
        reply = self.error("invalid_client")
        _, outcome, state = run_async(lambda: self.refresh_once(reply))
        assert outcome.kind == "misconfigured", outcome
        self._check_failure_kept_grant(state)
        assert isinstance(self.replayed(reply), Misconfigured)

    def test_error_in_200(self) -> None:
        """An error body answered with HTTP 200 is an error, never a token."""
        reply = self.error("invalid_grant", status=200)
        _, outcome, state = run_async(lambda: self.refresh_once(reply))
        assert outcome.kind == "reauth_required", outcome
        self._check_failure_kept_grant(state)

    def test_rate_limited_retry_after(self) -> None:
        """429 with Retry-After: retryable, and the next attempt is not before Retry-After."""
        reply = Reply(429, self.error_body("rate_limited", "slow down"), {"Retry-After": str(RETRY_AFTER)})
        run, outcome, state = run_async(lambda: self.refresh_once(reply))
        assert outcome.kind == "retry_scheduled", outcome
        assert outcome.next_alarm is not None and outcome.next_alarm >= run.now + RETRY_AFTER
        assert state.status is Status.RETRYING
        self._check_failure_kept_grant(state)
        err = self.replayed(reply)
        assert isinstance(err, RetryableError) and err.retry_after == RETRY_AFTER

    def test_server_error(self) -> None:
        """5xx (with an HTML body, as proxies send): retryable, grant kept."""
        reply = Reply(503, "<html><body>Service Unavailable</body></html>", content_type="text/html")
        _, outcome, state = run_async(lambda: self.refresh_once(reply))
        assert outcome.kind == "retry_scheduled", outcome
        self._check_failure_kept_grant(state)
        assert isinstance(self.replayed(reply), RetryableError)

    def test_malformed_json(self) -> None:
        """A 200 that is not JSON: malformed (retried), never a token."""
        reply = Reply(200, b'{"access_token": "x", ', content_type="application/json")
        _, outcome, state = run_async(lambda: self.refresh_once(reply))
        assert outcome.kind == "retry_scheduled", outcome
        self._check_failure_kept_grant(state)
        assert isinstance(self.replayed(reply), MalformedResponse)

    def test_success_without_access_token(self) -> None:
        body = self.success_body(access_token=AT1, refresh_token=RT1, expires_in=self.lifetime)
        stripped = _drop_value(body, AT1)  # whatever the provider calls the field
        assert isinstance(self.replayed(Reply(200, stripped)), RefreshError)

    def test_slow_response(self) -> None:
        """No answer within the provider's timeout: retryable, grant kept. The timeout (real time: the deadline
        runs from connect to the last byte) leaves the request ample time to reach the loopback endpoint on a busy
        machine (0.2 s did not, once, in a CI run of every plugin's kit on 2 cores); the answer comes far later."""
        provider = self.provider.model_copy(update={"timeout": 1.0})
        reply = Reply(200, self.success_body(access_token=AT1, refresh_token=RT1, expires_in=3600), delay=10.0)
        _, outcome, state = run_async(lambda: self.refresh_once(reply, provider=provider))
        assert outcome.kind == "retry_scheduled", outcome
        assert "timed out" in (outcome.error or "")
        self._check_failure_kept_grant(state)

    def test_rotation_grace(self) -> None:
        """With ``rotation_grace``, invalid_grant right after a rotation retries the previous token."""
        grace = self.provider.rotation_grace
        if not grace:
            pytest.skip("the provider declares no rotation_grace")

        async def scenario() -> None:
            async with self.run() as run:
                await run.register(RT0)
                self.endpoint.script(self.success(RT1))
                assert (await run.alarm()).kind == "refreshed"
                run.clock.advance(min(grace / 2, 60))
                self.endpoint.script(self.error("invalid_grant"), self.success("kit-rt-2"))
                outcome = await run.refresh_now()
                assert outcome.kind == "refreshed", outcome
                assert self.endpoint.requests[-1].params.get("refresh_token") == RT0
                await run.assert_no_secrets(RT0, RT1, "kit-rt-2", outcome=outcome)

        self.endpoint.reset()
        run_async(scenario)

    # -- account data ---------------------------------------------------------------------------------
    def test_valid_account_data(self) -> None:
        for data in [self.account_data, *self.valid_account_data]:
            self.provider.validate_account_data(dict(data))
            assert urlsplit(self.provider.token_endpoint(data)).scheme == "https"

    def hostile_cases(self) -> list[dict[str, str]]:
        cases: list[dict[str, str]] = [dict(d) for d in self.hostile_account_data]
        for name in self.provider.account_fields:
            valid = self.account_data.get(name, "x")
            for value in unique(hostile_values(valid)):
                cases.append({**self.account_data, name: value})
        return cases

    def test_hostile_account_data_refused(self) -> None:
        """Another host, a port, a path, userinfo, an IP, a lookalike: refused, and nothing is sent."""
        cases = self.hostile_cases()
        if not cases:
            pytest.skip("the provider's URLs take no account data")

        async def scenario() -> None:
            self.endpoint.reset()
            for data in cases:
                async with self.run(account_data=data) as run:
                    with pytest.raises(InvalidAccountData) as info:
                        await run.register(RT0)
                        pytest.fail(f"hostile account data accepted: {data!r}")
                    assert re.search(r"account data '?\w+'? .*(not valid|needs)", str(info.value)), (
                        f"unclear error for {data!r}: {info.value}"
                    )
                    with pytest.raises(InvalidAccountData):
                        self.provider.build_refresh_request(
                            _secret(RT0), run.client, data
                        )
                    # A state stored before the pattern tightened must not send anything either.
                    state = AccountState(key=run.key, client=run.client.name, account_data=data,
                                         refresh_token=_secret(RT0), next_refresh_at=run.now)
                    await run.storage.save(state)
                    outcome = await run.alarm()
                    assert outcome.kind == "misconfigured", (data, outcome)
                    assert run.transport.targets == [], f"a request went out for {data!r}"
                    await run.assert_no_secrets(RT0, outcome=outcome)
            assert self.endpoint.requests == []

        run_async(scenario)

    # -- the authorization side -----------------------------------------------------------------------
    def _needs_authorize(self) -> None:
        if not self.provider.authorize_url:
            pytest.skip("the provider declares no authorize_url (no connect flow)")

    def authorize_query(self, scopes: tuple[str, ...] | None = None) -> dict[str, str]:
        """The query of the authorization URL the provider builds for the kit's client and account data."""
        url = self.provider.build_authorize_url(
            self.kit_client(), self.account_data, redirect_uri=KIT_REDIRECT_URI, state=KIT_STATE,
            code_challenge=KIT_CHALLENGE, scopes=scopes,
        )
        parts = urlsplit(url)
        endpoint = urlsplit(self.provider.authorization_endpoint(self.account_data))
        assert (parts.scheme, parts.netloc, parts.path) == (endpoint.scheme, endpoint.netloc, endpoint.path), (
            "the authorization URL is not on the authorization endpoint"
        )
        assert not parts.fragment, "an authorization URL has no fragment (RFC 6749 §3.1)"
        secret = _client_secret(self.kit_client())
        assert not secret or secret not in url, "the client secret is in the authorization URL"
        query = parse_qs(parts.query, keep_blank_values=True)
        twice = sorted(name for name, values in query.items() if len(values) > 1)
        assert not twice, f"authorize parameters sent twice: {twice}"
        return {name: values[0] for name, values in query.items()}

    def test_authorize_request(self) -> None:
        """response_type=code, client_id, redirect_uri, state, the S256 challenge (pkce), the offline scopes."""
        self._needs_authorize()
        provider = self.provider
        query = self.authorize_query()
        assert query.get("response_type") == "code"
        assert query.get("client_id") == self.kit_client().client_id
        assert query.get("redirect_uri") == KIT_REDIRECT_URI
        assert query.get("state") == KIT_STATE
        if provider.pkce:
            assert query.get("code_challenge") == KIT_CHALLENGE
            assert query.get("code_challenge_method") == "S256", "PKCE must be S256 (RFC 7636 §4.2)"
        else:
            assert "code_challenge" not in query and "code_challenge_method" not in query
        for name, value in provider.authorize_params.items():
            assert query.get(name) == value, f"authorize parameter {name!r} missing or changed"
        requested = provider.requested_scopes()
        if requested:
            assert query.get(provider.scope_param, "").split(provider.scope_separator) == list(requested)
        else:
            assert provider.scope_param not in query, "an empty scope parameter"
        # The operator's scopes replace the defaults, never the scopes that bring a refresh token.
        chosen = self.authorize_query(scopes=("kit.scope",))[provider.scope_param].split(provider.scope_separator)
        assert chosen[0] == "kit.scope"
        missing = [scope for scope in provider.offline_scopes if scope not in chosen]
        assert not missing, f"offline scopes dropped when the operator names scopes: {missing}"
        with pytest.raises(ConfigError):
            self.authorize_query(scopes=(f"kit.scope{provider.scope_separator}other",))

    def test_authorize_endpoint(self) -> None:
        """https, allowed by the default deployment policy, placeholders declared, hostile values refused."""
        self._needs_authorize()
        provider = self.provider
        undeclared = sorted(provider.authorize_fields() - set(provider.account_fields))
        assert not undeclared, f"authorize_url placeholders not declared in account_fields: {undeclared}"
        for data in [self.account_data, *self.valid_account_data]:
            endpoint = provider.authorization_endpoint(data)
            assert urlsplit(endpoint).scheme == "https", "an authorization endpoint must be https"
            DEFAULT_POLICY.check(endpoint, "authorize_url")
        for name in sorted(provider.authorize_fields()):
            valid = self.account_data.get(name, "x")
            for value in unique(hostile_values(valid)):
                with pytest.raises(InvalidAccountData, match=rf"account data '?{name}'?"):
                    provider.authorization_endpoint({**self.account_data, name: value})
                    pytest.fail(f"hostile account data accepted in the authorize URL: {name}={value!r}")
            rest = {k: v for k, v in self.account_data.items() if k != name}
            with pytest.raises(InvalidAccountData, match="authorize URL"):
                provider.authorization_endpoint(rest)

    def test_code_exchange(self) -> None:
        """The code, redirect_uri and verifier go to the token endpoint, the client authenticated as for a
        refresh; the provider parses the answer (sent to the kit's local endpoint) into tokens."""
        self._needs_authorize()
        provider = self.provider
        client = self.kit_client()
        request = provider.build_code_request(
            SecretStr(KIT_CODE), client, self.account_data, redirect_uri=KIT_REDIRECT_URI, code_verifier=KIT_VERIFIER
        )
        self.endpoint.reset()
        self.endpoint.script(self.success(RT1))

        async def exchange() -> tuple[list[str], Any]:
            transport = RedirectTransport(self.endpoint)
            async with httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False) as hc:
                response = await TokenHTTP(hc).send(request, client, timeout=provider.timeout)
            return transport.targets, response

        targets, response = run_async(exchange)
        expected = self.code_endpoint or provider.token_endpoint(self.account_data)
        assert targets == [expected], "the code went to an unexpected URL"
        sent: Recorded = self.endpoint.requests[-1]
        assert sent.method == "POST"
        params = sent.params
        assert params.get("grant_type") == "authorization_code", params.keys()
        assert params.get("code") == KIT_CODE
        assert params.get("redirect_uri") == KIT_REDIRECT_URI, "redirect_uri must repeat the authorize request's"
        if provider.pkce:
            assert params.get("code_verifier") == KIT_VERIFIER
        else:
            assert "code_verifier" not in params
        for name, value in provider.code_params.items():
            assert params.get(name) == value, f"code exchange parameter {name!r} missing or changed"
        self._check_client_auth(sent, client)
        tokens = provider.parse_response(response, KIT_NOW)
        assert tokens.access_token.get_secret_value() == AT1
        assert tokens.refresh_token is not None and tokens.refresh_token.get_secret_value() == RT1, (
            "the refresh token of the code exchange was not read"
        )
        lifetime = self.expected_lifetime(self.lifetime)
        assert tokens.expires_at == (None if lifetime is None else pytest.approx(KIT_NOW + lifetime))

    # -- helpers --------------------------------------------------------------------------------------
    def replayed(self, reply: Reply) -> TokenSet | RefreshError:
        return replay(self.provider, reply.status, reply.raw(), reply.headers)


def _client_secret(client: OAuthClient) -> str:
    return client.client_secret.get_secret_value() if client.client_secret else ""


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


def _drop_value(body: Any, value: str) -> Any:
    if isinstance(body, dict):
        return {k: _drop_value(v, value) for k, v in body.items() if v != value}
    return body
