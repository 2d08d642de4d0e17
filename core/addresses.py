"""The client's address, as far as the operator's proxies can vouch for it.

Behind a load balancer REMOTE_ADDR is the balancer's, the same for every client, so lock-outs
and the audit log need the address the balancer saw. Each trusted proxy appends the address it
received the request from to `X-Forwarded-For`; anything further left was written by the
client and can be forged. With `TRUSTED_PROXY_COUNT = N` the client is therefore the N-th
address from the right. `0` (the default, no proxy) uses REMOTE_ADDR and ignores the header.

One function serves django-axes (`AXES_CLIENT_IP_CALLABLE`) and the audit log, so a lock-out
and the audit event of the failed sign-in name the same address.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def _plain(value: str) -> str | None:
    """A bare IP address from one header entry (ports and IPv6 brackets removed), or None."""
    value = value.strip()
    if value.startswith("["):  # [2001:db8::1]:443
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # 203.0.113.7:5123
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_address(request) -> str | None:
    """The client's IP address for `request` (see the module docstring), or None."""
    remote = _plain(request.META.get("REMOTE_ADDR", "") or "")
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if proxies <= 0:
        return remote
    forwarded = [e for e in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if e.strip()]
    if len(forwarded) < proxies:
        # Fewer hops than trusted proxies: the request did not come through all of them, so
        # nothing in the header can be trusted.
        return remote
    return _plain(forwarded[-proxies]) or remote
