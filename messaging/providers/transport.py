"""HTTP plumbing shared by the providers.

One pooled `requests.Session` per thread (a Celery prefork child gets fresh ones after the
fork), no urllib3 retries (retrying is the send pipeline's decision, not the socket's), a
timeout on every call, and transport failures mapped to our error classes:

* the request never left (connection refused, DNS, connect timeout, TLS handshake)
  -> `TemporaryError`;
* the request may have been written (read timeout, connection reset, truncated body)
  -> `AmbiguousError` for non-idempotent calls (a send), `TemporaryError` for reads.

URLs are logged without their query string (Graph's paging links embed the access token) and
headers are never logged unredacted.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from .base import AmbiguousError, PermanentError, TemporaryError

POOL_CONNECTIONS = 16
POOL_MAXSIZE = 64

_local = threading.local()


def _forget_sessions_after_fork() -> None:
    global _local
    _local = threading.local()


os.register_at_fork(after_in_child=_forget_sessions_after_fork)


def session() -> requests.Session:
    """This thread's pooled session.

    `trust_env` is off: with it on, requests re-reads proxy and CA settings from the
    environment on every call, which costs more than the loopback request itself. The same
    settings are read once instead: proxies per host (`_proxies_for`) and the CA bundle here.
    """
    current = getattr(_local, "session", None)
    if current is None:
        current = requests.Session()
        current.trust_env = False
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            current.verify = bundle
        adapter = HTTPAdapter(
            pool_connections=POOL_CONNECTIONS, pool_maxsize=POOL_MAXSIZE, max_retries=0
        )
        current.mount("https://", adapter)
        current.mount("http://", adapter)
        _local.session = current
    return current


_PROXIES: dict[str, dict[str, str]] = {}


def _proxies_for(url: str) -> dict[str, str]:
    """The environment's proxies for this URL's host (honouring NO_PROXY), read once."""
    parts = urllib.parse.urlsplit(url)
    key = f"{parts.scheme}://{parts.netloc}"
    if key not in _PROXIES:
        _PROXIES[key] = requests.utils.get_environ_proxies(key)
    return _PROXIES[key]


def redact_url(url: str) -> str:
    """The URL without query string or credentials, safe to log."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    suffix = "?…" if parts.query else ""
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", "")) + suffix


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    secret = {"authorization", "x-api-key", "x-hub-signature-256", "x-myoperator-signature"}
    return {k: ("***" if k.lower() in secret else v) for k, v in headers.items()}


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After") if headers else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _never_sent(error: requests.exceptions.ConnectionError) -> bool:
    """True when urllib3 failed before writing the request (refused, DNS, connect timeout)."""
    if isinstance(error, requests.exceptions.ConnectTimeout | requests.exceptions.ProxyError):
        return True
    reason = error.args[0] if error.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def call(
    method: str,
    url: str,
    *,
    logger: logging.Logger,
    timeout: float | tuple[float, float],
    headers: Mapping[str, str] | None = None,
    idempotent: bool | None = None,
    **kwargs: Any,
) -> requests.Response:
    """Perform one HTTP call, mapping transport failures to provider errors."""
    if idempotent is None:
        idempotent = method.upper() in ("GET", "HEAD")
    safe_url = redact_url(url)
    started = time.monotonic()
    try:
        response = session().request(
            method,
            url,
            headers=dict(headers or {}),
            timeout=timeout,
            proxies=_proxies_for(url),
            **kwargs,
        )
    except requests.exceptions.SSLError as exc:
        logger.warning("%s %s: TLS error %s", method, safe_url, type(exc).__name__)
        raise TemporaryError(f"TLS error talking to {safe_url}") from exc
    except requests.exceptions.ConnectionError as exc:
        elapsed = (time.monotonic() - started) * 1000
        if _never_sent(exc):
            logger.warning("%s %s: not connected after %.0f ms", method, safe_url, elapsed)
            raise TemporaryError(f"could not connect to {safe_url}") from exc
        reason = f"connection lost ({type(exc).__name__})"
        logger.warning("%s %s: %s after %.0f ms", method, safe_url, reason, elapsed)
        if idempotent:
            raise TemporaryError(f"{reason} from {safe_url}") from exc
        raise AmbiguousError(
            f"{reason} from {safe_url}; the request may have been accepted"
        ) from exc
    except requests.exceptions.Timeout as exc:  # ReadTimeout: the request was written
        logger.warning("%s %s: no response within %s s", method, safe_url, timeout)
        if idempotent:
            raise TemporaryError(f"no response from {safe_url} in time") from exc
        raise AmbiguousError(
            f"no response from {safe_url} in time; the request may have been accepted"
        ) from exc
    except (
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
    ) as exc:
        logger.warning("%s %s: response cut short (%s)", method, safe_url, type(exc).__name__)
        if idempotent:
            raise TemporaryError(f"incomplete response from {safe_url}") from exc
        raise AmbiguousError(f"incomplete response from {safe_url}") from exc
    except requests.exceptions.RequestException as exc:  # bad URL, bad arguments
        logger.error("%s %s: %s", method, safe_url, type(exc).__name__)
        raise PermanentError(f"cannot call {safe_url}: {type(exc).__name__}") from exc
    logger.debug(
        "%s %s -> %s in %.0f ms",
        method,
        safe_url,
        response.status_code,
        (time.monotonic() - started) * 1000,
    )
    return response
