"""The import path a Worker uses is light and Pyodide-safe.

``import freshtoken.cloudflare`` (and the example Worker's module) runs in a fresh interpreter in which
starting a thread, spawning a process, forking, resolving a name or opening a connection raises. It must
succeed, start nothing, and load no module a Python Worker cannot or should not carry.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "cloudflare-worker" / "src" / "entry.py"

#: Never on the Worker import path: unusable in Pyodide (sqlite, processes), heavy optional extras, or
#: parts of freshtoken for other runtimes.
FORBIDDEN = [
    "sqlite3", "_sqlite3", "multiprocessing", "cryptography", "joserfc", "uvicorn", "starlette",
    "prometheus_client", "redis", "temporalio", "freshtoken.sandbox.server", "freshtoken.embedded",
    "freshtoken.server", "freshtoken.cli", "freshtoken.temporal", "freshtoken.testing",
    "freshtoken.kv.workers_rest", "authlib.oauth2.rfc7523",
]
#: Third-party top-level packages allowed: the core's declared dependencies and what they import.
#: (click and pygments come from httpx's optional CLI module, imported only when installed.)
ALLOWED_THIRD_PARTY = {
    "freshtoken", "freshtoken_reader", "pydantic", "pydantic_core", "annotated_types", "typing_extensions", "typing_inspection",
    "pluggy", "httpx", "httpcore", "h11", "anyio", "sniffio", "idna", "certifi", "authlib", "click",
    "pygments", "pydantic_settings", "dotenv",
}

PRELUDE = textwrap.dedent(
    """
    import os, socket, subprocess, sys, threading, json

    def _refuse(what):
        def refuse(*a, **k):
            raise RuntimeError(f"import-time side effect: {what}")
        return refuse

    threading.Thread.start = _refuse("thread started")
    subprocess.Popen.__init__ = _refuse("process spawned")
    os.fork = _refuse("fork")
    os.system = _refuse("os.system")
    os.posix_spawn = _refuse("posix_spawn")
    socket.socket.connect = _refuse("socket connect")
    socket.socket.connect_ex = _refuse("socket connect")
    socket.getaddrinfo = _refuse("DNS lookup")
    socket.create_connection = _refuse("connection")
    baseline = set(sys.modules)
    """
)


def run_import(code: str) -> dict[str, object]:
    script = PRELUDE + textwrap.dedent(code) + textwrap.dedent(
        """
        import threading
        print(json.dumps({"modules": sorted(set(sys.modules) - baseline),
                          "threads": threading.active_count()}))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT,
                         check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def check(result: dict[str, object]) -> None:
    modules = set(result["modules"])  # type: ignore[arg-type]
    assert result["threads"] == 1
    loaded = sorted(m for m in FORBIDDEN if m in modules)
    assert not loaded, f"forbidden modules on the Worker import path: {loaded}"
    stdlib = set(sys.stdlib_module_names)
    third_party = {m.split(".")[0] for m in modules} - stdlib
    third_party = {m for m in third_party if not m.startswith("_")}
    assert third_party <= ALLOWED_THIRD_PARTY, f"unexpected packages: {sorted(third_party - ALLOWED_THIRD_PARTY)}"


def test_import_freshtoken_cloudflare_is_light_and_side_effect_free():
    check(run_import("import freshtoken.cloudflare\nfrom freshtoken.cloudflare import RefresherObject, GatewayReader\n"))


def test_the_example_worker_module_imports_the_same_way():
    code = f"""
    import importlib.util
    spec = importlib.util.spec_from_file_location("entry", {str(EXAMPLE)!r})
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.TokenRefresher and module.Default
    """
    check(run_import(code))


def test_the_guard_itself_catches_a_side_effect():
    with pytest.raises(AssertionError, match="import-time side effect: thread started"):
        run_import("import threading\nthreading.Thread(target=print).start()\n")
