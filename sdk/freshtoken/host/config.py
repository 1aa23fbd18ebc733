"""Configuration: one TOML file, environment overrides, secrets by environment-variable reference.

The file is found from ``--config``, else ``FRESHTOKEN_CONFIG``, else ``./freshtoken.toml`` (when it exists);
with none, the defaults apply (no OAuth client). Any field can be overridden from the environment with the
prefix ``FRESHTOKEN_`` and ``__`` between levels, e.g. ``FRESHTOKEN_RUNTIME__CONCURRENCY=8`` or
``FRESHTOKEN_CLIENTS__ACME__CLIENT_ID=...``. A secret is a literal string or ``{ env = "VAR" }``; the reference
is resolved when the runtime is built, and every error names the file and the field, never a secret value::

    [clients.acme]
    provider = "generic"
    client_id = "my-client"
    client_secret = { env = "ACME_CLIENT_SECRET" }
    auth_method = "client_secret_post"
    [clients.acme.provider_options]
    token_url = "https://auth.acme.example/oauth/token"

    [runtime]
    database = "freshtoken.db"      # relative paths are relative to the config file's folder
    concurrency = 32
    startup_spread = 30.0
    max_idle = 10.0                 # alarms set by another process are seen within this many seconds
    lease_ttl = 180.0               # an account's lease (renewed while a refresh is in flight)
    drain_timeout = 30.0            # on SIGTERM: wait this long for refreshes in flight, then cancel them

    [kv]
    backend = "sqlite"              # sqlite | memory | redis | cloudflare-rest
    path = "freshtoken-kv.db"       # sqlite
    prefix = ""                     # prepended to every KV key
    # margin = 60                   # s before expiry a new token must be in KV (default: the backend's own)
    # url = { env = "REDIS_URL" }   # redis
    # account_id, namespace_id, api_token = { env = "CF_API_TOKEN" }, base_url   # cloudflare-rest

    [admin]
    host = "127.0.0.1"
    port = 8787
    token = { env = "FRESHTOKEN_ADMIN_TOKEN" }   # full scope: every account, /metrics
    allowed_hosts = []              # host names besides the listen address (DNS rebinding protection)
    [[admin.tokens]]                # more tokens, each limited to one tenant's accounts
    token = { env = "ACME_ADMIN_TOKEN" }
    scope = "acme:*"

    [alerting]
    log = true
    slack_webhook = { env = "SLACK_WEBHOOK_URL" }
    on = ["refresh_failed", "reauth_required", "token_expired", "refresh_token_expiring",
          "rotated_token_not_durable"]
    slack_timeout = 5.0
    slack_max_per_minute = 20

    [security]
    allow_private_networks = false  # the endpoint policy's one switch (README: "Endpoint policy")

    [connect]                       # the admin API's POST /connect and GET /connect/callback (docs/connect.md)
    redirect_uri = "https://tokens.example.com/connect/callback"   # default: the admin API's own address
    state_ttl = 600.0               # seconds a started connection may wait for its callback

    [logging]
    format = "text"                 # text | json (one JSON object per line); serve --log-format overrides
    level = "info"

    [metrics]
    listen = "127.0.0.1:9464"       # /metrics without the admin token on its own address (default: off)

    [history]
    per_account = 100               # events kept per account (accounts events KEY, GET /accounts/{key}/events)

    [[alerting.webhook]]            # a generic webhook (README: "Operating"), as many as needed
    url = "https://hooks.example.com/freshtoken"
    secret = { env = "FRESHTOKEN_WEBHOOK_SECRET" }   # HMAC-SHA256 key of the freshtoken-signature header

Environment names are case-insensitive, so client names overridden from the environment are lower-case.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from ..client import AuthMethod, OAuthClient
from ..egress.endpoint_policy import EndpointPolicy
from ..errors import ConfigError, UnsafeEndpoint
from ..secret_fields import check_extra_fields

CONFIG_ENV_VAR = "FRESHTOKEN_CONFIG"
DEFAULT_CONFIG_FILE = "freshtoken.toml"
ENV_PREFIX = "FRESHTOKEN_"

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_toml_path: ContextVar[Path | None] = ContextVar("freshtoken_config_toml", default=None)


class EnvRef(BaseModel):
    """A secret taken from an environment variable: ``{ env = "VAR" }``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    env: str

    def __repr__(self) -> str:
        return f"EnvRef(env={self.env!r})"


