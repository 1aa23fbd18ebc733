"""The provider contract.

A provider is mostly declarative: a pydantic model whose fields say where the token endpoint is, how the
client authenticates, what extra parameters a refresh sends, and where the expiry is in the response.
Subclasses change defaults, and override a method only where a provider really differs:

* :meth:`Provider.build_refresh_request` — the request;
* :meth:`Provider.token_payload` — where the token fields sit in the response (e.g. Slack's ``authed_user``);
* :meth:`Provider.parse_expiry` / :meth:`Provider.parse_refresh_token_expiry` — expiry fields;
* :meth:`Provider.classify_error` — which errors are retryable, re-auth or misconfiguration;
* :meth:`Provider.retry_policy` and the ``lead`` field — when to retry and when to refresh.

Errors are classified from tables first: :attr:`Provider.error_code_fields` / ``error_description_fields``
say where the code and description are, :attr:`Provider.error_aliases` maps a provider's own codes to RFC 6749's
(``invalid_grant`` → re-auth; ``invalid_client`` and the like → misconfigured; ``temporarily_unavailable``, 5xx,
408/425/429 → retryable). **The 4xx-without-code rule:** any other HTTP 4xx whose body carries no error code (an
HTML page from a proxy or WAF, an empty body, a JSON body without one) is
:class:`~freshtoken.errors.UnexplainedClientError`: retried with backoff like a malformed response, because a
proxy may say it for a moment; after :attr:`RetryPolicy.client_error_retries <freshtoken.retry.RetryPolicy>`
such failures in a row the account becomes *misconfigured* (alerted, retried at the slow misconfigured delay so
a fixed configuration heals). It is never re-auth: without a code nothing says the grant is dead.

Fields may be overridden per OAuth client from configuration (``provider_options``); unknown options
are refused with a clear error.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, TypeAlias
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from .client import AuthMethod, OAuthClient
from .egress.endpoint_policy import BASELINE_POLICY
from .errors import (
    ConfigError,
    InvalidAccountData,
    MalformedResponse,
    Misconfigured,
    ReauthRequired,
    RefreshError,
    RetryableError,
    UnexplainedClientError,
)
from .http import TokenRequest, TokenResponse
from .lead import DEFAULT_LEAD
from .retry import RetryPolicy
from .secret_fields import check_extra_fields, secret_field_names
from .tokens import TokenSet

#: Longest lifetime accepted from ``expires_in`` (ten years); beyond it a response is malformed.
MAX_LIFETIME = 10 * 366 * 86400.0

REAUTH_ERRORS = frozenset({"invalid_grant"})
MISCONFIG_ERRORS = frozenset(
    {"invalid_client", "unauthorized_client", "invalid_scope", "unsupported_grant_type", "invalid_request"}
)
RETRYABLE_ERRORS = frozenset({"temporarily_unavailable", "server_error", "slow_down"})
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
#: RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
#: Parameters the authorization request sets itself (RFC 6749 §4.1.1, RFC 7636 §4.3): never from authorize_params.
AUTHORIZE_RESERVED = frozenset(
    {"response_type", "client_id", "redirect_uri", "state", "scope", "code_challenge", "code_challenge_method"}
)
def reserved_in_query(url: str) -> list[str]:
    """The request's own parameters (:data:`AUTHORIZE_RESERVED`) an authorization endpoint's query already sets:
    the request would carry them twice, and which one a server reads is anyone's guess."""
    return sorted({name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)} & AUTHORIZE_RESERVED)


#: Parameters the code exchange sets itself (RFC 6749 §4.1.3, RFC 7636 §4.5) or client authentication adds.
CODE_RESERVED = frozenset(
    {"grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret", "client_assertion",
     "client_assertion_type"}
)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date); None if absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]{1,12}", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def as_seconds(value: Any, field: str) -> float:
    """A lifetime in seconds from a JSON value (number or numeric string); MalformedResponse otherwise."""
    if isinstance(value, bool):
        raise MalformedResponse(f"token response field {field!r} is a boolean, not a number of seconds")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise MalformedResponse(f"token response field {field!r} is not a number") from None
    try:
        finite = isinstance(value, int | float) and math.isfinite(value)
    except OverflowError:  # an integer beyond the range of a float
        finite = False
    if not finite:
        raise MalformedResponse(f"token response field {field!r} is not a number")
    if value <= 0:
        raise MalformedResponse(f"token response field {field!r} is {value}, not a positive lifetime")
    if value > MAX_LIFETIME:
        raise MalformedResponse(f"token response field {field!r} is {value}, longer than ten years")
    return float(value)


