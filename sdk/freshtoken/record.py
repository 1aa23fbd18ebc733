"""The KV record: what the request path reads, in a versioned JSON format any gateway can parse.

Two kinds: a token (version 1, :class:`KVRecord`) and a reason (version 2, :func:`reason_record`): the account
cannot be served, and why (``reauth_required``, ``refresh_failing``, ``misconfigured``), without a token. A
version-1-only reader refuses a version 2 record (an unknown version), so it never takes a reason for a token.
The JSON Schemas are published at ``freshtoken/schemas/kv-record.v1.json`` (:func:`json_schema`) and
``kv-record.v2.json`` (:func:`json_schema_v2`: everything a writer of this version writes). Reading is the
light reader's (:mod:`freshtoken_reader.record`): one parser. A record never holds a refresh token, an
id_token or a client secret.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from freshtoken_reader.record import REASON_STATUSES, InvalidRecord, ReasonRecord, header_safe, parse

from .errors import TokenUnavailable

RECORD_VERSION = 1
#: The version of a reason record (no token).
REASON_VERSION = 2
#: A token record stays in KV this long after its token expired, so that a reader past expiry finds it and
#: answers ``expired`` (refreshing is failing) instead of ``unknown`` (never registered). Seconds.
EXPIRED_LINGER = 86_400.0


#: Said again in the published schema, without an anchor: Python's ``re.search`` (so Python ``jsonschema``) lets
#: ``$`` match before a final line feed, so ``^[\x20-\x7e]+$`` alone passes ``"at\n"`` there (the model itself
#: validates with pydantic's regex engine, where ``$`` is the end of the text, as in JSON Schema's ECMA 262).
_NO_LF: dict[str, Any] = {"not": {"pattern": "\n"}}


class KVRecord(BaseModel):
    """Version 1 of the KV record. Times are integer epoch seconds (UTC)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        title="freshtoken KV record v1",
        json_schema_extra={
            "$id": "https://freshtoken.dev/schemas/kv-record.v1.json",
            "description": "The value freshtoken writes to KV under '{tenant}:{provider}:{account_id}'. "
            "A gateway reads it and sends 'token_type access_token' while now < expires_at.",
        },
    )

    v: Literal[1] = Field(default=1, description="Format version; readers must refuse versions they do not know.")
    access_token: str = Field(min_length=1, pattern=r"^[\x20-\x7e]+$", repr=False, json_schema_extra=_NO_LF,
                              description="The access token to attach to requests: printable ASCII (RFC 6749 A.12).")
    token_type: str = Field(default="Bearer", pattern=r"^[\x20-\x7e]*$", json_schema_extra=_NO_LF,
                            description="Authorization scheme, normally 'Bearer': printable ASCII.")
    expires_at: int | None = Field(
        description="When the access token expires, epoch seconds; null when it never expires."
    )
    scope: str | None = Field(default=None, description="Granted scope, space-separated, when known.")
    generation: int = Field(ge=0, description="Increases by one with every refresh of this account.")
    refreshed_at: int = Field(description="When this token was obtained, epoch seconds.")
    extras: dict[str, Any] = Field(
        default_factory=dict, description="Non-secret provider fields, e.g. Salesforce 'instance_url'."
    )

    def dumps(self) -> str:
        return self.model_dump_json()

    @classmethod
    def loads(cls, text: str | bytes) -> KVRecord:
        """The token record in ``text``; :class:`TokenUnavailable` (with ``.reason``) for a reason record or
        anything that is not a valid record (parsed by :func:`freshtoken_reader.record.parse`)."""
        try:
            parsed = parse(text)
        except InvalidRecord as exc:
            raise TokenUnavailable(str(exc), reason=exc.reason.value) from None
        if isinstance(parsed, ReasonRecord):
            raise TokenUnavailable(f"KV record version 2: no token ({parsed.status})", reason=parsed.reason.value)
        try:
            return cls.model_validate(parsed._asdict())
        except ValidationError as exc:  # not reached: the parser checks the same; kept as a guard
            fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
            raise TokenUnavailable(f"KV record is invalid (fields: {fields})", reason="unsupported_version") from None

    def remaining(self, now: float) -> float | None:
        return None if self.expires_at is None else self.expires_at - now


def token_record(*, access_token: str, token_type: str, expires_at: int | None, scope: str | None, generation: int,
                 refreshed_at: int, extras: dict[str, Any]) -> str:
    """``KVRecord(...).dumps()`` of these fields, byte for byte, without building the model when every value is
    plain (ASCII strings, ints, no extras: what a refresh writes); anything else goes through :class:`KVRecord`,
    which validates it and raises as it does."""
    if (
        not extras
        and type(access_token) is str and access_token and header_safe(access_token)
        and type(token_type) is str and header_safe(token_type)
        and (scope is None or (type(scope) is str and scope.isascii()))
        and (expires_at is None or type(expires_at) is int)
        and type(generation) is int and generation >= 0
        and type(refreshed_at) is int
    ):
        # pydantic writes compact JSON, fields in declaration order; for ASCII its string escapes are json's
        return (f'{{"v":1,"access_token":{encode_basestring(access_token)},"token_type":'
                f'{encode_basestring(token_type)},"expires_at":{"null" if expires_at is None else expires_at},'
                f'"scope":{"null" if scope is None else encode_basestring(scope)},"generation":{generation},'
                f'"refreshed_at":{refreshed_at},"extras":{{}}}}')
    return KVRecord(access_token=access_token, token_type=token_type, expires_at=expires_at, scope=scope,
                    generation=generation, refreshed_at=refreshed_at, extras=extras).dumps()


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of :class:`KVRecord`."""
    schema = KVRecord.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def reason_record(status: str, *, generation: int, since: float) -> str:
    """A version 2 record: the account cannot be served (``status``, a key of
    :data:`freshtoken_reader.record.REASON_STATUSES`), since ``since``. ``generation`` is the account's (the
    Redis KV's monotonic guard lets the next token, one generation up, replace it)."""
    if status not in REASON_STATUSES:
        raise ValueError(f"reason_record: unknown status {status!r} (one of {', '.join(REASON_STATUSES)})")
    if generation < 0:
        raise ValueError("reason_record: generation must be 0 or more")
    return json.dumps({"v": REASON_VERSION, "status": status, "generation": int(generation), "since": int(since)},
                      separators=(",", ":"))


def json_schema_v2() -> dict[str, Any]:
    """The published JSON Schema of version 2: a token record (version 1, unchanged) or a reason record."""
    token = json_schema()
    for key in ("$id", "$schema"):
        token.pop(key, None)
    return {
        "$id": "https://freshtoken.dev/schemas/kv-record.v2.json",
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "freshtoken KV record v2",
        "description": "What freshtoken writes to KV under a key: a token (v 1) while the account can be served, a "
        "reason (v 2, no token) while it cannot. A reader refuses a version it does not know.",
        "oneOf": [
            token,
            {
                "title": "freshtoken KV reason record",
                "type": "object",
                "additionalProperties": False,
                "required": ["v", "status", "generation", "since"],
                "properties": {
                    "v": {"const": REASON_VERSION, "type": "integer"},
                    "status": {
                        "enum": sorted(REASON_STATUSES),
                        "description": "reauth_required: the provider refused the grant, a user must authorise "
                        "again (reader reason reauth_required). refresh_failing / misconfigured: the token "
                        "expired while refreshing fails (reader reason expired).",
                    },
                    "generation": {"type": "integer", "minimum": 0,
                                   "description": "The account's generation (that of its last token)."},
                    "since": {"type": "integer", "description": "When this was written, epoch seconds."},
                },
            },
        ],
    }
