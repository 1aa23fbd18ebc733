"""Paths a gateway's caller sends after the account key, for the gateways that forward them to an upstream (the
JavaScript Worker, readers/js/worker.mjs, and the Python example Worker's ``/proxy/``).

A gateway forwards ``UPSTREAM + "/" + path`` with the account's token. A path whose dots and slashes are hidden
from the gateway's own URL parser by percent-encoding (``..%2f``), by a backslash, by a path parameter (``..;``)
or by encoding twice passes the gateway as one harmless segment, and then climbs out of UPSTREAM's base path at
an upstream that decodes before it routes (many do: a Java servlet container for ``..;``, a framework that
unquotes the path, a proxy that decodes twice). :func:`resolved` is what such an upstream serves.
"""

from __future__ import annotations

from urllib.parse import unquote

#: Each climbs out of the base at an upstream that decodes before it routes: refused, nothing sent upstream.
CLIMBING = [
    "/..%2f..%2fadmin",
    "/..%2F..%2Fadmin",
    "/%2e%2e%2f%2e%2e%2fadmin",
    "/..%5c..%5cadmin",
    "/..%252f..%252fadmin",
    "/%252e%252e/%252e%252e/admin",
    "/..;/..;/admin",
    "/..;jsessionid=1/admin",
    "/v1/..%2f..%2f..%2fadmin",
    "/v1/%2e%2e%2f..%2f..%2fadmin?x=1",
]

#: Legitimate paths with encoded slashes or dots in a name: forwarded as sent (GitLab's API names a project
#: ``group%2Fproject``).
PLAIN = [
    "/projects/group%2Fproject/issues",
    "/files/a%2Fb.txt",
    "/v1/...",
    "/v1/..hidden",
    "/v1/a..b",
    "/v1/%2e%2ehidden",
    "/v1/me;v=2",
    "/v1/%" + "25" * 7 + "61",  # "a", encoded eight times
]


#: A name encoded nine times: no upstream needs it, and decoding on would cost a pass per level (a path of 16 KB
#: holds thousands); refused as if it climbed. Eight times is the most the gateways decode (PLAIN has one).
ENCODED_TOO_DEEP = ["/v1/%" + "25" * 8 + "61"]


def resolved(path: str) -> str:
    """The path an upstream serves when it percent-decodes until nothing changes, takes ``\\`` for ``/``, drops
    ``;`` parameters from each segment and then removes dot segments."""
    path = path.split("?", 1)[0]
    while (decoded := unquote(path)) != path:
        path = decoded
    out: list[str] = []
    for segment in path.replace("\\", "/").split("/")[1:]:
        segment = segment.split(";", 1)[0]
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    return "/" + "/".join(out)
