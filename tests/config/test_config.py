"""Configuration: TOML + environment overrides; every error names the file and field, never a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from freshtoken.errors import ConfigError
from freshtoken.host.config import load_settings, settings_from_dict
from freshtoken.host.factory import build_host, build_kv
from freshtoken.kv import MemoryKV
from tests.admin.support import CLIENT_SECRET, write_config


def test_loads_file_env_refs_and_overrides(env: Path, sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(env, sandbox.token_url)
    monkeypatch.setenv("FRESHTOKEN_RUNTIME__CONCURRENCY", "7")
    monkeypatch.setenv("FRESHTOKEN_CLIENTS__SANDBOX__JWT_ALG", "RS256")
    s = load_settings(path)
    assert s.source == str(path)
    assert s.runtime.concurrency == 7
    assert s.runtime.startup_spread == 0
    client = s.oauth_client("sandbox")
    assert client.jwt_alg == "RS256"
    assert client.client_secret is not None and client.client_secret.get_secret_value() == CLIENT_SECRET
    assert client.provider_options["token_url"] == sandbox.token_url
    # relative paths are relative to the config file's folder
    assert s.path(s.runtime.database) == env / "state.db"
    assert CLIENT_SECRET not in repr(s)


def test_config_file_from_env_var_and_default(env: Path, sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(env, sandbox.token_url)
    other = env / "elsewhere.toml"
    path.rename(other)
    monkeypatch.setenv("FRESHTOKEN_CONFIG", str(other))
    assert load_settings().source == str(other)
    monkeypatch.delenv("FRESHTOKEN_CONFIG")
    assert load_settings().clients == {}  # no ./freshtoken.toml: defaults
    other.rename(env / "freshtoken.toml")
    assert "sandbox" in load_settings().clients


def test_missing_explicit_file(env: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file 'nope.toml' does not exist"):
        load_settings("nope.toml")


def test_bad_toml_names_the_file_and_position(env: Path) -> None:
    path = env / "bad.toml"
    path.write_text('[clients.a]\nclient_secret = "PLANTED-secret-in-bad-toml\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    text = str(info.value)
    assert str(path) in text and "not valid TOML" in text and "line" in text
    assert "PLANTED-secret-in-bad-toml" not in text


def test_bad_fields_give_paths_and_reasons_without_values(env: Path) -> None:
    path = env / "c.toml"
    path.write_text(
        """
