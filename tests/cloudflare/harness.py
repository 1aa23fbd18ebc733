"""The Python side of the workerd bridge (see ``harness/worker.mjs`` for the protocol).

Real workerd (miniflare's Node API, ``harness/driver.mjs``) runs a thin JavaScript Durable Object and
worker. Their events — the DO's ``alarm(alarmInfo)`` and ``fetch(request)``, the worker's ``fetch`` — are
POSTed to :class:`Bridge`, an HTTP server on 127.0.0.1 in the test's event loop. The bridge hands them to
the Python classes under test (the SDK's Durable Object, the gateway entrypoint), giving them ``ctx`` and
``env`` objects shaped like the Pyodide proxies a real Python Worker sees:

* ``ctx.storage.get(key)`` / ``put`` / ``delete`` / ``list`` / ``getAlarm`` / ``setAlarm(ms)`` /
  ``deleteAlarm`` return awaitables, started eagerly like JS promises;
* ``env.TOKENS.get(key)`` / ``put(key, value, options)`` / ``getWithMetadata`` / ``delete`` / ``list``;
* ``env.REFRESHER.idFromName(name)``, ``.get(id)``, ``stub.fetch(url, init)``;
* string vars and secrets as ``str`` attributes of ``env``;
* JS ``undefined`` arrives as ``None``, JS ``null`` as :data:`JS_NULL` (like ``pyodide.ffi.jsnull``),
  JS objects as :class:`JsObject` (attribute access and ``to_py()``);
* a global ``fetch(url, init)`` resolving at the response headers, ``await response.text()`` reading the body
  (a second operation), and :class:`AbortSignal` (``AbortSignal.timeout(ms)`` as ``js.AbortSignal``).

Each operation is sent back to the JS event that is waiting for Python, which performs it on the real
storage / KV in its own context and reports the result. Nothing of workerd is simulated here.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import json
import os
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from tests.fixtures_servers.slow_endpoint import read_request

HARNESS_DIR = Path(__file__).resolve().parent / "harness"


# -- JS-shaped values ---------------------------------------------------------------------------------
class JsNull:
    """JS ``null`` as Pyodide hands it over (``pyodide.ffi.jsnull``): falsy, not ``None``."""

    _instance: JsNull | None = None
    __js_null__ = True

    def __new__(cls) -> JsNull:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "jsnull"


JS_NULL = JsNull()


class JsException(Exception):
    """A JS error thrown by a bridged operation (``pyodide.ffi.JsException`` in a real Worker)."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message
        super().__init__(f"{name}: {message}")


class JsObject:
    """A JS object proxy: attribute and item access, ``to_py()``."""

    def __init__(self, data: dict[str, Any]) -> None:
        object.__setattr__(self, "_data", data)

    def __getattr__(self, name: str) -> Any:
        data = object.__getattribute__(self, "_data")
        if name in data:
            return from_json(data[name])
        return None  # undefined

    def __getitem__(self, name: str) -> Any:
        return from_json(self._data[name])

    def to_py(self, **_: Any) -> dict[str, Any]:
        return json.loads(json.dumps(self._data))

    def __repr__(self) -> str:
        return f"JsObject({self._data!r})"


def from_json(value: Any) -> Any:
    if value is None:
        return JS_NULL
    if isinstance(value, dict):
        return JsObject(value)
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def decode_value(tagged: dict[str, Any]) -> Any:
    t = tagged.get("t")
    if t == "u":
        return None
    if t == "n":
        return JS_NULL
    if t == "b":
        return bytes(tagged["v"])
    return from_json(tagged.get("v"))


def to_json(value: Any) -> Any:
    """A Python value on its way into JS. Refuses what a structured clone / JSON would not carry."""
    if value is None or isinstance(value, JsNull):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, JsObject):
        return value.to_py()
    if isinstance(value, TimeoutSignal):
        return {"__abortTimeoutMs": value.ms}
    raise TypeError(f"bridge: cannot pass a {type(value).__name__} to JavaScript")


@dataclass(frozen=True)
class TimeoutSignal:
    """What ``AbortSignal.timeout(ms)`` returns; in workerd it becomes the real ``AbortSignal.timeout(ms)``."""

    ms: int


