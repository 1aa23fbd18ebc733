"""``provider_options.extra_fields`` copies response fields in the clear to KV and to the state's ``extras``: a
secret field there is refused, with a ConfigError naming it, when the configuration is read and when a provider
is built (including the fields a provider plugin declares secret)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest

from freshtoken.errors import ConfigError
from freshtoken.hookspecs import hookimpl
from freshtoken.host.config import load_settings
from freshtoken.plugins import Plugins
from freshtoken.provider import Provider
from freshtoken.providers.generic import GenericProvider

SECRET_NAMES = ["refresh_token", "access_token", "id_token", "refreshToken", "ID_TOKEN", "client_secret"]


def config(tmp_path: Path, fields: list[str]) -> Path:
    path = tmp_path / "freshtoken.toml"
    path.write_text(f"""
[clients.acme]
provider = "generic"
client_id = "acme"
client_secret = "not-a-real-secret"
[clients.acme.provider_options]
token_url = "https://auth.acme.example/oauth/token"
extra_fields = {fields!r}
""".replace("'", '"'))
    return path


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_the_configuration_refuses_a_secret_extra_field(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(config(tmp_path, ["instance_url", name]))
    message = str(info.value)
    assert "clients.acme.provider_options" in message and repr(name) in message and "secret" in message
    assert "instance_url" not in message.split("extra_fields:", 1)[1].split("hold")[0]  # only the secret one


def test_non_secret_extra_fields_are_accepted(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path, ["instance_url", "api_url"]))
    assert settings.clients["acme"].provider_options["extra_fields"] == ["instance_url", "api_url"]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_building_a_provider_refuses_a_secret_extra_field(name: str) -> None:
    plugins = Plugins(entry_points=False)
    plugins.register(_Register(GenericProvider), "generic")
    with pytest.raises(ConfigError, match=f"extra_fields.*{name!r}.*secret"):
        plugins.provider("generic", {"token_url": "https://a.example/t", "extra_fields": [name]})


class SlackLike(Provider):
    name = "slacklike"
    secret_fields: ClassVar[frozenset[str]] = frozenset({"bot_token"})


def test_a_provider_declares_its_own_secret_fields() -> None:
    plugins = Plugins(entry_points=False)
    plugins.register(_Register(SlackLike), "slacklike")
    with pytest.raises(ConfigError, match=r"'bot_token'.*secret"):
        plugins.provider("slacklike", {"token_url": "https://a.example/t", "extra_fields": ["team", "bot_token"]})
    assert plugins.provider("slacklike", {"token_url": "https://a.example/t", "extra_fields": ["team"]})


def test_a_provider_copied_without_validation_still_never_copies_a_secret() -> None:
    provider = GenericProvider(token_url="https://a.example/t").model_copy(
        update={"extra_fields": ("refresh_token", "id_token", "instance_url")}
    )
    tokens = provider.parse_token(
        {"access_token": "at", "refresh_token": "rt-secret", "id_token": "idt", "instance_url": "https://x"}, 0.0
    )
    assert tokens.extras == {"instance_url": "https://x"}


class _Register:
    def __init__(self, cls: type[Provider]) -> None:
        self.cls = cls

    @hookimpl
    def freshtoken_register_providers(self, register: Callable[[type[Provider]], None]) -> None:
        register(self.cls)
