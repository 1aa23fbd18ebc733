"""The version 1 reader as released (sdk/freshtoken/record.py at d297e0b, frozen here): what a gateway that
has not upgraded runs. tests/reader/test_records.py checks it refuses every version 2 record."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from freshtoken.errors import TokenUnavailable

RECORD_VERSION = 1


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
    access_token: str = Field(min_length=1, repr=False, description="The access token to attach to requests.")
    token_type: str = Field(default="Bearer", description="Authorization scheme, normally 'Bearer'.")
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
        try:
            raw = json.loads(text)
        except (ValueError, TypeError) as exc:
            raise TokenUnavailable(f"KV record is not JSON ({exc.__class__.__name__})") from None
        if not isinstance(raw, dict):
            raise TokenUnavailable("KV record is not a JSON object")
        if raw.get("v") != RECORD_VERSION:
            raise TokenUnavailable(f"KV record version {raw.get('v')!r} is not supported (expected 1)")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
            raise TokenUnavailable(f"KV record is invalid (fields: {fields})") from None

    def remaining(self, now: float) -> float | None:
        return None if self.expires_at is None else self.expires_at - now


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of :class:`KVRecord`."""
    schema = KVRecord.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
