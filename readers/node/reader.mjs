// A Node reader for Redis: GET prefix+key with the `redis` client, then the shared judge (../js/reader.mjs).
//
//   const tokens = await openReader("redis://127.0.0.1:6379", { prefix: "", minRemaining: 30 });
//   const r = await tokens.read("t1:google:alice");   // {reason, status, authorization?}
//   if (r.reason !== "ok") { res.writeHead(r.status); return res.end(); }
import { createClient } from "redis";
import { judge } from "../js/reader.mjs";

export async function openReader(url, { prefix = "", minRemaining = 5 } = {}) {
  const client = createClient({ url });
  client.on("error", () => {}); // a failing read rejects; no crash on a dropped connection
  await client.connect();
  return {
    client,
    async read(key) {
      return judge(await client.get(prefix + key), { minRemaining });
    },
    close: () => client.quit(),
  };
}
