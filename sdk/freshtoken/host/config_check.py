"""``freshtoken config check``: every problem of a configuration in one run, each naming where it is.

Loading the configuration for real stops at the first problem (a runtime must not start half-configured); an
operator fixing a file wants them all at once. The check reads the file as TOML, then collects:

* every validation error of the file and of the ``FRESHTOKEN_…`` environment overrides (an error caused by an
  override names the environment variable, not only the field);
* every secret reference ``{ env = "VAR" }`` whose variable is unset or empty, wherever it sits;
* every client whose provider is not installed, with "did you mean" (installed names and the project's catalog);
* every provider option the provider refuses, and every endpoint the endpoint policy refuses;
* the encryption keys (``FRESHTOKEN_ENCRYPTION_KEYS``) and, when the database exists, whether they open it.

No secret value is ever part of a problem (only variable names, field paths and the check's own words).
"""

from __future__ import annotations

import os
import sqlite3
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError, FreshtokenError
from .config import (
    CONFIG_ENV_VAR,
    ENV_PREFIX,
    ClientConfig,
    RuntimeConfig,
    SecurityConfig,
    Settings,
    _toml_path,
    config_path,
    endpoint_problems,
    error_items,
    load_settings,
)

#: ``FRESHTOKEN_…`` variables that are not overrides of a configuration field.
NOT_OVERRIDES = frozenset({CONFIG_ENV_VAR, "FRESHTOKEN_ENCRYPTION_KEYS", "FRESHTOKEN_CREATE_DATABASE"})


