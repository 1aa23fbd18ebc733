"""The sandbox's machine grants: client credentials (RFC 6749 §4.4), the JWT bearer grant (RFC 7523 §2.1) with
every claim of the assertion verified, and a GitHub-App-shaped installation token endpoint.

* ``client_credentials``: the client authenticates (Basic or body, as for a refresh); the token carries the
  requested scope; no refresh token.
* ``urn:ietf:params:oauth:grant-type:jwt-bearer``: the assertion's signature (the issuer's trusted key),
  ``iss`` (a trusted issuer), ``sub`` (present; restricted when the issuer lists subjects), ``aud`` (this token
  endpoint), ``exp`` (not passed, at most an hour after ``iat``), ``iat`` (not in the future), ``jti``
  (present, never seen before: a replayed assertion is refused with ``invalid_grant``).
* ``POST /app/installations/{id}/access_tokens`` with ``Authorization: Bearer <app JWT>`` (RS256, ``iss`` the
  app, ``iat``/``exp`` at most 10 minutes apart, ``exp`` not passed): HTTP 201 with ``token`` and an ISO-8601
  ``expires_at`` one hour ahead, as GitHub documents; 401 for a bad JWT, 404 for an unknown installation.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import SandboxAuthServer

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLIENT_CREDENTIALS = "client_credentials"
MACHINE_GRANTS = frozenset({JWT_BEARER, CLIENT_CREDENTIALS})
#: Longest ``exp - iat`` of an assertion (Google's limit) and of a GitHub App JWT (GitHub's, plus its 60 s drift).
MAX_ASSERTION_LIFETIME = 3600
MAX_APP_JWT_LIFETIME = 660
INSTALLATION_TOKEN_LIFETIME = 3600


@dataclass
class MachineStats:
    client_credentials: int = 0
    jwt_bearer: int = 0
    installation_tokens: int = 0
    refused: int = 0
    replays_refused: int = 0


@dataclass
class _Issuer:
    key: Any
    subjects: frozenset[str] | None = None


@dataclass
class _App:
    key: Any
    installations: set[str] = field(default_factory=set)


def _public_key(pem: str) -> Any:
    from joserfc import jwk

    for kind in ("RSA", "EC", "OKP"):
        try:
            return jwk.import_key(pem, kind)
        except Exception:
            continue
    raise ValueError("not a PEM key")


class MachineGrants:
    """The machine grants of one :class:`~freshtoken.sandbox.server.SandboxAuthServer` (its clients, clock,
    lifetime and fault queue)."""

    def __init__(self, server: SandboxAuthServer) -> None:
        self.server = server
        self.issuers: dict[str, _Issuer] = {}
        self.apps: dict[str, _App] = {}
        self.seen_jti: set[str] = set()
        self.stats = MachineStats()
        #: The claims of the last assertion accepted, and the headers of the last installation token request.
        self.last_claims: dict[str, Any] = {}
        self.last_github: dict[str, Any] = {}
        self._lock = threading.Lock()

    # -- set-up --------------------------------------------------------------------------------------------
    def trust_issuer(self, issuer: str, public_key_pem: str, *, subjects: list[str] | None = None) -> None:
        """Accept assertions signed by ``public_key_pem`` with ``iss`` = ``issuer`` (for ``subjects`` only)."""
        self.issuers[issuer] = _Issuer(_public_key(public_key_pem), frozenset(subjects) if subjects else None)

    def install_app(self, app_id: str, public_key_pem: str, *installation_ids: str) -> None:
        """A GitHub App (``iss`` = ``app_id``) with its public key, installed as ``installation_ids``."""
        app = self.apps.setdefault(app_id, _App(_public_key(public_key_pem)))
        app.key = _public_key(public_key_pem)
        app.installations.update(installation_ids)

    # -- the token endpoint ---------------------------------------------------------------------------------
    def token(self, headers: dict[str, str], params: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        grant = params.get("grant_type")
        if grant == CLIENT_CREDENTIALS:
            client_id = self.server._authenticate(headers, params)
            if client_id is None:
                return self._refuse(401, "invalid_client", "client authentication failed")
            self.stats.client_credentials += 1
            return 200, self._body(params.get("scope")), {"cache-control": "no-store"}
        return self._jwt_bearer(headers, params)

    def _jwt_bearer(self, headers: dict[str, str], params: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        from joserfc import jws, jwt

        assertion = params.get("assertion", "")
        try:
            header = jws.extract_compact(assertion.encode()).protected
        except Exception:
            return self._refuse(400, "invalid_grant", "the assertion is not a JWS")
        unverified = _claims_unverified(assertion)
        trusted = self.issuers.get(str(unverified.get("iss")))
        if trusted is None:
            return self._refuse(400, "invalid_grant", "unknown issuer")
        try:
            token = jwt.decode(assertion, trusted.key, algorithms=[str(header.get("alg"))])
        except Exception:
            return self._refuse(400, "invalid_grant", "Invalid JWT Signature.")
        claims = token.claims
        now = self.server.clock.time()
        audience = f"http://{headers.get('host', '127.0.0.1')}/token"
        problem = _check_times(claims, now, MAX_ASSERTION_LIFETIME)
        if problem is None and claims.get("aud") != audience:
            problem = "aud is not this token endpoint"
        if problem is None and not isinstance(claims.get("sub"), str):
            problem = "sub is missing"
        if problem is None and trusted.subjects is not None and claims["sub"] not in trusted.subjects:
            problem = "this issuer may not act for that subject"
        jti = claims.get("jti")
        if problem is None and (not isinstance(jti, str) or not jti):
            problem = "jti is missing"
        if problem is not None:
            return self._refuse(400, "invalid_grant", problem)
        with self._lock:
            if jti in self.seen_jti:
                self.stats.replays_refused += 1
                return self._refuse(400, "invalid_grant", "the assertion was replayed (jti already used)")
            self.seen_jti.add(str(jti))
            self.stats.jwt_bearer += 1
            self.last_claims = dict(claims)
        scope = params.get("scope") or claims.get("scope")
        return 200, self._body(scope if isinstance(scope, str) else None), {"cache-control": "no-store"}

    # -- GitHub ---------------------------------------------------------------------------------------------
    def installation_token(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """``POST /app/installations/{installation_id}/access_tokens``."""
        from joserfc import jwt

        parts = path.strip("/").split("/")
        if method != "POST" or len(parts) != 4 or parts[3] != "access_tokens":
            return 404, _github_error("Not Found"), {}
        installation = parts[2]
        self.last_github = {"headers": dict(headers), "installation_id": installation}
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            self.stats.refused += 1
            return 401, _github_error("A JSON web token could not be decoded"), {}
        app_jwt = auth[7:].strip()
        app = self.apps.get(str(_claims_unverified(app_jwt).get("iss")))
        try:
            if app is None:
                raise ValueError("unknown app")
            claims = jwt.decode(app_jwt, app.key, algorithms=["RS256"]).claims
        except Exception:
            self.stats.refused += 1
            return 401, _github_error("A JSON web token could not be decoded"), {}
        problem = _check_times(claims, self.server.clock.time(), MAX_APP_JWT_LIFETIME)
        if problem is not None:
            self.stats.refused += 1
            return 401, _github_error(f"'Expiration time' claim ('exp') is invalid: {problem}"), {}
        if installation not in app.installations:
            self.stats.refused += 1
            return 404, _github_error("Not Found"), {}
        self.stats.installation_tokens += 1
        expires = datetime.fromtimestamp(self.server.clock.time() + INSTALLATION_TOKEN_LIFETIME, UTC)
        body = {
            "token": "ghs_" + secrets.token_urlsafe(27),
            "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "permissions": {"contents": "read", "metadata": "read"},
            "repository_selection": "all",
        }
        return 201, body, {}

    # -- helpers --------------------------------------------------------------------------------------------
    def _body(self, scope: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": "at-" + secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": self.server.lifetime,
        }
        if scope:
            body["scope"] = scope
        return body

    def _refuse(self, status: int, error: str, description: str) -> tuple[int, Any, dict[str, str]]:
        self.stats.refused += 1
        return status, {"error": error, "error_description": description}, {}


def _claims_unverified(token: str) -> dict[str, Any]:
    """The claims of a compact JWS, unverified (to find the issuer's key)."""
    import base64
    import json

    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except Exception:
        return {}
    return data if isinstance(data, dict) else {}


def _check_times(claims: dict[str, Any], now: float, longest: int) -> str | None:
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int):
        return "iat and exp must be integers"
    if iat > now + 5:
        return "iat is in the future"
    if exp <= now:
        return "exp has passed"
    if exp - iat > longest:
        return f"exp is more than {longest} s after iat"
    return None


def _github_error(message: str) -> dict[str, str]:
    return {"message": message, "documentation_url": "https://docs.github.com/rest"}
