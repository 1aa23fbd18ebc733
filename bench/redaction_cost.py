"""What redaction costs per failed refresh: `redact` over a token endpoint's error body at the 256 KB limit.

A hostile endpoint can send an error body up to the response limit; redaction runs over all of it before the
text is cut (so a secret across the cut cannot leak its first half). This measures that cost for a plain ASCII
body and for an adversarial one (non-ASCII and zero-width characters, which the matcher must skip).

    python -m bench.redaction_cost
"""

from __future__ import annotations

import random
import statistics
import time

from freshtoken.redaction import redact

SECRETS = ["CanaryCS+Zq9/Wx=7Kp4Lm", "rt-" + "a" * 40, "at-" + "b" * 40, "cid", "x" * 24]


def main() -> None:
    rng = random.Random(1)
    bodies = {
        "ascii, 260 KB": "".join(rng.choice("abcdefghij klmnop=+/") for _ in range(260_000)),
        "non-ASCII + zero-width, 240 KB": "".join(rng.choice("é\u200bü\u200d漢a ") for _ in range(240_000)),
    }
    redact(["invalid_grant", "é"], SECRETS)  # the character tables are built once per process
    for name, text in bodies.items():
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            redact(["invalid_grant", text], SECRETS)
            times.append(time.perf_counter() - t0)
        print(f"{name}: median {statistics.median(times) * 1e3:.0f} ms, max {max(times) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