@dataclass(frozen=True)
class Problem:
    """One problem: where (a field path, or an environment variable) and what."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class Report:
    source: str
    problems: list[Problem]
    clients: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        return [f"{self.source}: {p}" for p in self.problems]


def check_config(path: str | os.PathLike[str] | None = None) -> Report:
    """Every problem of the configuration found from ``path`` (as :func:`load_settings` finds it), with the
    process environment (overrides and secret references)."""
    env = dict(os.environ)
    try:
        file = config_path(path, env)
    except ConfigError as exc:
        return Report("configuration", [Problem("file", str(exc))])
    source = str(file) if file is not None else "configuration (no file; defaults and environment)"
    raw: dict[str, Any] = {}
    if file is not None:
        try:
            raw = tomllib.loads(Path(file).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            return Report(source, [Problem("file", f"not valid TOML: {exc}")])
        except (OSError, UnicodeDecodeError) as exc:
            return Report(source, [Problem("file", f"cannot be read ({exc.__class__.__name__})")])
    problems: list[Problem] = []
    problems += _validation_problems(file, env)
    problems += [Problem(where, f"environment variable {var} is not set" + (" (it is empty)" if empty else ""))
                 for where, var, empty in _missing_env_refs(raw, env)]
    problems += _provider_problems(raw)
    settings = _settings_or_none(file) or _partial_settings(raw, file)
    problems += [Problem(where, msg) for where, msg in endpoint_problems(settings)]
    problems += _option_problems(settings)
    problems += _key_problems(settings, env)
    clients = raw.get("clients")
    return Report(source, _unique(problems), clients=len(clients) if isinstance(clients, dict) else 0)


# -- validation --------------------------------------------------------------------------------------------
def _overrides(env: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """Field path (lower case) -> the ``FRESHTOKEN_…`` variable overriding it."""
    out = {}
    for name in env:
        upper = name.upper()
        if upper.startswith(ENV_PREFIX) and upper not in NOT_OVERRIDES:
            out[tuple(upper[len(ENV_PREFIX):].lower().split("__"))] = name
    return out


def _validation_problems(file: Path | None, env: Mapping[str, str]) -> list[Problem]:
    overrides = _overrides(env)
    token = _toml_path.set(file)
    try:
        Settings()
    except ValidationError as exc:
        out = []
        for parts, where, message in error_items(exc):
            loc = tuple(p.lower() for p in parts)
            var = next((v for path, v in overrides.items() if loc[: len(path)] == path), None)
            out.append(Problem(f"{where} (from environment variable {var})" if var else where, message))
        return out
    except ValueError:  # an override pydantic-settings could not even parse (JSON for a nested field)
        return [Problem(f"environment variable {var}", "is not a valid value for " + ".".join(path))
                for path, var in overrides.items()] or [Problem("environment", "an override is not valid")]
    finally:
        _toml_path.reset(token)
    return []


def _settings_or_none(file: Path | None) -> Settings | None:
    try:
        return load_settings(file, check_endpoints=False)
    except (ConfigError, ValueError):
        return None


def _partial_settings(raw: Mapping[str, Any], file: Path | None) -> Settings:
    """Settings of the parts of ``raw`` that are valid on their own (each client, ``[runtime]``, ``[security]``):
    so that one invalid section does not hide the provider, endpoint and key problems of the others."""
    sections: dict[str, Any] = {"clients": {}}
    clients = raw.get("clients")
    for name, cfg in (clients.items() if isinstance(clients, dict) else ()):
        try:
            sections["clients"][name] = ClientConfig.model_validate(cfg)
        except ValidationError:
            continue
    for name, model in (("runtime", RuntimeConfig), ("security", SecurityConfig)):
        try:
            sections[name] = model.model_validate(raw.get(name, {}))
        except ValidationError:
            continue
    settings = Settings.model_construct(**sections)
    settings._source = str(file) if file is not None else "configuration"
    settings._file = file
    settings._base_dir = file.resolve().parent if file is not None else Path.cwd()
    return settings


# -- secret references ---------------------------------------------------------------------------------------
def _walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, (*path, str(k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, (*path, str(i)))


def _missing_env_refs(raw: Mapping[str, Any], env: Mapping[str, str]) -> list[tuple[str, str, bool]]:
    out = []
    for path, node in _walk(raw):
        if isinstance(node, dict) and set(node) == {"env"} and isinstance(node["env"], str):
            value = env.get(node["env"])
            if not value:
                out.append((".".join(path), node["env"], value == ""))
    return out


# -- providers ---------------------------------------------------------------------------------------------------
def _provider_problems(raw: Mapping[str, Any]) -> list[Problem]:
    from ..catalog import unknown_provider_hint
    from ..plugins import Plugins

    clients = raw.get("clients")
    if not isinstance(clients, dict):
        return []
    installed = Plugins().providers()
    out = []
    for name, cfg in clients.items():
        provider = cfg.get("provider") if isinstance(cfg, dict) else None
        if isinstance(provider, str) and provider and provider not in installed:
            out.append(Problem(f"clients.{name}.provider",
                               f"unknown provider {provider!r}: {unknown_provider_hint(provider, installed)}"))
    return out


def _option_problems(settings: Settings) -> list[Problem]:
    from ..plugins import Plugins

    pm = Plugins()
    installed = pm.providers()
    out = []
    for name, cfg in settings.clients.items():
        if cfg.provider not in installed:
            continue  # reported by _provider_problems
        try:
            pm.provider(cfg.provider, dict(cfg.provider_options))
        except FreshtokenError as exc:
            out.append(Problem(f"clients.{name}.provider_options", str(exc)))
    return out


# -- keys -----------------------------------------------------------------------------------------------------------
def _key_problems(settings: Settings, env: Mapping[str, str]) -> list[Problem]:
    try:
        from ..embedded.crypto import AesGcmCodec, verify_key_check
    except ImportError:
        return []
    try:
        codec = AesGcmCodec.from_env(env)
    except ConfigError as exc:
        return [Problem("FRESHTOKEN_ENCRYPTION_KEYS", str(exc).removeprefix("FRESHTOKEN_ENCRYPTION_KEYS").lstrip(": "))]
    db = settings.path(settings.runtime.database)
    if not db.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE name = 'key_check'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return [Problem("runtime.database", f"{str(db)!r} cannot be read as a freshtoken database ({exc})")]
    if row is None:
        return []
    try:
        verify_key_check(codec, str(row[0]), what=f"the database {str(db)!r}")
    except ConfigError as exc:
        return [Problem("FRESHTOKEN_ENCRYPTION_KEYS", str(exc))]
    return []


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    out = []
    for p in problems:
        if (p.where, p.message) not in seen:
            seen.add((p.where, p.message))
            out.append(p)
    return out
