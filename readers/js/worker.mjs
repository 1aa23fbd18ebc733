// A Cloudflare Worker gateway: /{account key}/{path} -> UPSTREAM/{path} with the account's token attached,
// read from Workers KV (binding TOKENS, keys prefixed by KV_PREFIX). One KV read per request, never a refresh.
// No usable token: the reason's status (404 unknown, 403 reauth_required, 503 expired, 500 unsupported_version)
// and a JSON body {"reason": ...}; nothing is sent upstream.
import { judge } from "./reader.mjs";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, key, ...rest] = url.pathname.split("/");
    if (!key) return Response.json({ reason: "unknown", detail: "no account key in the path" }, { status: 404 });
    const account = decodeURIComponent(key);
    const reading = judge(await env.TOKENS.get((env.KV_PREFIX ?? "") + account),
                          { minRemaining: Number(env.MIN_REMAINING ?? 5) });
    if (reading.reason !== "ok") {
      const headers = reading.status === 503 ? { "Retry-After": "30" } : {};
      return Response.json({ reason: reading.reason }, { status: reading.status, headers });
    }
    const upstream = new Request(`${env.UPSTREAM}/${rest.join("/")}${url.search}`, request);
    upstream.headers.set("Authorization", reading.authorization);
    return fetch(upstream);
  },
};
