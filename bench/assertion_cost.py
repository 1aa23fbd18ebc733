"""What a jwt_bearer / GitHub App exchange costs the host in CPU before the request: loading the client's RSA
2048 key (with its consistency checks) and signing one RS256 assertion, with the key parsed each time and with
the parsed key reused (freshtoken.strategies.assertion caches it per key text).

    python bench/assertion_cost.py [--n 200]
"""

from __future__ import annotations

import argparse
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from freshtoken import OAuthClient
from freshtoken.strategies import assertion


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200)
    n = parser.parse_args().n
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    client = OAuthClient(name="bench", provider="generic", client_id="bench", private_key=pem)
    claims = {"iss": "bench", "sub": "bench", "aud": "https://auth.example/token", "iat": 1, "exp": 301}

    started = time.perf_counter()
    for _ in range(n):
        parsed = assertion._parse(client)
        assertion.sign({**claims, "jti": assertion.new_jti()}, parsed, alg="RS256")
    uncached = (time.perf_counter() - started) / n * 1e3

    started = time.perf_counter()
    for _ in range(n):
        assertion.sign({**claims, "jti": assertion.new_jti()}, assertion.signing_key(client), alg="RS256")
    cached = (time.perf_counter() - started) / n * 1e3
    print(f"RS256 2048 assertion, key parsed each time: {uncached:.2f} ms; key parsed once: {cached:.2f} ms "
          f"(mean of {n})")


if __name__ == "__main__":
    main()
