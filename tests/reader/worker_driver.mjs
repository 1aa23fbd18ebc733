// Runs readers/js/worker.mjs in real workerd (miniflare, installed for tests/cloudflare/harness), fills its
// Workers KV with the records given on stdin (JSON {key: value}), prints one line when ready, and keeps
// running until stdin closes.
//   node worker_driver.mjs '{"upstream": "http://127.0.0.1:PORT", "minRemaining": 30, "prefix": "p:",
//                            "gatewayKey": "..." | "open": true}'
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";
import readline from "node:readline";
import { once } from "node:events";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "cloudflare", "harness", "package.json"));
const { Miniflare, Log, LogLevel } = require("miniflare");
const config = JSON.parse(process.argv[2]);

const lines = readline.createInterface({ input: process.stdin });
const [input] = await once(lines, "line");
const records = JSON.parse(input);
const mf = new Miniflare({
  modules: true,
  scriptPath: path.join(here, "..", "..", "readers", "js", "worker.mjs"),
  compatibilityDate: "2025-09-01",
  host: "127.0.0.1",
  port: 0,
  bindings: {
    UPSTREAM: config.upstream, MIN_REMAINING: String(config.minRemaining), KV_PREFIX: config.prefix,
    ...(config.gatewayKey ? { GATEWAY_KEY: config.gatewayKey } : {}),
    ...(config.open ? { OPEN_GATEWAY: "true" } : {}),
  },
  kvNamespaces: ["TOKENS"],
  kvPersist: false,
  cf: false,
  log: new Log(LogLevel.WARN),
});
const url = await mf.ready;
const kv = await mf.getKVNamespace("TOKENS");
for (const [key, value] of Object.entries(records)) await kv.put(config.prefix + key, value);
process.stdout.write("READY " + JSON.stringify({ url: url.toString() }) + "\n");
const close = async () => { await mf.dispose(); process.exit(0); };
lines.on("close", close); // stdin closed: the test is done
process.on("SIGTERM", close);
