"""Notion (issue 15): the documented refresh response has no ``expires_in``; each refresh burns the single-use
refresh token. So a token without ``expires_in`` is not refreshed on a schedule.

Source of the replayed body (every field name and the ``bearer`` token type):
https://developers.notion.com/reference/refresh-a-token (POST /v1/oauth/token; response: access_token,
token_type, refresh_token, bot_id, workspace_icon, workspace_name, workspace_id, owner, duplicated_template_id,
request_id; no expires_in).
"""

from freshtoken_notion import NotionProvider

from freshtoken import Status, TokenSet
from freshtoken.testing import RT0, KitRun, Reply, TokenEndpoint, replay, run_async

P = NotionProvider()
REFRESHED = {
    "access_token": "ntn_new_access", "token_type": "bearer", "refresh_token": "nrt_new_refresh",
    "bot_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a", "workspace_icon": None, "workspace_name": "Acme",
    "workspace_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
    "owner": {"type": "user", "user": {"type": "person", "person": {"email": "ava@example.com"}, "name": "Ava",
                                       "avatar_url": None, "id": "u-1", "object": "user"}},
    "duplicated_template_id": None, "request_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
}


def test_the_documented_refresh_response_does_not_expire() -> None:
    tokens = replay(P, 200, REFRESHED)
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at is None and tokens.refresh_token is not None


def test_no_scheduled_refresh_after_a_documented_refresh(freshtoken_endpoint: TokenEndpoint) -> None:
    async def scenario() -> None:
        async with KitRun(P, freshtoken_endpoint) as run:
            await run.register(RT0)
            freshtoken_endpoint.script(Reply(200, REFRESHED))
            assert (await run.alarm()).kind == "refreshed"
            state = await run.state()
            assert state.status is Status.STATIC and run.storage.alarm is None  # no rotation for nothing
            assert state.refresh_token is not None and state.refresh_token.get_secret_value() == "nrt_new_refresh"
            record = run.kv_record()
            assert record is not None and record.expires_at is None

    freshtoken_endpoint.reset()
    run_async(scenario)


def test_an_expires_in_notion_may_send_is_honoured() -> None:
    tokens = replay(P, 200, {**REFRESHED, "expires_in": 3600})
    assert isinstance(tokens, TokenSet) and tokens.expires_at is not None
