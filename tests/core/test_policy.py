import random

import pytest

from freshtoken import RetryPolicy, refresh_at
from freshtoken.provider import parse_retry_after


def test_lead_for_hour_long_tokens_is_ten_minutes():
    assert refresh_at(0, 3600) == 3000


def test_short_tokens_refresh_half_way_and_keep_the_kv_margin():
    assert refresh_at(0, 1000) == 500  # < 2 x lead: half-way
    assert refresh_at(0, 300) == 150  # half-way, well before the KV margin
    assert refresh_at(0, 150) == 75  # half-way: the KV margin would leave less than half its life
    assert refresh_at(0, 100) == 50  # a 100 s token never loops at its issue time
    assert refresh_at(0, 30) == 15
    assert refresh_at(0, 3600, 600, margin=60) == 3000


def test_a_provider_hint_is_taken_only_when_earlier_and_after_issue():
    assert refresh_at(0, 3600, hint=1800) == 1800  # Microsoft refresh_in
    assert refresh_at(0, 3600, hint=3500) == 3000
    assert refresh_at(100, 3600, hint=50) == 3000


def test_short_lifetimes_never_refresh_at_issue():
    for lifetime in range(2, 400):
        assert refresh_at(1000, 1000 + lifetime) >= 1000 + lifetime / 2 - 1e-9 or lifetime >= 240
        assert refresh_at(1000, 1000 + lifetime) > 1000


def test_backoff_grows_is_capped_and_jittered():
    policy = RetryPolicy(base=5, cap=300, min_delay=1)
    rng = random.Random(1)
    ceilings = [policy.ceiling(n) for n in range(1, 12)]
    assert ceilings[:4] == [5, 10, 20, 40] and max(ceilings) == 300
    delays = [policy.delay(8, rng=rng) for _ in range(2000)]
    assert min(delays) >= 1 and max(delays) <= 300
    assert len({round(d) for d in delays}) > 100  # spread, not synchronised
    assert policy.ceiling(10_000) == 300  # no overflow


def test_retry_after_is_a_floor_but_capped():
    policy = RetryPolicy(base=5, cap=300, max_retry_after=600)
    assert policy.delay(1, retry_after=120, rng=random.Random(0)) == 120
    assert policy.delay(1, retry_after=10**9, rng=random.Random(0)) == 600


@pytest.mark.parametrize(
    "value, expected",
    [("120", 120.0), (None, None), ("", None), ("soon", None), ("Fri, 27 Nov 2026 00:01:00 GMT", 60.0)],
)
def test_retry_after_parsing(value, expected):
    import email.utils

    now = email.utils.parsedate_to_datetime("Fri, 27 Nov 2026 00:00:00 GMT").timestamp()
    assert parse_retry_after(value, now) == expected
