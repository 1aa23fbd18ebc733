// A thin JavaScript Worker + Durable Object, run by real workerd (through miniflare), that bridges its
// events to Python code running in CPython outside workerd.
//
// Protocol ("reverse RPC by polling"), all plain HTTP/1.1 + JSON over loopback:
//   1. An event (the DO's alarm() or fetch(), the worker's fetch()) POSTs {kind, ...} to
//      `${BRIDGE_URL}/event` and awaits the answer.
//   2. The answer is either {op, seq, session}: "perform this storage/KV/DO operation for me", or
//      {done, ...}: the Python handler finished (possibly asking us to throw, for the alarm retry path).
//   3. For an op, we start it HERE, in this event's own context (real ctx.storage, real KV), without
//      waiting for it: its result is POSTed to `${BRIDGE_URL}/result` whenever it settles, while we
//      long-poll `${BRIDGE_URL}/next` for the next op or done. Several operations can be pending at
//      once, as JS promises awaited from Pyodide are: when the Python side stops waiting for one (a
//      timeout), the event goes on with the next operation and the abandoned one keeps running in the
//      object's context — exactly what an un-aborted fetch() does in a Python Durable Object.
//   4. fetch() resolves with the status and headers (the Response stays here, by id); the body is read
//      by a separate operation ("response.text"), as `await response.text()` is in Pyodide. An init
//      member `signal: {__abortTimeoutMs: n}` becomes `AbortSignal.timeout(n)` (Pyodide's
//      `js.AbortSignal.timeout(n)`), which aborts the request and the body read in workerd.
//
// So every storage operation of the Python adapter runs inside the very alarm()/fetch() invocation that
// workerd delivered, with workerd's own input/output gates. While we wait for Python (an outbound
// fetch), the input gate is open and other events may be delivered to this object — exactly what
// happens in a real Python Durable Object whose handler awaits a subrequest.
//
// Paths under /__harness/ are answered by JavaScript alone, for the tests to observe the real state.

import { DurableObject } from "cloudflare:workers";

// JSON cannot tell undefined from null: tag every value.
function enc(v) {
  if (v === undefined) return { t: "u" };
  if (v === null) return { t: "n" };
  if (v instanceof Map) return { t: "j", v: Object.fromEntries(v) };
  if (v instanceof ArrayBuffer) return { t: "b", v: [...new Uint8Array(v)] };
  return { t: "j", v };
}

