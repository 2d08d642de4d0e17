"""Guard for URLs that leave this machine on our behalf (media links, feeds, webhooks).

A URL passes when it is http(s), carries no credentials, uses a standard port, and every
address its host resolves to is public. Private, loopback, link-local and reserved addresses
are refused unless MEDIA_URL_ALLOW_PRIVATE is on (the local demo, where the simulator serves
media on loopback).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from core.errors import DomainError


class UnsafeUrl(DomainError):
    code = "unsafe_url"


def _addresses(host: str) -> list[ipaddress._BaseAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"The host {host!r} does not resolve.") from exc
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def url_check_public(url: str, *, allow_private: bool | None = None) -> str:
    """Return `url` if it is safe to hand to a provider or fetch; raise UnsafeUrl if not."""
    if allow_private is None:
        allow_private = settings.MEDIA_URL_ALLOW_PRIVATE
    if len(url) > 2048:
        raise UnsafeUrl("The URL is longer than 2,048 characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"Not a valid URL: {exc}.") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("Only http and https URLs are allowed.")
    if not parts.hostname:
        raise UnsafeUrl("The URL has no host.")
    if parts.username or parts.password:
        raise UnsafeUrl("URLs with credentials are not allowed.")
    if allow_private:
        return url
    if port not in (None, 80, 443):
        raise UnsafeUrl("Only the standard ports 80 and 443 are allowed.")
    host_addresses_public(parts.hostname)
    return url


def host_addresses_public(host: str) -> list[str]:
    """Resolve `host` once and return its addresses if every one is public; raise UnsafeUrl
    if not. For a client that connects to the address it checked, so that DNS cannot answer
    a public address to the check and a private one to the connection."""
    addresses = _addresses(host)
    for address in addresses:
        if not address.is_global or address.is_multicast:
            raise UnsafeUrl(f"The host {host!r} resolves to a non-public address ({address}).")
    return [str(address) for address in addresses]


def url_public_problem(url: object) -> str | None:
    """Why `url` may not be fetched or handed to a provider, in words for a form or an API
    error; None when it is a public http(s) URL. For values a person or a caller stored (a
    campaign's header image, a rule's media link), checked when saved and before use."""
    if not isinstance(url, str):
        return "must be a URL"
    try:
        url_check_public(url)
    except UnsafeUrl as exc:
        return exc.message
    return None
