"""Building blocks shared by the benchmarks that run freshtoken's embedded runtime."""

from __future__ import annotations

import importlib
from typing import Any

from freshtoken import OAuthClient

from .endpoint import CLIENT_ID, CLIENT_SECRET

CLIENT_NAME = "bench"
TENANT = "bench"


def account_key(i: int) -> str:
    return f"{TENANT}:generic:acct-{i:07d}"


def account_index(key: str) -> int:
    return int(key.rsplit("-", 1)[1])


def oauth_client(token_url: str, **provider_options: object) -> OAuthClient:
    return OAuthClient(name=CLIENT_NAME, provider="generic", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                       provider_options={"token_url": token_url, **provider_options})


def codec() -> Any:
    from freshtoken.embedded import AesGcmCodec, generate_key
    from freshtoken.embedded.crypto import parse_keys

    return AesGcmCodec(parse_keys(generate_key("bench")))


def redis_kv_class() -> Any:
    """The Redis KV of freshtoken, wherever it lives (``freshtoken.kv.redis`` or ``freshtoken.kv_redis``)."""
    errors = []
    for mod in ("freshtoken.kv.redis", "freshtoken.kv_redis", "freshtoken.embedded.redis_kv"):
        try:
            m = importlib.import_module(mod)
        except ImportError as exc:
            errors.append(f"{mod}: {exc}")
            continue
        for name in ("RedisKV", "RedisKv", "RedisKVStore"):
            if hasattr(m, name):
                return getattr(m, name)
        errors.append(f"{mod}: no RedisKV class")
    raise ImportError("; ".join(errors))


def make_redis_kv(url: str) -> Any:
    cls = redis_kv_class()
    for build in (lambda: cls.from_url(url), lambda: cls(url=url), lambda: cls(url)):
        try:
            return build()
        except (TypeError, AttributeError):
            continue
    raise TypeError(f"cannot construct {cls!r} from a URL")