def _secret_ref(value: Any) -> Any:
    if value is None or isinstance(value, SecretStr | EnvRef):
        return value
    if isinstance(value, str):
        return SecretStr(value)
    if isinstance(value, Mapping):
        if set(value) != {"env"}:
            raise ValueError('must be a string or a reference { env = "VAR_NAME" } (with no other field)')
        name = value["env"]
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise ValueError('the env reference must name a variable, e.g. { env = "ACME_CLIENT_SECRET" }')
        return EnvRef(env=name)
    raise ValueError('must be a string or a reference { env = "VAR_NAME" }')


#: A secret in configuration: a literal (kept as ``SecretStr``) or an environment-variable reference.
SecretRef = Annotated[SecretStr | EnvRef, BeforeValidator(_secret_ref)]

AlertEventName = Literal[
    "refresh_failed", "reauth_required", "token_expired", "refresh_token_expiring", "rotated_token_not_durable",
    "backlog_rising",
]
ALERT_EVENTS: tuple[AlertEventName, ...] = (
    "refresh_failed", "reauth_required", "token_expired", "refresh_token_expiring", "rotated_token_not_durable",
    "backlog_rising",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClientConfig(_Section):
    """``[clients.<name>]``: an OAuth client and the provider it talks to."""

    provider: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    client_secret: SecretRef | None = None
    private_key: SecretRef | None = None
    auth_method: AuthMethod | None = None
    jwt_alg: str | None = None
    jwt_headers: dict[str, str] = Field(default_factory=dict)
    provider_options: dict[str, Any] = Field(default_factory=dict)
    provider_mismatch_ok: bool = Field(
        default=False,
        description="Accept account keys whose provider part names neither this client's provider nor the client.",
    )
    rate_limit: float | None = Field(
        default=None, gt=0, le=1_000_000,
        description="Token requests per second this client may send (set it from the provider's quota): the "
        "scheduler plans this client's refreshes under it (docs/capacity.md).",
    )

    @field_validator("provider_options")
    @classmethod
    def _no_secret_extra_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        fields = value.get("extra_fields")
        if isinstance(fields, list | tuple):
            check_extra_fields(fields)  # the provider's own secret_fields are checked when it is built
        return value


class RuntimeConfig(_Section):
    """``[runtime]``: the embedded host."""

    database: Path = Path("freshtoken.db")
    concurrency: int = Field(default=32, ge=1, le=10_000)
    per_client_concurrency: int | None = Field(
        default=None, ge=1, le=10_000,
        description="Refreshes of one client in flight at once (default: all slots for one client, 3/4 for "
        "several), so that a hanging provider cannot hold every slot.",
    )
    startup_spread: float = Field(default=30.0, ge=0, le=86_400)
    max_idle: float = Field(
        default=10.0, gt=0, le=3600,
        description="Longest scheduler sleep: alarms set by another process (a CLI 'accounts add') are seen "
        "within this many seconds.",
    )
    lease_ttl: float = Field(
        default=180.0, ge=1, le=86_400,
        description="How long an account's lease in the database lasts before another process may take the "
        "account over; renewed every third of it while a refresh is in flight, and never shorter than three "
        "times the provider's timeout (the deadline of one token exchange).",
    )
    drain_timeout: float = Field(
        default=30.0, ge=0, le=86_400,
        description="On SIGTERM / SIGINT, how long 'serve' waits for the refreshes in flight before cancelling "
        "them (a second signal cancels at once).",
    )


class KVConfig(_Section):
    """``[kv]``: where access tokens are written for the request path."""

    backend: Literal["sqlite", "memory", "redis", "cloudflare-rest"] = "sqlite"
    path: Path = Path("freshtoken-kv.db")
    prefix: str = ""
    margin: float | None = Field(
        default=None, ge=0, le=86_400,
        description="Seconds before expiry a new token must be in KV (propagation). Default: the backend's own "
        "(60 for cloudflare-rest, 0 for sqlite, memory and redis).",
    )
    # redis
    url: SecretRef | None = Field(default=None, description="redis: the server URL (may hold a password).")
    # cloudflare-rest
    account_id: str | None = None
    namespace_id: str | None = None
    api_token: SecretRef | None = None
    base_url: str | None = Field(default=None, description="cloudflare-rest: API base URL (tests, proxies).")

    @model_validator(mode="after")
    def _backend_fields(self) -> KVConfig:
        if self.backend == "redis" and self.url is None:
            raise ValueError("backend 'redis' needs url (e.g. { env = \"REDIS_URL\" })")
        if self.backend == "cloudflare-rest":
            missing = [n for n in ("account_id", "namespace_id", "api_token") if getattr(self, n) is None]
            if missing:
                raise ValueError(f"backend 'cloudflare-rest' needs {', '.join(missing)}")
        return self


_HOST_NAME = re.compile(r"(?i)[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?")


class AdminTokenConfig(_Section):
    """``[[admin.tokens]]``: an admin token and the accounts it may see and change: ``"{tenant}:*"`` or ``"*"``."""

    token: SecretRef
    scope: str

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        if value == "*":
            return value
        tenant = value[:-2] if value.endswith(":*") else ""
        if not tenant or ":" in tenant or "*" in tenant or tenant != tenant.strip() or not tenant.isprintable():
            raise ValueError('scope must be "{tenant}:*" (one tenant\'s accounts, e.g. "acme:*") or "*" (all)')
        return value


class AdminConfig(_Section):
    """``[admin]``: the admin HTTP API served by ``freshtoken serve``."""

    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65_535)
    token: SecretRef | None = None
    ready_max_loop_lag: float = Field(
        default=5.0, gt=0, le=3600, description="/ready fails when the scheduler woke later than this (seconds)."
    )
    ready_max_overdue: float = Field(
        default=120.0, gt=0, le=86_400,
        description="/ready fails when an alarm has been due and not started for longer than this (seconds).",
    )
    tokens: list[AdminTokenConfig] = Field(
        default_factory=list, description="More admin tokens, each with a scope (a tenant's accounts, or all)."
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the API answers to besides the address it listens on (and localhost on loopback): "
        "a request naming any other host is refused (DNS rebinding).",
    )

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        out = []
        for name in value:
            bare = name.strip("[]")
            if ":" in bare and bare.count(":") >= 2:  # an IPv6 address
                try:
                    ipaddress.ip_address(bare)
                except ValueError:
                    raise ValueError(f"{name[:80]!r} is not a host name or an IP address") from None
            elif not _HOST_NAME.fullmatch(name):
                raise ValueError(f"{name[:80]!r} is not a host name (no scheme, port, path or wildcard)")
            out.append(bare.lower().rstrip("."))
        return out


