"""Build the embedded host from :class:`~freshtoken.host.config.Settings`: KV, plugins (alerters, metrics), runtime.

    settings = load_settings()            # freshtoken.toml
    host = build_host(settings)           # EmbeddedRuntime + KV + plugins + metrics
    async with host.runtime: ...

Every problem (unknown provider, missing environment variable, missing encryption key, unavailable KV backend)
is a :class:`~freshtoken.errors.ConfigError` naming the config file and the field.
"""

from __future__ import annotations

import importlib
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..clock import Clock
from ..errors import ConfigError, FreshtokenError, UnsafeEndpoint
from ..kv import MemoryKV
from ..plugins import Plugins
from ..storage import SecretCodec
from .config import Settings

if TYPE_CHECKING:
    from ..embedded import EmbeddedRuntime
    from ..http import TokenHTTP
    from ..observability.metrics import Metrics

#: Where each optional KV backend lives: backend name -> (module, class).
KV_BACKENDS: dict[str, tuple[str, str]] = {
    "redis": ("freshtoken.kv.redis", "RedisKV"),
    "cloudflare-rest": ("freshtoken.kv.workers_rest", "RestKV"),
}


@dataclass
class Host:
    """What :func:`build_host` made: the runtime and the parts the admin API and CLI need."""

    settings: Settings
    runtime: EmbeddedRuntime
    kv: Any
    plugins: Plugins
    metrics: Metrics | None
    closers: list[Any] = field(default_factory=list)
    #: The per-account event history (:class:`~freshtoken.embedded.history.AccountHistory`), or None.
    history: Any = None
    #: The fleet gauges of the metrics (:class:`~freshtoken.embedded.fleet_gauges.FleetGauges`), or None.
    fleet: Any = None

    async def aclose(self) -> None:
        await self.runtime.aclose()
        for obj in [*self.closers, self.history, self.fleet]:  # the history writes its last events here
            closer = getattr(obj, "aclose", None)
            if callable(closer):
                await closer()


def _import_backend(backend: str) -> Any:
    module_name, attr = KV_BACKENDS[backend]
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr)
    except ImportError as exc:
        raise ConfigError(
            f"kv.backend: {backend!r} is not available ({exc.__class__.__name__}: {exc.name or module_name}); "
            f"install 'freshtoken[{backend.split('-')[0]}]'"
        ) from None
    except AttributeError:
        raise ConfigError(f"kv.backend: {backend!r} is not available in this version of freshtoken") from None


def build_kv(settings: Settings, *, clock: Clock | None = None, readonly: bool = False,
             environ: Mapping[str, str] | None = None) -> Any:
    """The KV backend of ``[kv]`` (a writer and reader)."""
    cfg = settings.kv
    src = settings.source
    if cfg.backend == "memory":
        return MemoryKV(clock)
    if cfg.backend == "sqlite":
        from ..embedded import SQLiteKV

        path = settings.path(cfg.path)
        if readonly and not path.exists():
            raise ConfigError(
                f"{src}: kv.path: {str(path)!r} does not exist (no token written yet: "
                "is 'freshtoken serve' running with this configuration?)"
            )
        try:
            return SQLiteKV(path, clock=clock, readonly=readonly)
        except FreshtokenError as exc:
            raise ConfigError(f"{src}: kv.path: {exc}") from None
        except Exception as exc:
            raise ConfigError(f"{src}: kv.path: cannot open {str(path)!r} ({exc.__class__.__name__})") from None
    cls = _import_backend(cfg.backend)
    try:
        if cfg.backend == "redis":
            url = settings.secret(cfg.url, "kv.url", environ)
            assert url is not None
            return cls(url=url.get_secret_value())
        token = settings.secret(cfg.api_token, "kv.api_token", environ)
        assert token is not None
        extra = {"base_url": cfg.base_url} if cfg.base_url else {}
        return cls(account_id=cfg.account_id, namespace_id=cfg.namespace_id,
                   api_token=token.get_secret_value(), **extra)
    except ConfigError:
        raise
    except FreshtokenError as exc:
        raise ConfigError(f"{src}: kv: {exc}") from None
    except Exception as exc:
        raise ConfigError(f"{src}: kv: backend {cfg.backend!r} failed to start ({exc.__class__.__name__})") from None


def build_plugins(
    settings: Settings,
    *,
    plugins: Plugins | None = None,
    metrics: Metrics | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Plugins, list[Any]]:
    """The plugin manager with every installed provider, plus the alerters of ``[alerting]`` and ``metrics``.

    Returns (plugins, alerters); alerters with an ``aclose`` should be closed by the host.
    """
    pm = plugins if plugins is not None else Plugins()
    alerting = settings.alerting
    alerters: list[Any] = []
    if alerting.log:
        from ..observability.alerts import LoggingAlerter

        alerters.append(LoggingAlerter(alerting.on))
    webhook = settings.secret(alerting.slack_webhook, "alerting.slack_webhook", environ)
    if webhook is not None:
        from ..observability.alerts import SlackAlerter

        if not webhook.get_secret_value().startswith(("https://", "http://")):
            raise ConfigError(f"{settings.source}: alerting.slack_webhook: must be an http(s) URL")
        try:  # the webhook URL is itself a secret: the policy's message names only its scheme and host
            settings.endpoint_policy().check(webhook.get_secret_value(), "URL")
        except UnsafeEndpoint as exc:
            raise UnsafeEndpoint(f"{settings.source}: alerting.slack_webhook: {exc}") from None
        alerters.append(SlackAlerter(webhook, on=alerting.on, timeout=alerting.slack_timeout,
                                     secrets=settings.secret_values(environ),
                                     max_per_minute=alerting.slack_max_per_minute))
    for i, hook in enumerate(alerting.webhook):
        alerters.append(_webhook_alerter(settings, i, hook, environ))
    for n, alerter in enumerate(alerters):
        pm.register(alerter, name=f"freshtoken.observability.alerts.{type(alerter).__name__}.{n}")
    if not pm.has_plugin("freshtoken.observability.logs"):
        from ..observability.logs import RefreshLog

        pm.register(RefreshLog(), name="freshtoken.observability.logs")
    if metrics is not None:
        pm.register(metrics, name="freshtoken.observability.metrics")
    return pm, alerters


