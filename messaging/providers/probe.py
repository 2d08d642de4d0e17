"""Is a provider's API host reachable? The health probe every provider type starts from.

A TCP connect, then an HTTP GET of the base URL without credentials: the operations centre
polls it every few seconds, so it must cost no rate-limited API call and leak no secret. Any
HTTP answer (even 400 or 404) means reachable. Standard library only (no pool, no retries):
a probe measures one fresh connection, which is the point.
"""

from __future__ import annotations

import http.client
import socket
import time
from typing import Any
from urllib.parse import urlsplit

USER_AGENT = "Parley-health/1"


def reachability_probe(base_url: str, *, timeout: float) -> dict[str, Any]:
    """`{url, ok, connect_ms?, http_status?, error?, latency_ms}`; never raises."""
    parts = urlsplit(base_url)
    secure = parts.scheme == "https"
    host = parts.hostname or ""
    result: dict[str, Any] = {"url": f"{parts.scheme}://{parts.netloc}", "ok": False}
    if parts.scheme not in ("http", "https") or not host:
        result["error"] = "not an http(s) URL"
        return result
    start = time.monotonic()
    try:
        port = parts.port or (443 if secure else 80)
        with socket.create_connection((host, port), timeout=timeout):
            result["connect_ms"] = round((time.monotonic() - start) * 1000, 1)
        cls = http.client.HTTPSConnection if secure else http.client.HTTPConnection
        conn = cls(host, port, timeout=timeout)
        try:
            conn.request("GET", parts.path or "/", headers={"User-Agent": USER_AGENT})
            response = conn.getresponse()
            response.read(2048)
            result["http_status"] = response.status
        finally:
            conn.close()
        result["ok"] = True
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # ValueError: a port out of range in the URL.
        result["error"] = f"{type(exc).__name__}: {exc}"[:200]
    result["latency_ms"] = round((time.monotonic() - start) * 1000, 1)
    return result