async function post(url, body) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`bridge ${url} answered HTTP ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

function clean(options) {
  // Python's plain-dict options arrive as JSON objects; drop absent members like JS would never see them.
  if (options === null || options === undefined) return undefined;
  const out = {};
  for (const [k, v] of Object.entries(options)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

function fetchInit(init) {
  const out = clean(init) || {};
  if (out.signal && typeof out.signal === "object" && "__abortTimeoutMs" in out.signal) {
    out.signal = AbortSignal.timeout(out.signal.__abortTimeoutMs);
  }
  return out;
}

function makeOps(env, storage) {
  const responses = new Map(); // fetch() responses of this event whose body was not read yet
  let nextResponse = 1;
  return async (op) => {
    // Fault injection (tests): this operation throws in JS instead of reaching storage.
    if (op.inject) throw new Error(op.inject);
    switch (op.target) {
      case "storage": {
        if (!storage) throw new Error("ctx.storage is not available in this context");
        switch (op.method) {
          case "get": return await storage.get(op.key);
          case "put": return await storage.put(op.key, op.value);
          case "delete": return await storage.delete(op.key);
          case "deleteAll": return await storage.deleteAll();
          case "list": return await storage.list(clean(op.options));
          case "getAlarm": return await storage.getAlarm();
          case "setAlarm": return await storage.setAlarm(op.at);
          case "deleteAlarm": return await storage.deleteAlarm();
        }
        break;
      }
      case "kv": {
        const ns = env[op.binding];
        if (!ns) throw new Error(`no KV binding ${op.binding}`);
        switch (op.method) {
          case "get": return await ns.get(op.key, clean(op.options));
          case "getWithMetadata": {
            const r = await ns.getWithMetadata(op.key, clean(op.options));
            return { value: r.value, metadata: r.metadata, cacheStatus: r.cacheStatus ?? null };
          }
          case "put": return await ns.put(op.key, op.value, clean(op.options));
          case "delete": return await ns.delete(op.key);
          case "list": return await ns.list(clean(op.options));
        }
        break;
      }
      case "fetch": {
        // An outbound request made by workerd itself (the Python side's `js.fetch`).
        const res = await fetch(op.url, fetchInit(op.init));
        const rid = nextResponse++;
        responses.set(rid, res);
        return { status: res.status, headers: [...res.headers], rid };
      }
      case "response": {
        const res = responses.get(op.rid);
        if (!res) throw new Error(`no pending response ${op.rid}`);
        responses.delete(op.rid);
        if (op.method === "text") return await res.text();
        break;
      }
      case "do": {
        const ns = env[op.binding];
        if (!ns) throw new Error(`no Durable Object binding ${op.binding}`);
        if (op.method === "fetch") {
          const stub = ns.get(ns.idFromName(op.name));
          const init = clean(op.init) || {};
          const res = await stub.fetch(op.url, init);
          return { status: res.status, headers: [...res.headers], body: await res.text() };
        }
        break;
      }
    }
    throw new Error(`unknown bridge op ${op.target}.${op.method}`);
  };
}

async function bridged(env, event, ops) {
  const base = env.BRIDGE_URL;
  let msg = await post(`${base}/event`, event);
  for (;;) {
    if (msg.done) return msg;
    const { session, seq, op } = msg;
    // started now, reported whenever it settles; we do not wait for it before taking the next op
    (async () => {
      let reply;
      try {
        reply = { ok: true, value: enc(await ops(op)) };
      } catch (e) {
        reply = { ok: false, name: (e && e.name) || "Error", error: String((e && e.message) || e) };
      }
      await post(`${base}/result`, { session, seq, ...reply });
    })().catch(() => {}); // the bridge is gone (a stopped test): nothing to report to
    msg = await post(`${base}/next`, { session });
  }
}

function stringVars(env) {
  const out = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === "string" && k !== "BRIDGE_URL") out[k] = v;
  return out;
}

async function requestEvent(request) {
  return {
    method: request.method,
    url: request.url,
    headers: [...request.headers],
    body: request.method === "GET" || request.method === "HEAD" ? "" : await request.text(),
  };
}

function toResponse(msg) {
  return new Response(msg.body ?? "", { status: msg.status ?? 200, headers: msg.headers ?? [] });
}

export class Refresher extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    // A new id every time workerd constructs the object: the Python side makes one Python instance per
    // JS instance, so a restart of the object is a restart on the Python side too.
    this.instance = crypto.randomUUID();
    this.log = [];
  }

  base() {
    return { instance: this.instance, id: this.ctx.id.toString(), cls: "Refresher", vars: stringVars(this.env) };
  }

  async alarm(alarmInfo) {
    const info = { retryCount: alarmInfo?.retryCount ?? 0, isRetry: alarmInfo?.isRetry ?? false };
    this.log.push({ at: Date.now(), ...info });
    const entry = this.log[this.log.length - 1];
    try {
      const msg = await bridged(this.env, { kind: "alarm", ...this.base(), alarmInfo: info },
        makeOps(this.env, this.ctx.storage));
      if (msg.throw) throw new Error(msg.throw);
    } finally {
      entry.end = Date.now();
    }
  }

  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/__harness/storage") {
      const entries = Object.fromEntries(await this.ctx.storage.list());
      return Response.json({ alarm: await this.ctx.storage.getAlarm(), entries, alarms: this.log,
        instance: this.instance });
    }
    const msg = await bridged(this.env, { kind: "fetch", ...this.base(), request: await requestEvent(request) },
      makeOps(this.env, this.ctx.storage));
    if (msg.throw) throw new Error(msg.throw);
    return toResponse(msg);
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/__harness/do/")) {
      // /__harness/do/<name>/<path>: JS-only observation of one object's real storage.
      const rest = url.pathname.slice("/__harness/do/".length);
      const slash = rest.indexOf("/");
      const name = decodeURIComponent(rest.slice(0, slash));
      const stub = env.REFRESHER.get(env.REFRESHER.idFromName(name));
      return stub.fetch(new Request(`https://do${rest.slice(slash)}${url.search}`, request));
    }
    if (url.pathname === "/__harness/kv") {
      // The real KV entry: value, metadata and expiration (from list(), which reports it).
      const ns = env[url.searchParams.get("binding") || "TOKENS"];
      const key = url.searchParams.get("key");
      const r = await ns.getWithMetadata(key);
      const listed = await ns.list({ prefix: key });
      const entry = listed.keys.find((k) => k.name === key);
      return Response.json({ value: r.value, metadata: r.metadata, expiration: entry?.expiration ?? null,
        now: Date.now() });
    }
    const msg = await bridged(env, { kind: "worker", instance: "worker", cls: "Default", vars: stringVars(env),
      request: await requestEvent(request) }, makeOps(env, null));
    if (msg.throw) throw new Error(msg.throw);
    return toResponse(msg);
  },
};
