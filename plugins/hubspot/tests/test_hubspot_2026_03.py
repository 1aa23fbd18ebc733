"""HubSpot's dated OAuth API (issue 15): the 2026-03 token endpoint by default, and its documented error shapes.

Sources (each replayed body is copied from the page named beside it):
* v1 sunset on 2027-02-16, the 2026-03 token and revoke endpoints:
  https://developers.hubspot.com/changelog/v1-oauth-api-deprecation
  https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/migration-guide
* RFC 6749 errors with the legacy fields kept beside them:
  https://developers.hubspot.com/changelog/new-oauth-v3-api-endpoints-and-standardized-error-responses
* the token endpoint's documented API error (``category``/``message``/``correlationId``):
  https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/create-oauth-token
  (and the same shape on .../latest/authentication/oauth-tokens/revoke-token)
"""

from freshtoken_hubspot import HubSpotProvider

from freshtoken import Misconfigured, ReauthRequired, UnexplainedClientError
from freshtoken.testing import RT0, KitRun, Reply, TokenEndpoint, run_async

P = HubSpotProvider()

STANDARDIZED = {"error": "invalid_grant", "error_description": "refresh token is invalid, expired or revoked",
                "status": "BAD_REFRESH_TOKEN", "message": "refresh token is invalid, expired or revoked"}
VALIDATION = {"message": "Invalid input (details will vary based on the error)",
              "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf", "category": "VALIDATION_ERROR",
              "links": {"knowledge-base": "https://www.hubspot.com/products/service/knowledge-base"}}


def test_the_default_endpoint_is_the_dated_api() -> None:
    assert P.token_endpoint({}) == "https://api.hubapi.com/oauth/2026-03/token"
    assert P.revocation_endpoint({}) == "https://api.hubapi.com/oauth/2026-03/token/revoke"


def test_the_refresh_goes_to_the_dated_endpoint_in_the_body(freshtoken_endpoint: TokenEndpoint) -> None:
    async def scenario() -> None:
        async with KitRun(P, freshtoken_endpoint) as run:
            await run.register(RT0)
            freshtoken_endpoint.script(Reply(200, {"access_token": "a", "token_type": "bearer", "expires_in": 1800}))
            assert (await run.alarm()).kind == "refreshed"
            assert run.transport.targets == ["https://api.hubapi.com/oauth/2026-03/token"]
            request = freshtoken_endpoint.requests[-1]
            assert request.params["refresh_token"] == RT0 and "client_secret" in request.params
            assert "?" not in request.path  # nothing in the query string (the point of the new endpoint)

    freshtoken_endpoint.reset()
    run_async(scenario)


def test_a_dead_grant_in_the_standardized_shape_is_reauth() -> None:
    from freshtoken.testing import replay

    err = replay(P, 400, STANDARDIZED)
    assert isinstance(err, ReauthRequired) and err.error == "invalid_grant"


def test_the_documented_validation_error_is_misconfigured_not_a_retried_malformed_response() -> None:
    from freshtoken.testing import replay

    err = replay(P, 400, VALIDATION)
    assert isinstance(err, Misconfigured), err
    assert not isinstance(err, UnexplainedClientError)
    assert err.error == "invalid_request" and err.description == VALIDATION["message"]
