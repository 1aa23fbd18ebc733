"""The plugin manager: loads ``freshtoken`` entry points, keeps the provider registry, dispatches events.

A plugin that fails to import, or registers something that is not a provider, is recorded as broken and
reported (``freshtoken providers``); it never stops the host, and other plugins load normally.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy
from pydantic import ValidationError

from . import hookspecs
from .catalog import unknown_provider_hint
from .errors import ConfigError, UnknownProvider
from .events import Event
from .provider import Provider
from .strategies import Strategy, builtin_strategies

log = logging.getLogger("freshtoken.plugins")

ENTRY_POINT_GROUP = "freshtoken"


@dataclass(frozen=True)
class ProviderInfo:
    name: str
    provider: type[Provider]
    plugin: str
    distribution: str | None
    version: str | None


@dataclass(frozen=True)
class BrokenPlugin:
    name: str
    distribution: str | None
    error: str


class Plugins:
    """Hook dispatch and the provider registry. ``entry_points=False`` loads only what is registered by hand."""

    def __init__(self, *, entry_points: bool = True) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self.broken: list[BrokenPlugin] = []
        self._dists: dict[str, tuple[str | None, str | None]] = {}
        self._providers: dict[str, ProviderInfo] | None = None
        self._strategies: dict[str, Strategy] | None = None
        if entry_points:
            self.load_entry_points()

    # -- loading ----------------------------------------------------------------------------------
    def load_entry_points(self) -> None:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if self.has_plugin(ep.name):
                continue
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else None
            dist_version = dist.version if dist is not None else None
            try:
                plugin = ep.load()
                self._pm.register(plugin, name=ep.name)
            except Exception as exc:
                log.error("plugin %r (%s) failed to load: %s", ep.name, dist_name, exc.__class__.__name__)
                self.broken.append(BrokenPlugin(ep.name, dist_name, f"{exc.__class__.__name__}: {exc}"[:300]))
                continue
            self._dists[ep.name] = (dist_name, dist_version)
        self._providers = None
        self._strategies = None

    def register(self, plugin: Any, name: str | None = None) -> None:
        """Register a plugin object or module by hand (tests, embedded hosts, Workers)."""
        self._pm.register(plugin, name=name)
        self._providers = None
        self._strategies = None

    def has_plugin(self, name: str) -> bool:
        """Whether a plugin is registered under ``name`` (by an entry point or :meth:`register`)."""
        return self._pm.get_plugin(name) is not None

    # -- providers --------------------------------------------------------------------------------
    def providers(self) -> dict[str, ProviderInfo]:
        if self._providers is None:
            self._providers = self._collect()
        return dict(self._providers)

    def _collect(self) -> dict[str, ProviderInfo]:
        found: dict[str, ProviderInfo] = {}
        for impl in self._pm.hook.freshtoken_register_providers.get_hookimpls():
            plugin_name = impl.plugin_name
            dist, version = self._dists.get(plugin_name, (None, None))

            def register(cls: type[Provider], _p: str = plugin_name, _d: Any = dist, _v: Any = version) -> None:
                if not (inspect.isclass(cls) and issubclass(cls, Provider)):
                    raise TypeError(f"plugin {_p!r} registered {cls!r}, which is not a Provider subclass")
                name = cls.name
                if name in found and found[name].provider is not cls:
                    raise ConfigError(
                        f"provider {name!r} is registered twice: by {found[name].plugin!r} and {_p!r}"
                    )
                found[name] = ProviderInfo(name, cls, _p, _d, _v)

            try:
                impl.function(register=register)
            except ConfigError:
                raise
            except Exception as exc:
                log.error("plugin %r failed to register providers: %s", plugin_name, exc)
                self.broken.append(BrokenPlugin(plugin_name, dist, f"{exc.__class__.__name__}: {exc}"[:300]))
        return found

    def provider_class(self, name: str) -> type[Provider]:
        info = self.providers().get(name)
        if info is None:
            known = ", ".join(sorted(self.providers())) or "none"
            raise UnknownProvider(
                f"unknown provider {name!r}: {unknown_provider_hint(name, self.providers())} "
                f"(installed providers: {known})"
            )
        return info.provider

    def provider(self, name: str, options: dict[str, Any] | None = None) -> Provider:
        """An instance of provider ``name`` with ``options`` applied, validated."""
        cls = self.provider_class(name)
        try:
            return cls(**(options or {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(options)'}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"provider {name!r}: invalid options: {problems}") from None

    # -- strategies -------------------------------------------------------------------------------
    def strategies(self) -> dict[str, Strategy]:
        """The built-in strategies and those plugins register (``freshtoken_register_strategies``), by name."""
        if self._strategies is None:
            self._strategies = self._collect_strategies()
        return dict(self._strategies)

    def _collect_strategies(self) -> dict[str, Strategy]:
        found = builtin_strategies()
        owners = dict.fromkeys(found, "freshtoken")
        for impl in self._pm.hook.freshtoken_register_strategies.get_hookimpls():
            plugin_name = impl.plugin_name

            def register(cls: type[Strategy], _p: str = plugin_name) -> None:
                if not (inspect.isclass(cls) and issubclass(cls, Strategy) and cls.name):
                    raise TypeError(f"plugin {_p!r} registered {cls!r}, which is not a named Strategy subclass")
                if cls.name in found and type(found[cls.name]) is not cls:
                    raise ConfigError(
                        f"strategy {cls.name!r} is registered twice: by {owners[cls.name]!r} and {_p!r}"
                    )
                found[cls.name], owners[cls.name] = cls(), _p

            try:
                impl.function(register=register)
            except ConfigError:
                raise
            except Exception as exc:
                log.error("plugin %r failed to register strategies: %s", plugin_name, exc)
                dist, _ = self._dists.get(plugin_name, (None, None))
                self.broken.append(BrokenPlugin(plugin_name, dist, f"{exc.__class__.__name__}: {exc}"[:300]))
        return found

    # -- events -----------------------------------------------------------------------------------
    async def emit(self, hook_name: str, event: Event) -> None:
        """Call every implementation of ``hook_name``; await what they return; isolate failures."""
        hook = getattr(self._pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            try:
                result = impl.function(event=event)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                log.error("event hook %s in plugin %r failed: %s", hook_name, impl.plugin_name, exc.__class__.__name__)


_default: Plugins | None = None


def default_plugins() -> Plugins:
    """The process-wide plugin manager with every installed entry point loaded."""
    global _default
    if _default is None:
        _default = Plugins()
    return _default
