"""``http.form_encode`` (the token request's form body) is ``urlencode`` exactly, for every kind of name and
value: the unreserved ones it writes as they are, the rest through ``urlencode``."""

import random
from urllib.parse import urlencode

from freshtoken.http import form_encode

#: every ASCII character and a few others (a space, '+', '&', '=', '%', non-ASCII, an astral character)
CHARS = [chr(i) for i in range(128)] + ["é", "\u2028", "\U0001f600", "ü"]
UNRESERVED = "abcXYZ019_.~-"


def _text(rng: random.Random) -> str:
    pool = UNRESERVED if rng.random() < 0.6 else CHARS
    return "".join(rng.choice(pool) for _ in range(rng.randint(0, 12)))


def test_form_encode_is_urlencode() -> None:
    rng = random.Random(17)
    as_is = 0
    for _ in range(20_000):
        params = {_text(rng): _text(rng) for _ in range(rng.randint(0, 4))}
        assert form_encode(params) == urlencode(params), params
        as_is += all(k.strip(UNRESERVED) == "" and v.strip(UNRESERVED) == "" for k, v in params.items())
    assert 1_000 < as_is < 19_000  # both paths were exercised


def test_form_encode_of_a_refresh() -> None:
    params = {"grant_type": "refresh_token", "refresh_token": "r1.2-x_y~z", "scope": "a b+c", "x": "é&="}
    assert form_encode(params) == urlencode(params) == (
        "grant_type=refresh_token&refresh_token=r1.2-x_y~z&scope=a+b%2Bc&x=%C3%A9%26%3D")
