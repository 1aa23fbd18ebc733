"""freshtoken: keep OAuth access tokens fresh before anyone needs them.

The import is light: the contracts, the refresher and the request-path reader. Runtimes live in
sub-packages (``freshtoken.embedded``, ``freshtoken.cloudflare``, ``freshtoken.temporal``).
"""

from .client import AuthMethod, OAuthClient
from .clock import Clock, ManualClock, SystemClock
from .errors import (
    ConfigError,
    FreshtokenError,
    InvalidAccountData,
    InvalidAccountKey,
    MalformedResponse,
    Misconfigured,
    NotRegistered,
    ReauthRequired,
    RefreshError,
    RetryableError,
    TokenUnavailable,
    UnexplainedClientError,
    UnknownProvider,
)
from .hookspecs import hookimpl
from .http import TokenHTTP, TokenRequest, TokenResponse
from .keys import AccountKey
from .kv import KVReader, KVWriter, MemoryKV
from .lead import DEFAULT_LEAD, refresh_at
from .plugins import Plugins, default_plugins
from .provider import Provider, ProviderRegistrar
from .reader import TokenReader
from .record import KVRecord
from .refresher import Outcome, Refresher
from .retry import RetryPolicy
from .state import AccountState, Status
from .storage import AccountStorage, MemoryStorage, SecretCodec
from .tokens import TokenSet

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_LEAD",
    "AccountKey",
    "AccountState",
    "AccountStorage",
    "AuthMethod",
    "Clock",
    "ConfigError",
    "FreshtokenError",
    "InvalidAccountData",
    "InvalidAccountKey",
    "KVReader",
    "KVRecord",
    "KVWriter",
    "MalformedResponse",
    "ManualClock",
    "MemoryKV",
    "MemoryStorage",
    "Misconfigured",
    "NotRegistered",
    "OAuthClient",
    "Outcome",
    "Plugins",
    "Provider",
    "ProviderRegistrar",
    "ReauthRequired",
    "RefreshError",
    "Refresher",
    "RetryPolicy",
    "RetryableError",
    "SQLiteKV",
    "SecretCodec",
    "Status",
    "SystemClock",
    "TokenHTTP",
    "TokenReader",
    "TokenRequest",
    "TokenResponse",
    "TokenSet",
    "TokenUnavailable",
    "UnexplainedClientError",
    "UnknownProvider",
    "__version__",
    "default_plugins",
    "hookimpl",
    "refresh_at",
]


def __getattr__(name: str) -> object:
    # SQLiteKV (what a gateway on the embedded runtime's machine reads: ``SQLiteKV(path, readonly=True)``) is
    # imported on first use, so that ``import freshtoken`` does not import sqlite3 (a Python Worker has none).
    if name == "SQLiteKV":
        from .kv.sqlite import SQLiteKV

        return SQLiteKV
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
