// freshtoken KV record reader for JavaScript (Workers, Node, browsers): no platform API, no dependency.
// A record is a token (v 1) or a reason (v 2, no token). See docs/reading-tokens.md.
//
//   const r = judge(await env.TOKENS.get(key), { minRemaining: 30 });
//   if (r.reason !== "ok") return new Response(null, { status: r.status });
//   headers.set("Authorization", r.authorization);

/** reason -> the HTTP status a gateway answers with ("ok": go on with the request). */
export const STATUS = Object.freeze({ ok: 200, unknown: 404, reauth_required: 403, expired: 503, unsupported_version: 500 });
// a v2 record's status -> the reason
const REASONS = Object.freeze({ reauth_required: "reauth_required", refresh_failing: "expired", misconfigured: "expired" });
const answer = (reason, detail) => ({ reason, status: STATUS[reason], detail });
// what an HTTP header carries as it is: printable ASCII (RFC 6749 A.12: access-token = 1*VSCHAR, %x20-7E)
const HEADER_SAFE = /^[\x20-\x7e]*$/;

/** The reading of one KV value (a string, or null when the key holds nothing). Never throws. */
export function judge(text, { now = Date.now() / 1000, minRemaining = 5 } = {}) {
  if (text === null || text === undefined) return answer("unknown", "no record under the key");
  let rec;
  try { rec = JSON.parse(text); } catch { return answer("unsupported_version", "not JSON"); }
  if (rec === null || typeof rec !== "object" || Array.isArray(rec)) return answer("unsupported_version", "not an object");
  if (rec.v === 1) {
    const exp = rec.expires_at, type = rec.token_type ?? "Bearer";
    if (typeof rec.access_token !== "string" || rec.access_token === "" || typeof type !== "string"
        || !HEADER_SAFE.test(rec.access_token) || !HEADER_SAFE.test(type)
        || !(exp === null || Number.isInteger(exp))) return answer("unsupported_version", "invalid v1 record");
    if (exp !== null && exp - now < minRemaining) return answer("expired", "too little time left");
    return { ...answer("ok"), authorization: `${type} ${rec.access_token}`, expiresAt: exp };
  }
  if (rec.v === 2) {
    if (!Object.hasOwn(REASONS, rec.status) || Object.hasOwn(rec, "access_token")) return answer("unsupported_version", "invalid v2 record");
    return answer(REASONS[rec.status], rec.status);
  }
  return answer("unsupported_version", `version ${JSON.stringify(rec.v)}`);
}
