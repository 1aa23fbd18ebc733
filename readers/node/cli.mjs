// node cli.mjs read URL PREFIX MIN_REMAINING KEY...   -> one JSON line: {key: {reason, status, authorization?}}
// node cli.mjs bench URL PREFIX KEYS READS            -> one JSON line: raw GET vs reader, µs per read
import { openReader } from "./reader.mjs";

const [cmd, url, prefix, arg, ...rest] = process.argv.slice(2);
const reader = await openReader(url, { prefix, minRemaining: cmd === "bench" ? 5 : Number(arg) || 0 });
if (cmd === "read") {
  const out = {};
  for (const key of rest) out[key] = await reader.read(key);
  console.log(JSON.stringify(out));
} else if (cmd === "bench") {
  const nKeys = Number(arg), reads = Number(rest[0]), rounds = 5;
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const keys = Array.from({ length: reads }, () => `bench:acct-${Math.floor(rand() * nKeys)}`);
  const c = reader.client, ns = { raw: [], reader: [] };
  const variants = {
    raw: async (k) => c.get(prefix + k),
    reader: async (k) => { const r = await reader.read(k); if (r.reason !== "ok") throw new Error(r.reason); },
  };
  for (const k of keys.slice(0, 2000)) { await variants.raw(k); await variants.reader(k); }
  const chunk = Math.floor(reads / rounds);
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(variants)) {
      for (const k of keys.slice(r * chunk, (r + 1) * chunk)) {
        const t0 = process.hrtime.bigint();
        await fn(k);
        ns[name].push(Number(process.hrtime.bigint() - t0));
      }
    }
  }
  const stats = (a) => { a.sort((x, y) => x - y); return { p50: a[a.length >> 1] / 1000, mean: a.reduce((s, x) => s + x, 0) / a.length / 1000, n: a.length }; };
  console.log(JSON.stringify({ node: process.version, raw: stats(ns.raw), reader: stats(ns.reader) }));
}
await reader.close();
