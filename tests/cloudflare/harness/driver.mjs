// Starts real workerd through miniflare's Node API and keeps it running until stdin closes.
//
//   node driver.mjs '{"bridgeUrl": "http://127.0.0.1:PORT", "vars": {...}}'
//
// Prints one line on stdout when ready: FRESHTOKEN_WORKERD_READY {"ready": "http://127.0.0.1:PORT/", "workerd": "..."}.
// Storage (DO + KV) is in memory (every run starts empty) unless "persistDir" is given: then Durable Object
// storage (state and alarms) and KV persist under it, and a restart with the same directory finds them.
// Only 127.0.0.1 is used.
import { Miniflare, Log, LogLevel } from "miniflare";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { readFileSync } from "node:fs";

const here = path.dirname(fileURLToPath(import.meta.url));
const config = JSON.parse(process.argv[2] || "{}");
if (!config.bridgeUrl) {
  console.error("driver: bridgeUrl is required");
  process.exit(2);
}

const started = performance.now();
const mf = new Miniflare({
  modules: true,
  scriptPath: path.join(here, "worker.mjs"),
  compatibilityDate: "2025-09-01",
  host: "127.0.0.1",
  port: 0,
  bindings: { BRIDGE_URL: config.bridgeUrl, ...(config.vars || {}) },
  kvNamespaces: config.kvNamespaces || ["TOKENS"],
  durableObjects: { REFRESHER: { className: "Refresher", useSQLite: true } },
  durableObjectsPersist: config.persistDir ? path.join(config.persistDir, "do") : false,
  kvPersist: config.persistDir ? path.join(config.persistDir, "kv") : false,
  cf: false, // no Request.cf fetch from the internet: a built-in placeholder
  log: new Log(config.verbose ? LogLevel.DEBUG : LogLevel.WARN),
});

let url;
try {
  url = await mf.ready;
} catch (e) {
  console.error("driver: miniflare failed to start:", e);
  process.exit(1);
}
const pkg = JSON.parse(readFileSync(path.join(here, "node_modules", "miniflare", "package.json"), "utf8"));
const workerd = JSON.parse(readFileSync(path.join(here, "node_modules", "workerd", "package.json"), "utf8"));
process.stdout.write("FRESHTOKEN_WORKERD_READY " + JSON.stringify({
  ready: url.toString(),
  miniflare: pkg.version,
  workerd: workerd.version,
  startMs: Math.round(performance.now() - started),
}) + "\n");

let closing = false;
async function close(code) {
  if (closing) return;
  closing = true;
  try {
    await mf.dispose();
  } finally {
    process.exit(code);
  }
}
process.stdin.on("end", () => close(0));
process.stdin.on("close", () => close(0));
process.stdin.resume();
process.on("SIGTERM", () => close(0));
process.on("SIGINT", () => close(0));