class AbortSignal:
    """``js.AbortSignal``: only ``timeout(ms)``, the signal that aborts a fetch (and its body read) after
    ``ms`` milliseconds."""

    @staticmethod
    def timeout(ms: int) -> TimeoutSignal:
        if isinstance(ms, bool) or not isinstance(ms, int) or ms < 0:
            raise TypeError(f"harness: AbortSignal.timeout takes whole milliseconds, not {ms!r}")
        return TimeoutSignal(ms)


class Headers:
    """A JS ``Headers`` proxy: case-insensitive ``get`` (None when absent), iteration over pairs."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._pairs = [(k.lower(), v) for k, v in pairs]

    def get(self, name: str) -> str | None:
        name = name.lower()
        values = [v for k, v in self._pairs if k == name]
        return ", ".join(values) if values else None

    def has(self, name: str) -> bool:
        return self.get(name) is not None

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def __iter__(self) -> Any:
        return iter(self._pairs)


class Request:
    """The request a fetch handler receives: ``method``, ``url``, ``headers.get()``, ``await text()``."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.method: str = data["method"]
        self.url: str = data["url"]
        self.headers = Headers(tuple(p) for p in data.get("headers", []))
        self._body: str = data.get("body", "")

    async def text(self) -> str:
        return self._body

    async def json(self) -> Any:
        return json.loads(self._body)