WebhookEventName = AlertEventName | Literal["recovered"]
_RECOVERED: Literal["recovered"] = "recovered"


class WebhookConfig(_Section):
    """``[[alerting.webhook]]``: a generic webhook (JSON body, HMAC-SHA256 signature, retries)."""

    url: SecretRef = Field(description="Where events are POSTed (http(s); it goes through the endpoint policy).")
    secret: SecretRef = Field(description="The HMAC-SHA256 key of the signature header.")
    on: list[WebhookEventName] = Field(default_factory=lambda: [*ALERT_EVENTS, _RECOVERED])
    timeout: float = Field(default=5.0, gt=0, le=60)
    max_attempts: int = Field(default=5, ge=1, le=20, description="Deliveries tried per event.")
    queue_size: int = Field(default=1000, ge=1, le=1_000_000,
                            description="Events waiting for delivery; the oldest is dropped (and counted) past it.")


class LoggingConfig(_Section):
    """``[logging]``: the format of the process's log (``serve --log-format`` / ``--log-level`` override it)."""

    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] = "info"


class MetricsConfig(_Section):
    """``[metrics]``: Prometheus ``/metrics`` on its own address, without the admin token (also on the admin API)."""

    listen: str | None = Field(default=None, description='"host:port", e.g. "127.0.0.1:9464"; none: not served apart.')

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) → (host, port); ValueError naming what is wrong."""
    host, sep, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65_535:
        raise ValueError(f"{value[:80]!r} is not host:port (e.g. 127.0.0.1:9464)")
    return host, int(port)


class HistoryConfig(_Section):
    """``[history]``: the per-account event history in the state database."""

    per_account: int = Field(default=100, ge=0, le=100_000, description="Events kept per account (0: none).")


class AlertingConfig(_Section):
    """``[alerting]``: where alerts go and on which events."""

    log: bool = True
    slack_webhook: SecretRef | None = None
    slack_timeout: float = Field(default=5.0, gt=0, le=60)
    slack_max_per_minute: int = Field(default=20, ge=1, le=600)
    on: list[AlertEventName] = Field(default_factory=lambda: list(ALERT_EVENTS))
    webhook: list[WebhookConfig] = Field(default_factory=list, description="Generic webhooks ([[alerting.webhook]]).")


class SecurityConfig(_Section):
    """``[security]``: the endpoint policy's one switch (see :mod:`freshtoken.egress.endpoint_policy`)."""

    allow_private_networks: bool = Field(
        default=False,
        description="Allow token, revocation and discovery endpoints on private networks (10/8, 172.16/12, "
        "192.168/16, 100.64/10, fc00::/7). Metadata, link-local and plain-http-off-loopback stay refused.",
    )


