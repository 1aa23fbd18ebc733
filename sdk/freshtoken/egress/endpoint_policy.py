"""Where a secret may be sent: the endpoint policy.

Every URL that receives a secret (a token endpoint, a revocation endpoint, a discovered endpoint, the
issuer it is discovered from) is checked against one policy, at configuration time and again before each
request, before the secret is attached and before any connection is opened:

* ``https`` only; ``http`` only to a loopback address (``127.0.0.0/8``, ``::1``) or ``localhost``;
  every other scheme (``file``, ``gopher``, ``ftp``, ``data``...) is refused;
* no userinfo (``https://user:pw@host``), no whitespace, backslash or control character, no ``%`` in the host;
* no address that is link-local (``169.254.0.0/16``, ``fe80::/10``), a cloud metadata service
  (``169.254.169.254``, ``fd00:ec2::254``, ``100.100.100.200``, ``metadata.google.internal``), unspecified
  (``0.0.0.0``, ``::``), multicast or otherwise reserved — whatever the configuration says;
* no private address (``10/8``, ``172.16/12``, ``192.168/16``, ``100.64/10``, ``fc00::/7``) unless the operator
  allows private networks (``[security] allow_private_networks = true``): the one switch.

A host written as an IP address in any form a resolver accepts (``2852039166``, ``0xa9fea9fe``,
``0251.0376.0251.0376``, ``169.254.43518``, a trailing dot, ``::ffff:169.254.169.254``, NAT64 or 6to4 forms)
is normalised first. A host *name* is not resolved here: :mod:`freshtoken.egress.guarded_transport` checks the
address a name resolves to when the connection is made.

A refusal is an :class:`~freshtoken.errors.UnsafeEndpoint` naming the URL's scheme and host, never its path
or query (which may carry a secret).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import httpx

from ..errors import UnsafeEndpoint

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The switch, as written in the configuration file, for error messages.
SWITCH = "[security] allow_private_networks = true"

#: Cloud instance metadata services: never a token endpoint, whatever the configuration.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "fd00:ec2::23", "100.100.100.200")
)
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "instance-data.ec2.internal"})

#: Private networks: allowed only with the switch.
PRIVATE_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

_NUMBER = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")
_HOSTNAME = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*")
_PLACEHOLDER = re.compile(r"\{[a-z_][a-z0-9_]*\}")
_FORBIDDEN_CHARS = re.compile(r"[\s\\\x00-\x1f\x7f]")

#: What an address is, for the policy.
AddressClass = Literal["loopback", "public", "private", "refused"]


def classify(ip: IPAddress) -> tuple[AddressClass, str]:
    """(class, reason) of an address: loopback, public, private (switch), or refused (never)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            kind, reason = classify(embedded)
            return kind, f"{reason} (embedded in {ip})" if kind != "public" else reason
        if ip.scope_id:
            return "refused", f"{ip} has a zone index"
    if ip in METADATA_ADDRESSES:
        return "refused", f"{ip} is a cloud metadata address"
    if ip.is_unspecified:
        return "refused", f"{ip} is the unspecified address"
    if ip.is_loopback:
        return "loopback", f"{ip} is loopback"
    if ip.is_link_local:
        return "refused", f"{ip} is link-local"
    if ip.is_multicast:
        return "refused", f"{ip} is multicast"
    if any(ip in net for net in PRIVATE_NETWORKS):
        return "private", f"{ip} is a private address"
    if not ip.is_global:
        return "refused", f"{ip} is a reserved or special-purpose address"
    return "public", f"{ip} is public"


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4, IPv4-compatible), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if int(ip) >> 32 == 0 and int(ip) > 1:  # deprecated IPv4-compatible ::a.b.c.d (not :: or ::1)
        return ipaddress.IPv4Address(int(ip))
    return None


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address of ``host`` if a resolver would read it as one (decimal, octal, hex, 1-4 parts);
    None for a name. A host whose last label is a number but is no valid address is refused."""
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    if not _NUMBER.fullmatch(labels[-1]):
        return None
    if len(labels) > 4 or not all(_NUMBER.fullmatch(label) for label in labels):
        raise UnsafeEndpoint(f"host {host!r} is not a valid IPv4 address")
    numbers = [_number(label) for label in labels]
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise UnsafeEndpoint(f"host {host!r} is not a valid IPv4 address")
    value = last
    for i, n in enumerate(head):
        value |= n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def _number(label: str) -> int:
    if label[:2] in ("0x", "0X"):
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        if not set(label) <= set("01234567"):
            raise UnsafeEndpoint(f"{label!r} is not a valid octal number in an IPv4 address")
        return int(label, 8)
    return int(label)


def host_address(host: str) -> IPAddress | None:
    """The address a URL host (as httpx parsed it) names, or None for a DNS name."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise UnsafeEndpoint(f"host {host!r} is not a valid IPv6 address") from None
    return parse_ipv4(host)