class FetchResponse:
    """What ``await stub.fetch(...)`` / ``await fetch(...)`` resolves to: ``status``, ``headers``,
    ``await text()``. A response of the global fetch keeps its body in workerd (``rid``): ``text()`` reads it
    there, in the event this code runs in, as ``await response.text()`` does in Pyodide."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.status: int = data["status"]
        self.ok = 200 <= self.status < 300
        self.headers = Headers(tuple(p) for p in data.get("headers", []))
        self._body: str = data.get("body", "")
        self._rid: int | None = data.get("rid")

    async def text(self) -> str:
        if self._rid is not None:
            rid, self._rid = self._rid, None
            self._body = str(await _call({"target": "response", "method": "text", "rid": rid}))
        return self._body

    async def json(self) -> Any:
        return json.loads(self._body)


# -- sessions: one per bridged JS event ---------------------------------------------------------------
@dataclass
class Fault:
    """Make the next ``count`` operations ``target.method`` throw in JS (instead of reaching storage)."""

    target: str
    method: str
    count: int = 1
    message: str = "injected failure"
    hits: int = 0
    #: Only in events of this kind ("alarm", "fetch", "worker"); None: any.
    kind: str | None = None


@dataclass
class Session:
    id: str
    faults: list[Fault] = field(default_factory=list)
    kind: str = ""
    outbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    pending: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    ops: list[dict[str, Any]] = field(default_factory=list)
    #: How each operation settled in JS, in the order they settled: {"seq", "op", "ok", "name", "error", "at"}
    #: ("at": when its answer reached Python, ``time.time()``).
    results: list[dict[str, Any]] = field(default_factory=list)
    #: The asyncio task running the Python handler of this event.
    task: asyncio.Future[None] | None = None

    def call(self, op: dict[str, Any]) -> asyncio.Future[Any]:
        """Send ``op`` to the waiting JS event; the future resolves with its result (eagerly, like a Promise)."""
        for fault in self.faults:
            if (
                fault.count > 0
                and (fault.target, fault.method) == (op.get("target"), op.get("method"))
                and fault.kind in (None, self.kind)
            ):
                fault.count -= 1
                fault.hits += 1
                op = {**op, "inject": fault.message}
                break
        n = next(self.seq)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[n] = fut
        self.ops.append(op)
        self.outbox.put_nowait({"op": op, "seq": n, "session": self.id})
        return fut


#: The JS event the running Python code belongs to (a task-local, like workerd's per-request context).
CURRENT: contextvars.ContextVar[Session] = contextvars.ContextVar("freshtoken_bridge_session")


def _call(op: dict[str, Any]) -> asyncio.Future[Any]:
    try:
        session = CURRENT.get()
    except LookupError:
        raise RuntimeError("harness: a binding was used outside of any workerd event") from None
    return session.call(op)


class Storage:
    """``ctx.storage`` of one Durable Object; each operation runs in the JS event that awaits this code."""

    def _op(self, method: str, **kw: Any) -> asyncio.Future[Any]:
        return _call({"target": "storage", "method": method, **kw})

    def get(self, key: str) -> asyncio.Future[Any]:
        if not isinstance(key, str):
            raise TypeError("harness: storage.get with a list of keys is not bridged")
        return self._op("get", key=key)

    def put(self, key: str, value: Any) -> asyncio.Future[Any]:
        return self._op("put", key=key, value=to_json(value))

    def delete(self, key: str) -> asyncio.Future[Any]:
        return self._op("delete", key=key)

    def deleteAll(self) -> asyncio.Future[Any]:
        return self._op("deleteAll")

    def list(self, options: Any = None) -> asyncio.Future[Any]:
        return self._op("list", options=to_json(options))

    def getAlarm(self) -> asyncio.Future[Any]:
        return self._op("getAlarm")

    def setAlarm(self, scheduled: Any) -> asyncio.Future[Any]:
        if isinstance(scheduled, bool) or not isinstance(scheduled, int | float):
            raise TypeError(f"harness: setAlarm takes epoch milliseconds, not {type(scheduled).__name__}")
        return self._op("setAlarm", at=scheduled)

    def deleteAlarm(self) -> asyncio.Future[Any]:
        return self._op("deleteAlarm")


class KVNamespace:
    """A Workers KV binding."""

    def __init__(self, binding: str) -> None:
        self._binding = binding

    def _op(self, method: str, **kw: Any) -> asyncio.Future[Any]:
        return _call({"target": "kv", "binding": self._binding, "method": method, **kw})

    def get(self, key: str, options: Any = None) -> asyncio.Future[Any]:
        return self._op("get", key=key, options=to_json(options))

    def getWithMetadata(self, key: str, options: Any = None) -> asyncio.Future[Any]:
        return self._op("getWithMetadata", key=key, options=to_json(options))

    def put(self, key: str, value: Any, options: Any = None) -> asyncio.Future[Any]:
        if not isinstance(value, str):
            raise TypeError(f"harness: KV put value must be a string here, not {type(value).__name__}")
        return self._op("put", key=key, value=value, options=to_json(options))

    def delete(self, key: str) -> asyncio.Future[Any]:
        return self._op("delete", key=key)

    def list(self, options: Any = None) -> asyncio.Future[Any]:
        return self._op("list", options=to_json(options))


@dataclass(frozen=True)
class DurableObjectId:
    name: str

    def toString(self) -> str:
        return self.name


class DurableObjectStub:
    def __init__(self, binding: str, name: str) -> None:
        self._binding = binding
        self._name = name

    async def fetch(self, url: str, init: Any = None) -> FetchResponse:
        op = {"target": "do", "binding": self._binding, "method": "fetch", "name": self._name, "url": url,
              "init": to_json(init)}
        data = await _call(op)
        return FetchResponse(data.to_py() if isinstance(data, JsObject) else data)


class DurableObjectNamespace:
    def __init__(self, binding: str) -> None:
        self._binding = binding

    def idFromName(self, name: str) -> DurableObjectId:
        return DurableObjectId(name)

    def get(self, id: DurableObjectId) -> DurableObjectStub:
        return DurableObjectStub(self._binding, id.name)

    def getByName(self, name: str) -> DurableObjectStub:
        return self.get(self.idFromName(name))


async def fetch(url: str, init: Any = None) -> FetchResponse:
    """The global ``fetch`` (``js.fetch`` in Pyodide): the request is made by workerd, from the JS event
    this code runs in."""
    data = await _call({"target": "fetch", "method": "fetch", "url": url, "init": to_json(init)})
    return FetchResponse(data.to_py() if isinstance(data, JsObject) else data)


class Env:
    """``env``: string vars/secrets as ``str``; KV and DO bindings as proxies."""

    def __init__(self, vars: dict[str, str], bindings: dict[str, Any]) -> None:
        self.__dict__.update(vars)
        self.__dict__.update(bindings)


class Ctx:
    """A Durable Object's ``ctx``: ``storage`` and ``id``."""

    def __init__(self, id: str) -> None:
        self.id = DurableObjectId(id)
        self.storage = Storage()


# -- the bridge server --------------------------------------------------------------------------------
@dataclass
class EventRecord:
    kind: str
    at: float
    instance: str
    alarm_info: dict[str, Any] | None = None
    ops: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    duration: float = 0.0
    results: list[dict[str, Any]] = field(default_factory=list)