class ConnectConfig(_Section):
    """``[connect]``: the admin API's connect flow (``POST /connect``, ``GET /connect/callback``)."""

    redirect_uri: str | None = Field(
        default=None,
        description="The callback URL registered at the provider, e.g. https://tokens.example.com/connect/callback "
        "(default: the admin API's own address, from the request's Host).",
    )
    state_ttl: float = Field(default=600.0, gt=0, le=86_400, description="Seconds a started connection may wait.")

    @field_validator("redirect_uri")
    @classmethod
    def _redirect_uri(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^/?#@\s]+/[^#\s]*", value):
            raise ValueError("must be an absolute http(s) URL with a path, e.g. https://host/connect/callback")
        return value


class Settings(BaseSettings):
    """The whole configuration. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    clients: dict[str, ClientConfig] = Field(default_factory=dict)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    kv: KVConfig = Field(default_factory=KVConfig)
    admin: AdminConfig = Field(default_factory=AdminConfig)
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    history: HistoryConfig = Field(default_factory=HistoryConfig)
    connect: ConnectConfig = Field(default_factory=ConnectConfig)

    _source: str = PrivateAttr(default="defaults and environment")
    _file: Path | None = PrivateAttr(default=None)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _toml_path.get()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    # -- where it came from -------------------------------------------------------------------------
    @property
    def source(self) -> str:
        """The file the settings were read from (or 'defaults and environment'), for error messages."""
        return self._source

    @property
    def file(self) -> Path | None:
        """The config file read, or None (defaults and environment only)."""
        return self._file

    def endpoint_policy(self) -> EndpointPolicy:
        """The endpoint policy of this deployment (``[security]``)."""
        return EndpointPolicy(allow_private_networks=self.security.allow_private_networks)

    def path(self, value: Path) -> Path:
        """A configured path, relative ones taken from the config file's folder."""
        return value if value.is_absolute() else self._base_dir / value

    # -- secrets ------------------------------------------------------------------------------------
    def secret(
        self, value: SecretStr | EnvRef | None, field: str, environ: Mapping[str, str] | None = None
    ) -> SecretStr | None:
        """Resolve a secret reference; a missing variable is a :class:`ConfigError` naming the field."""
        if value is None or isinstance(value, SecretStr):
            return value
        env = os.environ if environ is None else environ
        resolved = env.get(value.env)
        if resolved is None or resolved == "":
            raise ConfigError(
                f"{self.source}: {field}: environment variable {value.env} is not set"
                + (" (it is empty)" if resolved == "" else "")
            )
        return SecretStr(resolved)

    def oauth_client(self, name: str, environ: Mapping[str, str] | None = None) -> OAuthClient:
        cfg = self.clients.get(name)
        if cfg is None:
            known = ", ".join(sorted(self.clients)) or "none"
            raise ConfigError(f"{self.source}: no client {name!r} is configured (configured clients: {known})")
        base = f"clients.{name}"
        try:
            return OAuthClient(
                name=name,
                provider=cfg.provider,
                client_id=cfg.client_id,
                client_secret=self.secret(cfg.client_secret, f"{base}.client_secret", environ),
                private_key=self.secret(cfg.private_key, f"{base}.private_key", environ),
                auth_method=cfg.auth_method,
                jwt_alg=cfg.jwt_alg,
                jwt_headers=cfg.jwt_headers,
                provider_options=cfg.provider_options,
                provider_mismatch_ok=cfg.provider_mismatch_ok,
            )
        except ValidationError as exc:
            raise ConfigError(_format_errors(self.source, exc, prefix=(base,))) from None

    def oauth_clients(self, environ: Mapping[str, str] | None = None) -> dict[str, OAuthClient]:
        return {name: self.oauth_client(name, environ) for name in self.clients}

    def secret_values(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """Every secret the configuration holds or references (resolved when set), for redaction."""
        env = os.environ if environ is None else environ
        refs: list[SecretStr | EnvRef | None] = [self.admin.token, self.alerting.slack_webhook,
                                                 self.kv.url, self.kv.api_token]
        refs += [t.token for t in self.admin.tokens]
        refs += [ref for hook in self.alerting.webhook for ref in (hook.url, hook.secret)]
        for c in self.clients.values():
            refs += [c.client_secret, c.private_key]
        out = []
        for ref in refs:
            if isinstance(ref, SecretStr):
                out.append(ref.get_secret_value())
            elif isinstance(ref, EnvRef) and env.get(ref.env):
                out.append(env[ref.env])
        return [s for s in out if s]


def error_items(exc: ValidationError, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str, str]]:
    """(location, ``field.path``, message) per validation error. Never the input value."""
    out = []
    for err in exc.errors(include_input=False, include_url=False):
        parts = tuple(str(p) for p in (*prefix, *err["loc"]) if not _is_union_tag(p))
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        out.append((parts, ".".join(parts) or "(top level)", msg))
    return out


def _format_errors(source: str, exc: ValidationError, prefix: tuple[str, ...] = ()) -> str:
    """One line per problem: ``file: field.path: message``. Never the input value."""
    lines = [f"{source}: {loc}: {msg}" for _, loc, msg in error_items(exc, prefix)]
    return "\n".join(lines) if lines else f"{source}: invalid configuration"


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (part in ("SecretStr", "EnvRef") or "[" in part)


def config_path(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The config file to read: ``explicit``, else ``$FRESHTOKEN_CONFIG``, else ``./freshtoken.toml`` if present."""
    env = os.environ if environ is None else environ
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        return path
    if env.get(CONFIG_ENV_VAR):
        path = Path(env[CONFIG_ENV_VAR])
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} (from {CONFIG_ENV_VAR}) does not exist")
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def load_settings(path: str | os.PathLike[str] | None = None, *, check_endpoints: bool = True) -> Settings:
    """Read the configuration (see the module docstring); :class:`ConfigError` with a clear message.

    ``check_endpoints=False`` skips the endpoint policy (``config check`` lists those problems itself)."""
    file = config_path(path)
    source = str(file) if file is not None else "configuration (no file; defaults and environment)"
    if file is not None:
        try:
            with open(file, "rb") as fh:
                tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{file}: cannot be read ({exc.strerror or exc.__class__.__name__})") from None
    token = _toml_path.set(file)
    try:
        settings = Settings()
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc)) from None
    except ValueError as exc:  # an environment override that is not valid JSON for a nested field
        raise ConfigError(f"{source}: {exc.__class__.__name__} in an environment override") from None
    finally:
        _toml_path.reset(token)
    settings._source = source
    settings._file = file
    settings._base_dir = file.resolve().parent if file is not None else Path.cwd()
    if check_endpoints:
        _check_endpoints(settings)
    return settings


def settings_from_dict(data: Mapping[str, Any], *, source: str = "settings", base_dir: Path | None = None) -> Settings:
    """Settings from a mapping (tests, embedding hosts); the mapping wins over the environment."""
    token = _toml_path.set(None)
    try:
        settings = Settings(**dict(data))
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc)) from None
    finally:
        _toml_path.reset(token)
    settings._source = source
    settings._base_dir = base_dir or Path.cwd()
    _check_endpoints(settings)
    return settings


#: The provider options that name a URL a secret is sent to (or discovered from).
ENDPOINT_OPTIONS = ("token_url", "revocation_url", "issuer")


def _check_endpoints(settings: Settings) -> None:
    """The endpoint policy over every configured URL a secret goes to; an :class:`UnsafeEndpoint` naming the
    file and the field (never the URL's path or query)."""
    for field, message in endpoint_problems(settings):
        raise UnsafeEndpoint(f"{settings.source}: {field}: {message}")


def endpoint_problems(settings: Settings) -> list[tuple[str, str]]:
    """(field, message) for every configured URL the endpoint policy refuses."""
    out: list[tuple[str, str]] = []
    policy = settings.endpoint_policy()
    checks: list[tuple[str, Any]] = [("kv.base_url", settings.kv.base_url)]
    for name, client in settings.clients.items():
        checks += [(f"clients.{name}.provider_options.{opt}", client.provider_options.get(opt))
                   for opt in ENDPOINT_OPTIONS]
    for field, value in checks:
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            out.append((field, "must be a URL"))
            continue
        try:
            policy.check_template(value, what="URL")
        except UnsafeEndpoint as exc:
            out.append((field, str(exc)))
    return out