def _webhook_alerter(settings: Settings, i: int, hook: Any, environ: Mapping[str, str] | None) -> Any:
    """``[[alerting.webhook]]`` number ``i``: its URL through the endpoint policy, its secrets resolved."""
    from ..observability.alerts.webhook import WebhookAlerter

    field = f"alerting.webhook[{i}]"
    url = settings.secret(hook.url, f"{field}.url", environ)
    secret = settings.secret(hook.secret, f"{field}.secret", environ)
    assert url is not None and secret is not None
    if not url.get_secret_value().startswith(("https://", "http://")):
        raise ConfigError(f"{settings.source}: {field}.url: must be an http(s) URL")
    try:  # the URL may hold a token: the policy's message names only its scheme and host
        return WebhookAlerter(url, secret, on=hook.on, timeout=hook.timeout, max_attempts=hook.max_attempts,
                              queue_size=hook.queue_size, secrets=settings.secret_values(environ),
                              policy=settings.endpoint_policy())
    except UnsafeEndpoint as exc:
        raise UnsafeEndpoint(f"{settings.source}: {field}.url: {exc}") from None


def build_host(
    settings: Settings,
    *,
    codec: SecretCodec | None = None,
    kv: Any = None,
    plugins: Plugins | None = None,
    clock: Clock | None = None,
    http: TokenHTTP | None = None,
    with_metrics: bool = True,
    environ: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
) -> Host:
    """KV + plugins (alerters, metrics) + :class:`~freshtoken.embedded.EmbeddedRuntime`, from settings.

    ``codec`` defaults to :meth:`AesGcmCodec.from_env` (``FRESHTOKEN_ENCRYPTION_KEYS``; a missing key is a
    :class:`ConfigError`, never a plaintext fallback).
    """
    from ..embedded import AesGcmCodec, EmbeddedRuntime, SQLiteStore

    env = os.environ if environ is None else environ
    clients = settings.oauth_clients(env)
    if codec is None:
        codec = AesGcmCodec.from_env(env)
    metrics = None
    if with_metrics:
        from ..observability.metrics import Metrics

        metrics = Metrics()
    pm, alerters = build_plugins(settings, plugins=plugins, metrics=metrics, environ=env)
    kv_backend = kv if kv is not None else build_kv(settings, clock=clock, environ=env)
    db = settings.path(settings.runtime.database)
    try:
        store = SQLiteStore(db, codec)
    except FreshtokenError as exc:
        raise ConfigError(f"{settings.source}: runtime.database: {exc}") from None
    except Exception as exc:
        raise ConfigError(
            f"{settings.source}: runtime.database: cannot open {str(db)!r} ({exc.__class__.__name__})"
        ) from None
    try:
        runtime = EmbeddedRuntime(
            store=store, kv=kv_backend, clients=clients, plugins=pm, clock=clock, http=http,
            concurrency=settings.runtime.concurrency, startup_spread=settings.runtime.startup_spread,
            per_client_concurrency=settings.runtime.per_client_concurrency,
            kv_prefix=settings.kv.prefix, kv_margin=settings.kv.margin, rng=rng, max_idle=settings.runtime.max_idle,
            lease_ttl=settings.runtime.lease_ttl, drain_timeout=settings.runtime.drain_timeout,
            endpoint_policy=settings.endpoint_policy(),
            rate_limits={n: c.rate_limit for n, c in settings.clients.items() if c.rate_limit is not None},
        )
    except ConfigError as exc:
        store.close()
        raise type(exc)(f"{settings.source}: clients: {exc}") from None
    fleet = None
    if metrics is not None:
        from ..embedded.fleet_gauges import FleetGauges

        fleet = FleetGauges(db, runtime.clock.now)
        metrics.bind(runtime.stats, fleet)
        metrics.watch_webhooks(a for a in alerters if type(a).__name__ == "WebhookAlerter")
    history = None
    if settings.history.per_account > 0:
        from ..embedded.history import AccountHistory

        history = AccountHistory(db, per_account=settings.history.per_account, secrets=settings.secret_values(env))
        pm.register(history, name=f"freshtoken.embedded.history.{id(history)}")
    return Host(settings=settings, runtime=runtime, kv=kv_backend, plugins=pm, metrics=metrics, closers=alerters,
                history=history, fleet=fleet)


def build_runtime(settings: Settings, **kwargs: Any) -> EmbeddedRuntime:
    """The :class:`~freshtoken.embedded.EmbeddedRuntime` of :func:`build_host`. Prefer :func:`build_host` in a
    long-lived host: its :meth:`Host.aclose` also closes the Slack alerter's HTTP client."""
    return build_host(settings, **kwargs).runtime