class Provider(BaseModel):
    """An OAuth 2.0 provider's refresh behaviour. The defaults are RFC 6749's.

    Errors: declare :attr:`error_aliases` (and, where the code or description sits elsewhere,
    :attr:`error_code_fields` / :attr:`error_description_fields`) rather than overriding :meth:`error_code`.
    A 4xx without an error code is retried ``retry.client_error_retries`` times in a row, then misconfigured
    (see the module docstring).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Registry name (the ``{provider}`` part of account keys is free; clients name a provider by this).
    name: ClassVar[str] = "generic"
    #: Account data a token URL needs, each a regular expression the whole value must match.
    account_fields: ClassVar[Mapping[str, str]] = {}
    #: Response fields holding secrets besides the standard ones (``access_token``, ``refresh_token``,
    #: ``id_token``...: :data:`freshtoken.secret_fields.SECRET_RESPONSE_FIELDS`); ``extra_fields`` refuses them.
    secret_fields: ClassVar[frozenset[str]] = frozenset()
    #: How this provider's accounts may get their next token (:mod:`freshtoken.strategies`): strategy names.
    strategies: ClassVar[tuple[str, ...]] = ("refresh_token",)
    #: The provider's own error codes → the RFC 6749 code they mean, e.g. GitHub's ``{"bad_refresh_token":
    #: "invalid_grant"}``; the classification (:meth:`classify_error`) then sees the RFC code.
    error_aliases: ClassVar[Mapping[str, str]] = {}
    #: Body fields that may hold the error code, in order; the first string wins (RFC 6749: ``error``).
    error_code_fields: ClassVar[tuple[str, ...]] = ("error",)
    #: Body fields that may hold the error description, in order; the first non-empty string wins.
    error_description_fields: ClassVar[tuple[str, ...]] = ("error_description", "message")

    token_url: str = Field(default="", description="Token endpoint; '{field}' placeholders come from account data.")
    issuer: str | None = Field(
        default=None, description="Issuer to discover token_url from (RFC 8414 / OIDC) when token_url is empty."
    )
    auth_method: AuthMethod = Field(default="client_secret_basic", description="Default client auth method.")
    body_format: Literal["form", "json"] = "form"
    refresh_params: dict[str, str] = Field(default_factory=dict, description="Extra refresh parameters.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers.")
    expires_in_field: str = "expires_in"
    expires_at_field: str | None = Field(default=None, description="Absolute expiry field (epoch s), if any.")
    refresh_expires_in_fields: tuple[str, ...] = (
        "refresh_token_expires_in",
        "x_refresh_token_expires_in",
        "refresh_expires_in",
    )
    default_lifetime: float | None = Field(
        default=3600.0,
        description="Lifetime assumed when a response carries no expiry. None: such tokens never expire.",
    )
    extra_fields: tuple[str, ...] = Field(
        default=(), validate_default=True,
        description="Non-secret response fields copied to KV (secret fields are refused).",
    )
    lead: float = Field(default=DEFAULT_LEAD, gt=0, description="Refresh this many seconds before expiry.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    rotation_grace: float | None = Field(
        default=None, description="Seconds a rotated-out refresh token stays usable at the provider."
    )
    revocation_url: str | None = Field(default=None, description="RFC 7009 endpoint; '{field}' as token_url.")
    timeout: float = Field(default=30.0, gt=0, description="Token request timeout, seconds.")
    strategy_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Options per strategy, e.g. {client_credentials = {scope = '...'}} (freshtoken.strategies); "
        "never a secret: credentials live in the client's client_secret / private_key.",
    )
    # -- the authorization side (getting the first grant; see :mod:`freshtoken.authorize`) ---------------
    authorize_url: str = Field(
        default="",
        description="Authorization endpoint; '{field}' placeholders from account data, validated as token_url.",
    )
    default_scopes: tuple[str, ...] = Field(
        default=(), description="Scopes requested when connecting, unless the operator names others."
    )
    offline_scopes: tuple[str, ...] = Field(
        default=(),
        description="Scopes always requested, whatever the operator names: those without which the provider "
        "issues no refresh token (Microsoft's offline_access, Salesforce's refresh_token, X's offline.access).",
    )
    scope_separator: str = Field(
        default=" ", min_length=1, description="How scopes are joined in the authorize URL (Slack: ',')."
    )
    scope_param: str = Field(
        default="scope", description="The authorize parameter carrying the scopes (Slack user tokens: user_scope)."
    )
    authorize_params: dict[str, str] = Field(
        default_factory=dict,
        description="Extra authorize parameters, e.g. Google's access_type=offline and prompt=consent. The "
        "request's own parameters (response_type, client_id, redirect_uri, state, PKCE, scope) are refused.",
    )
    pkce: bool = Field(
        default=True,
        description="Send a PKCE S256 code_challenge (and the code_verifier with the code). RFC 6749 §3.1 has "
        "servers ignore parameters they do not know; False only where the provider refuses them.",
    )
    code_params: dict[str, str] = Field(
        default_factory=dict,
        description="Extra parameters of the authorization-code token request (e.g. Shopify's expiring=1). "
        "grant_type, code, redirect_uri, code_verifier and client credentials are refused.",
    )
    discovery_allowed_hosts: tuple[str, ...] = Field(
        default=(),
        description="Hosts ('host' or 'host:port') a discovered token or revocation endpoint may be on besides "
        "the issuer's own origin (e.g. Google's oauth2.googleapis.com).",
    )

    @model_validator(mode="after")
    def _endpoint_policy(self) -> Provider:
        """What no deployment may allow (scheme, userinfo, metadata, link-local...) is refused here, class
        defaults included; the deployment's own policy (private networks) is applied where it is known
        (:class:`~freshtoken.host.providers.ClientProviders`), and again before each request."""
        for field in ("token_url", "revocation_url", "issuer", "authorize_url"):
            value = getattr(self, field)
            if value:
                BASELINE_POLICY.check_template(value, what=field)
        return self

    @field_validator("extra_fields")
    @classmethod
    def _no_secret_extra_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        check_extra_fields(value, cls.secret_fields)
        return value

    @model_validator(mode="after")
    def _authorize_declarations(self) -> Provider:
        """Scopes are RFC 6749 §3.3 scope-tokens; extra parameters never replace the request's own; the
        authorization endpoint has no fragment (RFC 6749 §3.1)."""
        if "#" in self.authorize_url:
            raise ValueError("authorize_url may not have a fragment (RFC 6749 §3.1)")
        preset = reserved_in_query(self.authorize_url)
        if preset:
            raise ValueError(f"authorize_url's query may not set {', '.join(preset)} (the request sets it itself)")
        for field in ("default_scopes", "offline_scopes"):
            for scope in getattr(self, field):
                if not _SCOPE_TOKEN.fullmatch(scope) or self.scope_separator in scope:
                    raise ValueError(f"{field}: {scope[:80]!r} is not a scope (RFC 6749 §3.3 scope-token)")
        if self.scope_param in AUTHORIZE_RESERVED - {"scope"}:
            raise ValueError(f"scope_param {self.scope_param!r} is a parameter of the authorize request itself")
        for field, reserved in (("authorize_params", AUTHORIZE_RESERVED | {self.scope_param}),
                                ("code_params", CODE_RESERVED)):
            clash = sorted(set(getattr(self, field)) & reserved)
            if clash:
                raise ValueError(f"{field} may not set {', '.join(clash)} (the request sets it itself)")
        return self

    # -- account data and endpoints -------------------------------------------------------------
    def validate_account_data(self, data: Mapping[str, str]) -> dict[str, str]:
        """Check the account data the URLs need against :attr:`account_fields`; refuse anything else."""
        out: dict[str, str] = {}
        for key, value in data.items():
            if not isinstance(value, str):
                raise InvalidAccountData(f"{self.name}: account data {key!r} must be a string")
            pattern = self.account_fields.get(key)
            if pattern is not None and not re.fullmatch(pattern, value):
                raise InvalidAccountData(
                    f"{self.name}: account data {key!r} = {value[:80]!r} is not valid "
                    f"(must match {pattern})"
                )
            out[key] = value
        for needed in self.url_fields():
            if needed not in out:
                raise InvalidAccountData(f"{self.name}: account data needs {needed!r} for the token URL")
        return out

    def url_fields(self) -> set[str]:
        fields = set(_PLACEHOLDER.findall(self.token_url))
        if self.revocation_url:
            fields |= set(_PLACEHOLDER.findall(self.revocation_url))
        return fields

    def authorize_fields(self) -> set[str]:
        """Account data the authorization URL needs (known before any token exists, e.g. a shop name)."""
        return set(_PLACEHOLDER.findall(self.authorize_url))

    def _fill(self, template: str, account_data: Mapping[str, str], what: str = "token URL") -> str:
        if "{" not in template:  # no placeholder: nothing to fill (the common case, on every refresh)
            return template

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in account_data:
                raise InvalidAccountData(f"{self.name}: account data needs {name!r} for the {what}")
            value = account_data[name]
            pattern = self.account_fields.get(name)
            if pattern is None or not re.fullmatch(pattern, value):
                raise InvalidAccountData(f"{self.name}: account data {name!r} is not a valid value for a URL")
            return value

        return _PLACEHOLDER.sub(sub, template)

    def token_endpoint(self, account_data: Mapping[str, str]) -> str:
        if not self.token_url:
            raise Misconfigured(
                f"provider {self.name!r} has no token_url configured"
                + (" (issuer discovery has not run)" if self.issuer else "")
            )
        return self._fill(self.token_url, account_data)

    def revocation_endpoint(self, account_data: Mapping[str, str]) -> str | None:
        return self._fill(self.revocation_url, account_data) if self.revocation_url else None

    def authorization_endpoint(self, account_data: Mapping[str, str]) -> str:
        if not self.authorize_url:
            raise Misconfigured(
                f"provider {self.name!r} has no authorize_url configured"
                + (" (issuer discovery has not run)" if self.issuer else "")
            )
        return self._fill(self.authorize_url, account_data, "authorize URL")

    def requested_scopes(self, scopes: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """``scopes`` (the operator's; None: :attr:`default_scopes`) plus :attr:`offline_scopes`, once each."""
        chosen = self.default_scopes if scopes is None else tuple(scopes)
        for scope in chosen:
            if not isinstance(scope, str) or not _SCOPE_TOKEN.fullmatch(scope) or self.scope_separator in scope:
                raise ConfigError(f"{self.name}: {str(scope)[:80]!r} is not a scope (RFC 6749 §3.3 scope-token)")
        return tuple(dict.fromkeys((*chosen, *self.offline_scopes)))

    def build_authorize_params(
        self,
        client: OAuthClient,
        *,
        redirect_uri: str,
        state: str,
        code_challenge: str | None,
        scopes: tuple[str, ...] | None = None,
    ) -> dict[str, str]:
        """Query parameters of the authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3)."""
        params = {"response_type": "code", "client_id": client.client_id, "redirect_uri": redirect_uri}
        chosen = self.requested_scopes(scopes)
        if chosen:
            params[self.scope_param] = self.scope_separator.join(chosen)
        params.update(self.authorize_params)
        params["state"] = state
        if self.pkce and code_challenge:
            params["code_challenge"] = code_challenge
            params["code_challenge_method"] = "S256"
        return params

    def build_authorize_url(
        self,
        client: OAuthClient,
        account_data: Mapping[str, str],
        *,
        redirect_uri: str,
        state: str,
        code_challenge: str | None,
        scopes: tuple[str, ...] | None = None,
    ) -> str:
        """The whole authorization URL: :meth:`authorization_endpoint` with :meth:`build_authorize_params`
        added to the query the endpoint may already have (RFC 6749 §3.1: it MUST be retained)."""
        endpoint = self.authorization_endpoint(account_data)
        params = self.build_authorize_params(
            client, redirect_uri=redirect_uri, state=state, code_challenge=code_challenge, scopes=scopes
        )
        parts = urlsplit(endpoint)
        query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()], quote_via=quote)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))

    def build_code_request(
        self,
        code: SecretStr,
        client: OAuthClient,
        account_data: Mapping[str, str],
        *,
        redirect_uri: str,
        code_verifier: str | None,
    ) -> TokenRequest:
        """The authorization-code token request (RFC 6749 §4.1.3), authenticated as a refresh is."""
        params = {"grant_type": "authorization_code", "code": code.get_secret_value(), "redirect_uri": redirect_uri}
        if self.pkce and code_verifier:
            params["code_verifier"] = code_verifier
        params.update(self.code_params)
        return TokenRequest(
            url=self.token_endpoint(account_data),
            params=params,
            headers=dict(self.headers),
            body_format=self.body_format,
            auth_method=client.auth_method or self.auth_method,
        )

    def options_for(
        self, strategy: str, client: OAuthClient, account_data: Mapping[str, str]
    ) -> dict[str, Any]:
        """The options of ``strategy`` for this client and account: ``strategy_options[strategy]``. A plugin
        overrides it to derive options from the client (e.g. a service-account key's issuer and audience)."""
        return dict(self.strategy_options.get(strategy, {}))

    # -- the request ------------------------------------------------------------------------------
    def build_refresh_request(
        self, refresh_token: SecretStr, client: OAuthClient, account_data: Mapping[str, str]
    ) -> TokenRequest:
        params = {"grant_type": "refresh_token", "refresh_token": refresh_token.get_secret_value()}
        params.update(self.refresh_params)
        return TokenRequest(
            url=self.token_endpoint(account_data),
            params=params,
            headers=dict(self.headers),
            body_format=self.body_format,
            auth_method=client.auth_method or self.auth_method,
        )

    # -- the response -----------------------------------------------------------------------------
    def parse_response(self, response: TokenResponse, now: float) -> TokenSet:
        """A :class:`TokenSet` from a token response, or the right :class:`RefreshError`."""
        payload: Any = None
        if not response.truncated:
            try:
                payload = json.loads(response.body) if response.body else None
            except (ValueError, UnicodeDecodeError, RecursionError):  # nesting deeper than the stack
                payload = None
        if not isinstance(payload, dict):
            payload = None
        if response.status != 200 or payload is None or self.is_error_payload(payload):
            raise self.classify_error(response, payload, now)
        return self.parse_token(self.token_payload(payload), now)

    def is_error_payload(self, payload: Mapping[str, Any]) -> bool:
        """True when a 200 body is really an error (GitHub, Slack and others answer errors with 200)."""
        return "error" in payload and "access_token" not in payload

    def token_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The object holding the token fields (override for nesting, e.g. Slack's ``authed_user``)."""
        return payload

    def parse_token(self, payload: Mapping[str, Any], now: float) -> TokenSet:
        access = payload.get("access_token")
        if not isinstance(access, str) or not access:
            raise MalformedResponse("token response has no access_token")
        token_type = payload.get("token_type", "Bearer")
        if not isinstance(token_type, str) or not token_type.strip() or len(token_type) > 40:
            raise MalformedResponse("token response has an invalid token_type")
        token_type = "Bearer" if token_type.lower() == "bearer" else token_type
        refresh = payload.get("refresh_token")
        if refresh is not None and (not isinstance(refresh, str) or not refresh):
            raise MalformedResponse("token response has an invalid refresh_token")
        scope = payload.get("scope")
        if isinstance(scope, list):
            scope = " ".join(str(s) for s in scope)
        if scope is not None and not isinstance(scope, str):
            scope = None
        id_token = payload.get("id_token")
        extras: dict[str, Any] = {}
        if self.extra_fields:
            secret = set(secret_field_names(self.extra_fields, self.secret_fields))  # (a model_copy skips validation)
            extras = {
                k: payload[k] for k in self.extra_fields if k in payload and _is_plain(payload[k]) and k not in secret
            }
        return TokenSet(
            access_token=SecretStr(access),
            token_type=token_type,
            issued_at=now,
            expires_at=self.parse_expiry(payload, now),
            refresh_token=SecretStr(refresh) if refresh else None,
            refresh_token_expires_at=self.parse_refresh_token_expiry(payload, now),
            scope=scope,
            id_token=SecretStr(id_token) if isinstance(id_token, str) and id_token else None,
            extras=extras,
            refresh_hint=self.parse_refresh_hint(payload, now),
        )

    def parse_refresh_hint(self, payload: Mapping[str, Any], now: float) -> float | None:
        """When the provider advises refreshing (absolute), if it says; e.g. Microsoft's ``refresh_in``."""
        return None

    def parse_expiry(self, payload: Mapping[str, Any], now: float) -> float | None:
        """Absolute expiry of the access token. A missing expiry is ``default_lifetime`` from now."""
        if self.expires_at_field and payload.get(self.expires_at_field) is not None:
            at = as_seconds(payload[self.expires_at_field], self.expires_at_field)
            if at <= now:
                raise MalformedResponse(f"token response field {self.expires_at_field!r} is in the past")
            return at
        if payload.get(self.expires_in_field) is not None:
            return now + as_seconds(payload[self.expires_in_field], self.expires_in_field)
        return None if self.default_lifetime is None else now + self.default_lifetime

    def parse_refresh_token_expiry(self, payload: Mapping[str, Any], now: float) -> float | None:
        for name in self.refresh_expires_in_fields:
            if payload.get(name) is not None:
                try:
                    return now + as_seconds(payload[name], name)
                except MalformedResponse:
                    return None  # advisory only: never fail a good refresh over it
        return None

    # -- errors -----------------------------------------------------------------------------------
    def error_code(self, payload: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
        """(error code, description) from an error body: the first string of :attr:`error_code_fields`, mapped
        through :attr:`error_aliases`, and the first non-empty string of :attr:`error_description_fields`.
        Override only for what a table cannot say (e.g. a code that depends on the description)."""
        if not payload:
            return None, None
        code = _first_string(payload, self.error_code_fields)
        desc = _first_string(payload, self.error_description_fields)
        if code is not None:
            code = self.error_aliases.get(code, code)
        return code, desc

    def classify_error(
        self, response: TokenResponse, payload: Mapping[str, Any] | None, now: float
    ) -> RefreshError:
        """Map an unsuccessful response to retryable / re-auth / misconfigured / malformed; a 4xx without an
        error code is :class:`~freshtoken.errors.UnexplainedClientError` (the module docstring's rule)."""
        status = response.status
        code, desc = self.error_code(payload)
        # Kept whole (the body is bounded): the refresher redacts code and description TOGETHER, with every
        # secret it knows, before anything is cut (RefreshError.summary). A cut here, or a redaction of each
        # field alone, would keep half of a secret; our own messages name the code only when it looks like one.
        kw: dict[str, Any] = {"error": code or None, "description": desc or None, "status": status}
        label = _code_label(code)
        retry_after = parse_retry_after(response.headers.get("retry-after"), now)
        if code in REAUTH_ERRORS:
            return ReauthRequired(f"{self.name}: the grant is no longer valid ({code})", **kw)
        if code in RETRYABLE_ERRORS or status in RETRYABLE_STATUS or status >= 500:
            return RetryableError(
                f"{self.name}: token endpoint unavailable (HTTP {status})", retry_after=retry_after, **kw
            )
        if code in MISCONFIG_ERRORS:
            return Misconfigured(f"{self.name}: the client was refused ({label or f'HTTP {status}'})", **kw)
        if code:
            return Misconfigured(f"{self.name}: token endpoint error {label or '(not an error code)'}", **kw)
        if 400 <= status < 500:  # the 4xx-without-code rule (module docstring): retried a few times, then misconfigured
            return UnexplainedClientError(
                f"{self.name}: HTTP {status} from the token endpoint without an error code", **kw
            )
        if status == 200:
            return MalformedResponse(f"{self.name}: token response is not a JSON object", **kw)
        return MalformedResponse(f"{self.name}: unexpected HTTP {status} from the token endpoint", **kw)

    # -- policy -----------------------------------------------------------------------------------
    def retry_policy(self) -> RetryPolicy:
        return self.retry


#: What a plugin's ``freshtoken_register_providers`` hook is given: call it with each provider class.
ProviderRegistrar: TypeAlias = Callable[[type[Provider]], None]


def _first_string(payload: Mapping[str, Any], fields: tuple[str, ...]) -> str | None:
    for name in fields:
        value = payload.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _code_label(code: str | None) -> str | None:
    """``code`` when it looks like an OAuth error code (short, ``[A-Za-z0-9_.:-]``), for our own messages."""
    return code if code and _ERROR_CODE.fullmatch(code) else None


_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.:\-]{0,63}")


def _is_plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None