class Bridge:
    """The loopback HTTP server the JS side calls, and the dispatcher to the Python classes under test.

    ``do_class(ctx, env)`` is constructed once per JS Durable Object instance (a restart of the object in
    workerd is a fresh Python instance); ``worker_class(ctx, env)`` serves the worker's own fetch.
    ``kv_bindings`` / ``do_bindings`` name the env bindings. ``alarm_hook`` (tests) wraps each alarm.
    """

    def __init__(
        self,
        *,
        do_class: Callable[[Any, Any], Any] | None = None,
        worker_class: Callable[[Any, Any], Any] | None = None,
        kv_bindings: Iterable[str] = ("TOKENS",),
        do_bindings: Iterable[str] = ("REFRESHER",),
    ) -> None:
        self.do_class = do_class
        self.worker_class = worker_class
        self.kv_bindings = tuple(kv_bindings)
        self.do_bindings = tuple(do_bindings)
        self.instances: dict[str, Any] = {}
        self.contexts: dict[str, Ctx] = {}
        self.sessions: dict[str, Session] = {}
        self.events: list[EventRecord] = []
        self.alarm_hook: Callable[[Any, Any, Callable[[], Awaitable[Any]]], Awaitable[Any]] | None = None
        self._ids = itertools.count(1)
        self._server: asyncio.base_events.Server | None = None
        self.port = 0
        self.errors: list[str] = []
        self._tasks: set[asyncio.Future[None]] = set()
        self._finished: dict[str, Session] = {}
        self.faults: list[Fault] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    # -- HTTP/1.1 (just enough for workerd's fetch: keep-alive, Content-Length or chunked) -----------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    return
                try:
                    status, answer = 200, await self._route(
                        request.method, request.path, json.loads(request.body or b"{}")
                    )
                except Exception as exc:
                    self.errors.append(traceback.format_exc())
                    status, answer = 500, {"error": f"{exc.__class__.__name__}: {exc}"}
                raw = json.dumps(answer).encode()
                writer.write(
                    f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(raw)}\r\n\r\n".encode()
                    + raw
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _route(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if method != "POST":
            raise ValueError(f"unexpected {method} {path}")
        if path == "/event":
            session = Session(id=f"s{next(self._ids)}", faults=self.faults, kind=body.get("kind", ""))
            self.sessions[session.id] = session
            self._tasks.add(task := asyncio.ensure_future(self._run(session, body)))
            task.add_done_callback(self._tasks.discard)
            session.task = task
            return await self._next(session)
        if path == "/next":
            session = self.sessions.get(body["session"])
            if session is None:  # abandoned (its workerd was killed)
                return {"done": True, "throw": "harness: session abandoned"}
            return await self._next(session)
        if path == "/result":
            session = self.sessions.get(body["session"]) or self._finished.get(body["session"])
            if session is None:
                return {}
            seq = body["seq"]
            ok = bool(body.get("ok"))
            op = session.ops[seq - 1] if 0 < seq <= len(session.ops) else {}
            session.results.append({"seq": seq, "target": op.get("target"), "method": op.get("method"), "ok": ok,
                                    "name": body.get("name"), "error": body.get("error"), "at": time.time()})
            fut = session.pending.pop(seq, None)
            if fut is None or fut.done():  # the Python side stopped waiting (cancelled): the result is dropped
                return {}
            if ok:
                fut.set_result(decode_value(body["value"]))
            else:
                fut.set_exception(JsException(body.get("name", "Error"), body.get("error", "")))
            return {}
        raise ValueError(f"unexpected path {path}")

    async def _next(self, session: Session) -> dict[str, Any]:
        msg = await session.outbox.get()
        if msg.get("done"):
            self.sessions.pop(session.id, None)
            self._finished[session.id] = session  # late results of abandoned operations still get recorded
        return msg

    def abandon(self) -> int:
        """The workerd process is gone (killed): its events will never send another result. Cancel the Python
        side of every open event — the isolate died with the process — and release their long-polls.
        Returns how many events were open."""
        sessions = list(self.sessions.values())
        for session in sessions:
            if session.task is not None and not session.task.done():
                session.task.cancel()
            for fut in session.pending.values():
                if not fut.done():
                    fut.cancel()
            session.outbox.put_nowait({"done": True, "throw": "harness: workerd was killed"})
            self.sessions.pop(session.id, None)
        self.instances.clear()
        self.contexts.clear()
        return len(sessions)

    # -- dispatch ----------------------------------------------------------------------------------
    def _env(self, vars: dict[str, str]) -> Env:
        bindings: dict[str, Any] = {n: KVNamespace(n) for n in self.kv_bindings}
        bindings.update({n: DurableObjectNamespace(n) for n in self.do_bindings})
        return Env(vars, bindings)

    async def _run(self, session: Session, event: dict[str, Any]) -> None:
        kind = event["kind"]
        record = EventRecord(kind, time.time(), event.get("instance", ""), event.get("alarmInfo"), session.ops,
                             results=session.results)
        self.events.append(record)
        started = time.monotonic()
        CURRENT.set(session)  # this task's own context: every op of this event goes to this JS event
        try:
            result = await self._dispatch(session, event)
            msg: dict[str, Any] = {"done": True, **result}
        except Exception as exc:
            record.error = f"{exc.__class__.__name__}: {exc}"
            msg = {"done": True, "throw": record.error}
        record.duration = time.monotonic() - started
        for fut in session.pending.values():
            if not fut.done():
                fut.cancel()
        session.outbox.put_nowait(msg)

    async def _dispatch(self, session: Session, event: dict[str, Any]) -> dict[str, Any]:
        kind = event["kind"]
        if kind == "worker":
            env = self._env(event.get("vars", {}))
            if self.worker_class is None:
                return {"status": 404, "body": "no worker class", "headers": []}
            worker = self.worker_class(None, env)
            return await serialize_response(await worker.fetch(Request(event["request"])))
        instance = event["instance"]
        ctx = self.contexts.get(instance)
        if ctx is None:
            if self.do_class is None:
                raise RuntimeError("no Durable Object class configured")
            ctx = self.contexts[instance] = Ctx(event["id"])
            self.instances[instance] = self.do_class(ctx, self._env(event.get("vars", {})))
        obj = self.instances[instance]
        if kind == "alarm":
            info = JsObject(event.get("alarmInfo") or {})

            async def run() -> Any:
                return await obj.alarm(info)

            if self.alarm_hook is not None:
                await self.alarm_hook(obj, info, run)
            else:
                await run()
            return {}
        if kind == "fetch":
            return await serialize_response(await obj.fetch(Request(event["request"])))
        raise ValueError(f"unknown event kind {kind}")

    def alarms(self) -> list[EventRecord]:
        return [e for e in self.events if e.kind == "alarm"]


async def serialize_response(resp: Any) -> dict[str, Any]:
    """A Python-side Response (the SDK's fallback, or anything shaped like workers.Response) as JSON."""
    status = int(getattr(resp, "status", 200))
    headers = getattr(resp, "headers", None) or {}
    pairs = list(headers.items()) if hasattr(headers, "items") else [tuple(p) for p in headers]
    body = getattr(resp, "body", None)
    if body is None and hasattr(resp, "text"):
        body = await resp.text()
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return {"status": status, "headers": [[str(k), str(v)] for k, v in pairs], "body": body or ""}


# -- workerd (miniflare) ------------------------------------------------------------------------------
def node_available() -> str | None:
    node = shutil.which("node")
    if node is None or not (HARNESS_DIR / "node_modules" / "miniflare").is_dir():
        return None
    return node


class Workerd:
    """Real workerd through miniflare's Node API (``harness/driver.mjs``), bound to 127.0.0.1.

    ``persist_dir``: keep Durable Object storage (state and alarms) and KV in this directory, so that a
    stopped or killed workerd restarted with the same directory finds them again (miniflare's
    ``durableObjectsPersist`` / ``kvPersist``); None: in memory. The driver (node) and workerd run in their
    own process group, which :meth:`kill` and :meth:`stop` end as a whole.
    """

    def __init__(self, bridge: Bridge, *, vars: dict[str, str] | None = None, verbose: bool = False,
                 persist_dir: Path | None = None) -> None:
        self.bridge = bridge
        self.vars = vars or {}
        self.verbose = verbose
        self.persist_dir = persist_dir
        self.starts = 0
        self.url = ""
        self.info: dict[str, Any] = {}
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"freshtoken-workerd-{os.getpid()}-{id(self)}.log"
        self.client: httpx.AsyncClient | None = None

    async def start(self, timeout: float = 60.0) -> None:
        node = node_available()
        if node is None:
            raise RuntimeError("node or the harness's node_modules is missing: run `npm ci` in " + str(HARNESS_DIR))
        config: dict[str, Any] = {"bridgeUrl": self.bridge.url, "vars": self.vars, "verbose": self.verbose}
        if self.persist_dir is not None:
            config["persistDir"] = str(self.persist_dir)
        if getattr(self, "_stderr", None) is not None:
            self._stderr.close()
        self._stderr = self._stderr_path.open("ab")  # appended to across restarts
        self._proc = await asyncio.create_subprocess_exec(
            node, str(HARNESS_DIR / "driver.mjs"), json.dumps(config),
            cwd=HARNESS_DIR, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=self._stderr,
            start_new_session=True,  # node and workerd in a group of their own: killed together
        )
        self.starts += 1
        assert self._proc.stdout is not None
        marker = b"FRESHTOKEN_WORKERD_READY "
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = await asyncio.wait_for(self._proc.stdout.readline(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                await self.stop()
                raise RuntimeError(f"workerd did not start in {timeout}s: {self.stderr()}") from None
            if not line:
                await self.stop()
                raise RuntimeError(f"workerd failed to start: {self.stderr()}")
            if line.startswith(marker):
                break
        self.info = json.loads(line[len(marker):])
        self._drain = asyncio.ensure_future(self._discard(self._proc.stdout))
        self.url = self.info["ready"].rstrip("/")
        self.client = httpx.AsyncClient(base_url=self.url, trust_env=False, timeout=30)

    @staticmethod
    async def _discard(stream: asyncio.StreamReader) -> None:
        while await stream.readline():
            pass

    def stderr(self) -> str:
        try:
            return self._stderr_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def _kill_group(self, sig: int = signal.SIGKILL) -> None:
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, sig)  # the group id is the driver's pid (start_new_session)

    async def _close_client(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None
        drain = getattr(self, "_drain", None)
        if drain is not None:
            drain.cancel()
            self._drain = None

    async def kill(self) -> None:
        """SIGKILL node and workerd (the whole process group), as a machine losing power would; the Python
        side of every event that was running in it is cancelled (the isolate died with the process)."""
        await self._close_client()
        proc = self._proc
        if proc is not None:
            self._kill_group(signal.SIGKILL)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 30)
        self.bridge.abandon()
        self._proc = None
        if getattr(self, "_stderr", None) is not None:
            self._stderr.close()
            self._stderr = None

    async def stop(self, *, keep_log: bool = False) -> None:
        """Stop gracefully (miniflare's ``dispose()``, on stdin EOF); SIGKILL the group after 10 s. Whatever
        is left of the group afterwards (a workerd child) is killed too."""
        await self._close_client()
        proc = self._proc
        if proc is not None and proc.returncode is None:
            assert proc.stdin is not None
            with contextlib.suppress(Exception):
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                self._kill_group(signal.SIGKILL)
                await proc.wait()
        self._kill_group(signal.SIGKILL)
        if proc is not None:
            self.bridge.abandon()
        self._proc = None
        if getattr(self, "_stderr", None) is not None:
            self._stderr.close()
            self._stderr = None
        if not keep_log:
            with contextlib.suppress(OSError):
                self._stderr_path.unlink()

    # -- observation through JavaScript only (no Python in the path) ---------------------------------
    async def storage(self, name: str) -> dict[str, Any]:
        """The object's real storage: {"alarm": ms|None, "entries": {...}, "alarms": [alarmInfo...]}."""
        assert self.client is not None
        r = await self.client.get(f"/__harness/do/{quote(name, safe='')}/__harness/storage")
        r.raise_for_status()
        return dict(r.json())

    async def kv(self, key: str, binding: str = "TOKENS") -> dict[str, Any]:
        """The real KV entry: {"value", "metadata", "expiration" (epoch s), "now" (ms)}."""
        assert self.client is not None
        r = await self.client.get("/__harness/kv", params={"key": key, "binding": binding})
        r.raise_for_status()
        return dict(r.json())


async def wait_for(
    probe: Callable[[], Awaitable[Any]], *, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


__all__ = [
    "HARNESS_DIR",
    "JS_NULL",
    "AbortSignal",
    "Bridge",
    "Fault",
    "JsException",
    "JsNull",
    "JsObject",
    "Workerd",
    "fetch",
    "node_available",
    "wait_for",
]

if __name__ == "__main__":  # pragma: no cover - a manual smoke run
    print("harness dir:", HARNESS_DIR, "node:", node_available(), file=sys.stderr)