@dataclass(frozen=True)
class Target:
    """What a URL points at, once parsed: for messages and for the checks."""

    scheme: str
    host: str
    port: int | None
    address: IPAddress | None

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` — what a message may name (never the path or the query)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + (f":{self.port}" if self.port is not None else "")

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else (443 if self.scheme == "https" else 80)

    @property
    def name(self) -> str:
        """The host, lower-case, without a trailing dot (for comparing origins and allowlists)."""
        return str(self.address) if self.address is not None else self.host.rstrip(".")


def parse(url: str, what: str = "endpoint") -> Target:
    """Parse an http(s) ``url`` as httpx will when it connects; refuse any other scheme and anything that
    cannot be parsed unambiguously."""
    if not isinstance(url, str) or not url:
        raise UnsafeEndpoint(f"{what}: the URL is empty")
    if _FORBIDDEN_CHARS.search(url):
        raise UnsafeEndpoint(f"{what}: the URL contains whitespace, a backslash or a control character")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise UnsafeEndpoint(f"{what}: {_scheme_of(url)}URL is not valid") from None
    scheme = parsed.scheme.lower()
    try:
        host = parsed.raw_host.decode("ascii").lower()
    except UnicodeDecodeError:
        raise UnsafeEndpoint(f"{what}: the URL's host is not valid") from None
    shown = f"{scheme}://{host}" if host else f"{scheme}:"
    if scheme not in ("https", "http"):
        raise UnsafeEndpoint(f"{what} {shown}: scheme {scheme!r} is not allowed (https only; http only to loopback)")
    if parsed.userinfo or "@" in urlsplit(url).netloc:
        raise UnsafeEndpoint(f"{what} {shown}: a URL with userinfo (user:password@) is not allowed")
    if not host:
        raise UnsafeEndpoint(f"{what} {shown}: the URL has no host")
    if "%" in host:
        raise UnsafeEndpoint(f"{what} {shown}: a host with '%' (an escape or a zone index) is not allowed")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise UnsafeEndpoint(f"{what} {shown}: port {parsed.port} is not valid")
    address = host_address(host)
    if address is None and not _HOSTNAME.fullmatch(host.rstrip(".")):
        raise UnsafeEndpoint(f"{what} {shown}: {host!r} is not a valid host name")
    return Target(scheme=scheme, host=host, port=parsed.port, address=address)


def _scheme_of(url: str) -> str:
    head, sep, _ = url.partition("://")
    return f"the {head.lower()[:20]!r} " if sep and head.isalnum() else "the "


@dataclass(frozen=True)
class EndpointPolicy:
    """The endpoint policy of one deployment. ``allow_private_networks`` is the one switch."""

    allow_private_networks: bool = False

    def check(self, url: str, what: str = "endpoint") -> Target:
        """The parsed target of ``url``; :class:`UnsafeEndpoint` if the policy refuses it."""
        target = parse(url, what)
        where = target.origin
        if target.address is not None and target.host != str(target.address):
            where += f" ({target.address})"
        loopback = target.name == "localhost" or (
            target.address is not None and classify(target.address)[0] == "loopback"
        )
        if target.scheme == "http" and not loopback:
            raise UnsafeEndpoint(
                f"{what} {where}: plain http is allowed only to a loopback address or localhost; use https"
            )
        if target.address is not None:
            self.check_address(target.address, f"{what} {where}")
        elif target.name in METADATA_HOSTS:
            raise UnsafeEndpoint(f"{what} {where}: {target.name} is a cloud metadata service, never allowed")
        return target

    def check_template(self, template: str, what: str = "endpoint") -> Target:
        """Check a URL template (``https://{shop}/token``) with each placeholder filled by a neutral label;
        the filled URL is checked again before each request."""
        return self.check(_PLACEHOLDER.sub("x", template), what)

    def check_address(self, address: IPAddress, where: str) -> None:
        """Refuse an address the policy does not allow (also used on the address a host name resolved to)."""
        kind, reason = classify(address)
        if kind == "refused":
            raise UnsafeEndpoint(f"{where}: {reason}, never allowed")
        if kind == "private" and not self.allow_private_networks:
            raise UnsafeEndpoint(f"{where}: {reason}; to allow private networks set {SWITCH}")


#: The default: no private network.
DEFAULT_POLICY = EndpointPolicy()
#: What no configuration can allow (a provider's own validation: the deployment's switch is applied later).
BASELINE_POLICY = EndpointPolicy(allow_private_networks=True)