[clients.acme]
provider = "generic"
client_id = "x"
client_secret = 1234567890123
auth_method = "PLANTED-bad-method"
[runtime]
concurrency = "many"
databse = "typo.db"
[kv]
backend = "cloudflare-rest"
[admin]
token = { env = "X", other = "PLANTED-token-in-ref" }
[alerting]
on = ["refresh_failed", "everything"]
"""
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    text = str(info.value)
    lines = text.splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines)
    for field in (
        "clients.acme.client_secret", "clients.acme.auth_method", "runtime.concurrency", "runtime.databse",
        "kv", "admin.token", "alerting.on.1",
    ):
        assert any(f": {field}: " in line for line in lines), (field, text)
    assert "unknown field" in text
    assert "needs account_id, namespace_id, api_token" in text
    assert "1234567890123" not in text and "PLANTED" not in text


def test_env_override_of_bad_value(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRESHTOKEN_ADMIN__PORT", "99999")
    with pytest.raises(ConfigError, match=r"admin\.port: Input should be less than or equal to 65535"):
        load_settings()


def test_missing_env_var_names_field_and_variable(env: Path, sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(env, sandbox.token_url)
    monkeypatch.delenv("FT_TEST_CLIENT_SECRET")
    s = load_settings(path)
    with pytest.raises(ConfigError) as info:
        build_host(s)
    assert str(info.value) == (
        f"{path}: clients.sandbox.client_secret: environment variable FT_TEST_CLIENT_SECRET is not set"
    )


def test_unknown_provider(env: Path, sandbox) -> None:
    path = write_config(env, sandbox.token_url, extra='\n[clients.other]\nprovider = "no-such-provider"\nclient_id = "c"\n')
    with pytest.raises(ConfigError) as info:
        build_host(load_settings(path))
    text = str(info.value)
    assert str(path) in text and "'other'" in text and "unknown provider 'no-such-provider'" in text
    assert "generic" in text  # lists the installed ones


def test_invalid_provider_options(env: Path, sandbox) -> None:
    path = write_config(env, sandbox.token_url, extra='\n[clients.other]\nprovider = "generic"\nclient_id = "c"\n'
                        '[clients.other.provider_options]\nlead = -5\nbogus = 1\n')
    with pytest.raises(ConfigError) as info:
        build_host(load_settings(path))
    text = str(info.value)
    assert "'other'" in text and "lead" in text and "bogus" in text


def test_missing_encryption_key_is_a_start_up_error(env: Path, sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(env, sandbox.token_url)
    monkeypatch.delenv("FRESHTOKEN_ENCRYPTION_KEYS")
    with pytest.raises(ConfigError, match="FRESHTOKEN_ENCRYPTION_KEYS is not set"):
        build_host(load_settings(path))


def test_unknown_client_name(env: Path, sandbox) -> None:
    s = load_settings(write_config(env, sandbox.token_url))
    with pytest.raises(ConfigError, match=r"no client 'nope' is configured \(configured clients: sandbox\)"):
        s.oauth_client("nope")


def test_kv_backends(env: Path, sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(build_kv(settings_from_dict({"kv": {"backend": "memory"}})), MemoryKV)
    (env / "afile").write_text("")
    s = settings_from_dict({"kv": {"backend": "sqlite", "path": "afile/kv.db"}}, source="t.toml")
    with pytest.raises(ConfigError, match=r"t\.toml: kv\.path"):
        build_kv(s)
    with pytest.raises(ConfigError, match="does not exist"):
        build_kv(settings_from_dict({"kv": {"path": "never-written.db"}}), readonly=True)
    monkeypatch.setenv("REDIS_URL", "redis://:PLANTED-pw@127.0.0.1:1/0")
    redis = build_kv(settings_from_dict({"kv": {"backend": "redis", "url": {"env": "REDIS_URL"}}}))
    assert type(redis).__name__ == "RedisKV" and "PLANTED-pw" not in repr(redis)
    monkeypatch.setenv("CF_TOKEN", "PLANTED-cf-token")
    cf = settings_from_dict({"kv": {"backend": "cloudflare-rest", "account_id": "abc", "namespace_id": "def",
                                     "api_token": {"env": "CF_TOKEN"}}})
    kv = build_kv(cf)
    assert type(kv).__name__ == "RestKV"


def test_host_builds_and_closes(env: Path, sandbox) -> None:
    host = build_host(load_settings(write_config(env, sandbox.token_url, extra="\n[alerting]\nlog = true\n")))
    assert host.metrics is not None
    assert {type(a).__name__ for a in host.closers} == {"LoggingAlerter"}
    import asyncio

    asyncio.run(host.aclose())


def test_alerting_section(env: Path, sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    monkeypatch.setenv("FT_HOOK", "not-a-url-PLANTED")
    path = write_config(env, sandbox.token_url, extra='\n[alerting]\nslack_webhook = { env = "FT_HOOK" }\n')
    with pytest.raises(ConfigError) as info:
        build_host(load_settings(path))
    assert "alerting.slack_webhook: must be an http(s) URL" in str(info.value)
    assert "PLANTED" not in str(info.value)
    monkeypatch.setenv("FT_HOOK", "https://hooks.example/services/PLANTED")
    path = write_config(env, sandbox.token_url, extra='\n[alerting]\nlog = false\nslack_webhook = { env = "FT_HOOK" }\n'
                        'on = ["reauth_required"]\n')
    host = build_host(load_settings(path))
    try:
        [slack] = host.closers
        assert type(slack).__name__ == "SlackAlerter" and slack.on == {"reauth_required"}
        assert "PLANTED" not in repr(slack)
    finally:
        asyncio.run(host.aclose())
