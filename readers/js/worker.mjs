// A Cloudflare Worker gateway: /{account key}/{path} -> UPSTREAM/{path} with the account's token attached,
// read from Workers KV (binding TOKENS, keys prefixed by KV_PREFIX). One KV read per request, never a refresh.
// No usable token: the reason's status (404 unknown, 403 reauth_required, 503 expired, 500 unsupported_version)
// and a JSON body {"reason": ...}; nothing is sent upstream.
//
// Who may call it: whoever reaches this Worker acts upstream as any account it names, so it refuses to serve
// until told who may. GATEWAY_KEY (a secret: `wrangler secret put GATEWAY_KEY`): callers send
// `Authorization: Bearer <GATEWAY_KEY>` (replaced by the account's token, so it never goes upstream); otherwise
// 401 {"reason": "unauthenticated"}. Or OPEN_GATEWAY = "true" when something in front already decides (Cloudflare
// Access, a service binding only). Neither: 500 {"reason": "gateway_not_configured"}.
//
// A path after the key that would climb out of UPSTREAM's base at an upstream that decodes before it routes
// ("..%2f", "..%5c", ".." encoded twice, "..;"): 400 {"reason": "bad_path"}, before the token is read.
import { judge } from "./reader.mjs";

const encoder = new TextEncoder();

// Equal without a timing side channel: both sides hashed to 32 bytes first, so neither the position of the first
// difference nor the length shows (https://developers.cloudflare.com/workers/examples/protect-against-timing-attacks/).
async function sameSecret(given, expected) {
  const [a, b] = await Promise.all([given, expected].map((s) => crypto.subtle.digest("SHA-256", encoder.encode(s))));
  return crypto.subtle.timingSafeEqual(a, b);
}

async function refusal(request, env) {
  if (env.GATEWAY_KEY) {
    const auth = request.headers.get("Authorization") ?? "";
    const given = auth.startsWith("Bearer ") ? auth.slice(7) : "";
    if (await sameSecret(given, env.GATEWAY_KEY)) return null;
    return Response.json({ reason: "unauthenticated" }, { status: 401, headers: { "WWW-Authenticate": "Bearer" } });
  }
  if (env.OPEN_GATEWAY === "true") return null;
  return Response.json({ reason: "gateway_not_configured", detail: "set GATEWAY_KEY or OPEN_GATEWAY" },
                       { status: 500 });
}

// A path climbs out of UPSTREAM's base when an upstream that decodes before it routes would find a ".." segment in
// it. The URL parser here already resolved plain and %2e dot segments; what it passes as one segment is a "..%2f",
// a "..%5c" (backslash), a ".." encoded twice or a "..;param" (a servlet container drops the parameter). So each
// segment is decoded until nothing changes, split at "/" and "\\", and a piece that is ".." before any ";" is
// refused. An encoded slash alone is a name ("group%2Fproject" at GitLab) and goes through as sent.
// At most 8 decodings: a segment still encoded after that is refused (no name is encoded eight times, and the bound
// keeps a hostile path's cost linear).
function climbs(segments) {
  for (const segment of segments) {
    let text = segment, rounds = 0;
    for (;;) {
      const decoded = text.replace(/%([0-9a-f]{2})/gi, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
      if (decoded === text) break;
      if (++rounds > 8) return true;
      text = decoded;
    }
    if (text.split(/[\/\\]/).some((piece) => piece.split(";", 1)[0] === "..")) return true;
  }
  return false;
}

export default {
  async fetch(request, env) {
    const refused = await refusal(request, env);
    if (refused) return refused;
    const url = new URL(request.url);
    const [, key, ...rest] = url.pathname.split("/");
    if (!key) return Response.json({ reason: "unknown", detail: "no account key in the path" }, { status: 404 });
    if (climbs(rest)) {
      return Response.json({ reason: "bad_path", detail: "the path climbs out of the upstream's base" }, { status: 400 });
    }
    let account;
    try {
      account = decodeURIComponent(key);
    } catch { // "%ZZ", a lone "%", an encoded byte that is not UTF-8: no account is named so
      return Response.json({ reason: "bad_path", detail: "the account key is not valid percent-encoding" },
                           { status: 400 });
    }
    const reading = judge(await env.TOKENS.get((env.KV_PREFIX ?? "") + account),
                          { minRemaining: Number(env.MIN_REMAINING ?? 5) });
    if (reading.reason !== "ok") {
      const headers = reading.status === 503 ? { "Retry-After": "30" } : {};
      return Response.json({ reason: reading.reason }, { status: reading.status, headers });
    }
    // the path after the key goes upstream as the caller sent it (percent-encoding kept); an upstream's redirect
    // comes back to the caller unfollowed (tests/reader/test_js_readers.py)
    const upstream = new Request(`${env.UPSTREAM}/${rest.join("/")}${url.search}`, request);
    upstream.headers.set("Authorization", reading.authorization);
    return fetch(upstream);
  },
};
