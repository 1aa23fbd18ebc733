"""The embedded runtime (the default): an asyncio host with SQLite state, alarms and KV, secrets encrypted.

    codec = AesGcmCodec.from_env()                      # FRESHTOKEN_ENCRYPTION_KEYS; ConfigError if missing
    store = SQLiteStore("state.db", codec)
    kv = SQLiteKV("kv.db")                              # a gateway on this machine reads it: kv.get_sync(key)
    runtime = EmbeddedRuntime(store=store, kv=kv, clients={"acme": client})
    await runtime.register("t1:acme:u1", client="acme", refresh_token="...")
    await run_until_signal(runtime)                     # SIGTERM / SIGINT: finish in-flight refreshes, exit
"""

from ..kv.sqlite import SQLiteKV
from .crypto import ENV_VAR, AesGcmCodec, DecryptionError, WrongKeys, generate_key, parse_keys
from .recovery import RecoveryError, RecoveryFile
from .runtime import AccountBusy, EmbeddedRuntime, make_owner, run_until_signal, serve_forever
from .sqlite_store import SQLiteAccountStorage, SQLiteStore

__all__ = [
    "ENV_VAR",
    "AccountBusy",
    "AesGcmCodec",
    "DecryptionError",
    "EmbeddedRuntime",
    "RecoveryError",
    "RecoveryFile",
    "SQLiteAccountStorage",
    "SQLiteKV",
    "SQLiteStore",
    "WrongKeys",
    "generate_key",
    "make_owner",
    "parse_keys",
    "run_until_signal",
    "serve_forever",
]
