// A Node reader for Redis: GET prefix+key with the `redis` client, then the shared judge (../js/reader.mjs).
//
//   const tokens = await openReader("redis://127.0.0.1:6379", { prefix: "", minRemaining: 30 });
//   const r = await tokens.read("t1:google:alice");   // {reason, status, authorization?}
//   if (r.reason !== "ok") { res.writeHead(r.status); return res.end(); }
//
// Every read has a deadline (timeoutMs, default 5 s, as the Python readers' socket_timeout): a Redis that stops
// answering (SIGSTOP, a dead host behind a live socket) rejects the read with a TimeoutError instead of leaving
// the request waiting for good. node-redis's own command timeout ends when the command is written, not when the
// reply comes (tests/reader/test_stopped_redis.py). A late reply still pairs with its own GET (the client's queue
// is in order), never with the next key's.
//
// A timed-out GET stays in node-redis's queue until its reply comes or the socket closes. So that a long stall
// under heavy traffic cannot grow that queue without bound, at most maxWaiting reads (default 10,000) wait for a
// reply at a time, timed out or not: one more fails at once with a QueueFullError and sends nothing
// (tests/reader/test_stopped_redis.py). A gateway answers either error as the backend being down (503).
import { createClient } from "redis";
import { judge } from "../js/reader.mjs";

function timeoutError(ms) {
  const err = new Error(`redis: no reply within ${ms} ms`);
  err.name = "TimeoutError";
  return err;
}

function queueFullError(limit) {
  const err = new Error(`redis: ${limit} reads already wait for a reply`);
  err.name = "QueueFullError";
  return err;
}

export async function openReader(url, { prefix = "", minRemaining = 5, timeoutMs = 5000, maxWaiting = 10000 } = {}) {
  const client = createClient({ url, socket: { connectTimeout: timeoutMs }, commandOptions: { timeout: timeoutMs } });
  client.on("error", () => {}); // a failing read rejects; no crash on a dropped connection
  await client.connect();
  let waiting = 0; // GETs sent and not answered yet, timed out or not
  const answered = () => { waiting -= 1; };
  return {
    client,
    get waiting() { return waiting; },
    async read(key) {
      if (waiting >= maxWaiting) throw queueFullError(maxWaiting);
      const get = client.get(prefix + key); // (one that throws at once, a closed client, sent nothing: not counted)
      waiting += 1;
      get.then(answered, answered); // (also: settled after the deadline, nobody else waits for it any more)
      let timer;
      const deadline = new Promise((_, reject) => { timer = setTimeout(() => reject(timeoutError(timeoutMs)), timeoutMs); });
      try {
        return judge(await Promise.race([get, deadline]), { minRemaining });
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => client.quit(),
  };
}
