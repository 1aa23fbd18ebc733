"""A gateway Worker and the per-account refresher Durable Object, in Python.

* ``TokenRefresher`` — one Durable Object per account (named by the account key): refreshes at the
  provider ahead of expiry on its alarm, persists a rotated refresh token first, writes the access token
  to the ``TOKENS`` KV namespace, and sets its next alarm.
* ``Default`` — the gateway Worker:
  - ``/admin/accounts/{key}[/refresh]`` — the admin API (bearer ``FRESHTOKEN_ADMIN_TOKEN``), forwarded
    to the account's Durable Object;
  - ``GET /status/{key}`` — what the request path sees for an account (never the token itself);
  - ``/proxy/{key}/{path}`` — calls ``UPSTREAM_BASE_URL/{path}`` with the account's access token; a path that
    would climb out of the base at an upstream that decodes before it routes (``..%2f``, ``..;``) is refused
    with 400 ``bad_path`` (``climbs_out``).
  The request path reads KV only: it never wakes a Durable Object and never refreshes. It serves only callers
  it was told of (``refuse_caller``): ``Authorization: Bearer <GATEWAY_KEY>`` (a secret), or anyone with
  ``OPEN_GATEWAY = "true"`` behind Cloudflare Access; neither, nobody. Keys are read under the refresher
  objects' ``FRESHTOKEN_KV_PREFIX``. No usable token: the reader's reason and its HTTP status (404 unknown,
  403 reauth_required, 503 expired, 500 unsupported_version).
"""

from urllib.parse import unquote, urlsplit

from freshtoken.cloudflare import (
    GatewayReader,
    RefresherObject,
    Response,
    WorkerEntrypoint,
    climbs_out,
    forward_admin,
    json_response,
    refuse_caller,
)


class TokenRefresher(RefresherObject):
    """The refresher Durable Object (bound as ``REFRESHER``; KV binding ``TOKENS``)."""

    kv_binding = "TOKENS"


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlsplit(request.url).path
        if path.startswith("/admin/"):
            return await forward_admin(request, self.env, binding="REFRESHER")
        refused = refuse_caller(request, self.env)
        if refused is not None:
            return refused
        if path.startswith("/status/"):
            return await self.status(unquote(path[len("/status/"):]))
        if path.startswith("/proxy/"):
            key, _, rest = path[len("/proxy/"):].partition("/")
            return await self.proxy(request, unquote(key), rest)
        return json_response({"error": "not_found"}, 404)

    async def status(self, key):
        reading = await GatewayReader.from_env(self.env, "TOKENS").read(key)
        if reading.token is None:
            return json_response({"key": key, "usable": False, "reason": reading.reason.value,
                                  "detail": reading.detail}, reading.status)
        record = reading.token
        return json_response({
            "key": key, "usable": True, "token_type": record.token_type, "expires_at": record.expires_at,
            "generation": record.generation, "refreshed_at": record.refreshed_at,
        })

    async def proxy(self, request, key, rest):
        if climbs_out(rest):  # "..%2f" and the like: refused before the token is read, nothing sent upstream
            return json_response({"error": "bad_path", "detail": "the path climbs out of the upstream's base"}, 400)
        reading = await GatewayReader.from_env(self.env, "TOKENS").read(key)
        if reading.token is None:
            return json_response({"error": "token_unavailable", "reason": reading.reason.value, "key": key},
                                 reading.status)
        authorization = reading.token.authorization
        import httpx  # Python Workers route httpx through fetch()

        url = self.env.UPSTREAM_BASE_URL.rstrip("/") + "/" + rest
        query = urlsplit(request.url).query
        if query:
            url += "?" + query
        async with httpx.AsyncClient() as client:
            upstream = await client.get(url, headers={"Authorization": authorization})
        return Response(upstream.text, status=upstream.status_code,
                        headers={"content-type": upstream.headers.get("content-type", "text/plain")})
