"""Slack alerts escape ``&``, ``<`` and ``>`` in every text they carry (Slack's documented escaping), so an
account key or a provider text holding ``<!channel>``, a user mention or a link is shown and never acted on.
Posted to a real loopback webhook; the payload is read as Slack would read it."""

from __future__ import annotations

import json

import pytest

from freshtoken.events import ReauthRequiredEvent, RefreshFailed, RefreshTokenExpiring, TokenExpired
from freshtoken.observability.alerts import SlackAlerter, format_message
from tests.admin.support import Webhook

NOW = 1_800_000_000.0
HOSTILE_KEY = "acme:generic:<!channel> & <https://evil.example/login|click here>"
HOSTILE_TEXT = "invalid_client: <!here> <@U024BE7LH> see <https://evil.example|the docs> & retry"
EVENTS = [
    RefreshFailed(HOSTILE_KEY, "generic", NOW, "misconfigured", HOSTILE_TEXT, 1, NOW + 60, True),
    ReauthRequiredEvent(HOSTILE_KEY, "<!subteam^S123>", NOW, HOSTILE_TEXT),
    TokenExpired(HOSTILE_KEY, "generic", NOW, NOW - 1, 3),
    RefreshTokenExpiring(HOSTILE_KEY, "generic", NOW, NOW + 86400),
]


def assert_inert(text: str) -> None:
    assert "<" not in text and ">" not in text, text  # no mention, no link, no special command
    assert "&lt;!channel&gt;" in text and "&amp;" in text
    assert "&amp;lt;" not in text  # escaped once


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_format_message_escapes_keys_and_provider_text(event: object) -> None:
    text = format_message(event)  # type: ignore[arg-type]
    assert_inert(text)
    if isinstance(event, RefreshFailed | ReauthRequiredEvent):
        assert "&lt;!here&gt;" in text and "&lt;https://evil.example|the docs&gt;" in text


async def test_posted_alerts_are_inert_and_scrubbed_before_escaping() -> None:
    secret = "s3cr<t&v>lue-0042"  # escaping first would hide it from the scrubbing
    with Webhook().running() as hook:
        slack = SlackAlerter(hook.url, secrets=[secret])
        try:
            for event in EVENTS:
                assert await slack.post(event)
            assert await slack.post(RefreshFailed(HOSTILE_KEY, "generic", NOW, "retryable",
                                                  f"echo {secret} <!channel>", 3, None, True))
        finally:
            await slack.aclose()
    assert len(hook.posts) == len(EVENTS) + 1
    for raw in hook.raw:
        text = json.loads(raw)["text"]
        assert_inert(text)
        for form in (secret, "s3cr&lt;t&amp;v&gt;lue-0042", "s3cr"):
            assert form not in text
