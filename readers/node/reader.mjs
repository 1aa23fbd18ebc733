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
import { createClient } from "redis";
import { judge } from "../js/reader.mjs";

function timeoutError(ms) {
  const err = new Error(`redis: no reply within ${ms} ms`);
  err.name = "TimeoutError";
  return err;
}

export async function openReader(url, { prefix = "", minRemaining = 5, timeoutMs = 5000 } = {}) {
  const client = createClient({ url, socket: { connectTimeout: timeoutMs }, commandOptions: { timeout: timeoutMs } });
  client.on("error", () => {}); // a failing read rejects; no crash on a dropped connection
  await client.connect();
  return {
    client,
    async read(key) {
      const get = client.get(prefix + key);
      let timer;
      const deadline = new Promise((_, reject) => { timer = setTimeout(() => reject(timeoutError(timeoutMs)), timeoutMs); });
      get.catch(() => {}); // settled after the deadline: nobody waits for it any more
      try {
        return judge(await Promise.race([get, deadline]), { minRemaining });
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => client.quit(),
  };
}
