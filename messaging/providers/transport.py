"""HTTP plumbing shared by the providers.

JSON calls (every send) go straight to one shared urllib3 pool manager: `requests` costs
about twice the CPU per call on top of it (hooks, cookies, a `stat` of the CA bundle per
request), and at a thousand sends per second that CPU is the limit. Streamed downloads,
multipart uploads and proxied hosts use a pooled `requests.Session` per thread. Both are
rebuilt in a forked child (Celery prefork), neither retries (retrying is the send pipeline's
decision, not the socket's), every call has a timeout, and transport failures map to our
error classes:

* the request never left (connection refused, DNS, connect timeout, TLS handshake)
  -> `TemporaryError`;
* the request may have been written (read timeout, connection reset, truncated body)
  -> `AmbiguousError` for non-idempotent calls (a send), `TemporaryError` for reads.

URLs are logged without their query string (Graph's paging links embed the access token) and
headers are never logged unredacted.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from .base import AmbiguousError, PermanentError, TemporaryError

POOL_CONNECTIONS = 16
POOL_MAXSIZE = 64

_local = threading.local()
_pool_lock = threading.Lock()
_pool: urllib3.PoolManager | None = None


def _forget_sessions_after_fork() -> None:
    global _local, _pool
    _local = threading.local()
    _pool = None


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
        bundle = _ca_bundle()
        if bundle:
            current.verify = bundle
        adapter = HTTPAdapter(
            pool_connections=POOL_CONNECTIONS, pool_maxsize=POOL_MAXSIZE, max_retries=0
        )
        current.mount("https://", adapter)
        current.mount("http://", adapter)
        _local.session = current
    return current


def _ca_bundle() -> str | None:
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")


def pool() -> urllib3.PoolManager:
    """The process's pool manager for JSON calls (thread-safe, keep-alive per host)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                import certifi

                _pool = urllib3.PoolManager(
                    num_pools=POOL_CONNECTIONS,
                    maxsize=POOL_MAXSIZE,
                    retries=False,
                    cert_reqs="CERT_REQUIRED",
                    ca_certs=_ca_bundle() or certifi.where(),
                )
    return _pool


class Response:
    """What the providers read of a response; the same names as `requests.Response`."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, content: bytes, headers: Mapping[str, str]) -> None:
        self.status_code = status_code
        self.content = content
        self.headers = headers

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


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


@dataclass
class _Failures:
    """The error (logged once) for each way one call can fail; shared by both clients."""

    method: str
    safe_url: str
    logger: logging.Logger
    timeout: float | tuple[float, float]
    idempotent: bool
    started: float

    def _elapsed(self) -> float:
        return (time.monotonic() - self.started) * 1000

    def _maybe_arrived(self, text: str) -> Exception:
        if self.idempotent:
            return TemporaryError(text)
        return AmbiguousError(f"{text}; the request may have been accepted")

    def tls(self, exc: Exception) -> Exception:
        self.logger.warning("%s %s: TLS error %s", self.method, self.safe_url, type(exc).__name__)
        return TemporaryError(f"TLS error talking to {self.safe_url}")

    def not_connected(self) -> Exception:
        self.logger.warning(
            "%s %s: not connected after %.0f ms", self.method, self.safe_url, self._elapsed()
        )
        return TemporaryError(f"could not connect to {self.safe_url}")

    def lost(self, exc: Exception) -> Exception:
        reason = f"connection lost ({type(exc).__name__})"
        self.logger.warning(
            "%s %s: %s after %.0f ms", self.method, self.safe_url, reason, self._elapsed()
        )
        return self._maybe_arrived(f"{reason} from {self.safe_url}")

    def no_response(self) -> Exception:
        self.logger.warning(
            "%s %s: no response within %s s", self.method, self.safe_url, self.timeout
        )
        return self._maybe_arrived(f"no response from {self.safe_url} in time")

    def cut_short(self, exc: Exception) -> Exception:
        self.logger.warning(
            "%s %s: response cut short (%s)", self.method, self.safe_url, type(exc).__name__
        )
        return self._maybe_arrived(f"incomplete response from {self.safe_url}")

    def unusable(self, exc: Exception) -> Exception:  # bad URL, bad arguments
        self.logger.error("%s %s: %s", self.method, self.safe_url, type(exc).__name__)
        return PermanentError(f"cannot call {self.safe_url}: {type(exc).__name__}")

    def done(self, status: int) -> None:
        self.logger.debug(
            "%s %s -> %s in %.0f ms", self.method, self.safe_url, status, self._elapsed()
        )


def call(
    method: str,
    url: str,
    *,
    logger: logging.Logger,
    timeout: float | tuple[float, float],
    headers: Mapping[str, str] | None = None,
    idempotent: bool | None = None,
    **kwargs: Any,
) -> Response | requests.Response:
    """Perform one HTTP call, mapping transport failures to provider errors."""
    if idempotent is None:
        idempotent = method.upper() in ("GET", "HEAD")
    fail = _Failures(method, redact_url(url), logger, timeout, idempotent, time.monotonic())
    if set(kwargs) <= {"data", "params"} and not _proxies_for(url):
        return _call_direct(method, url, fail, timeout=timeout, headers=headers, **kwargs)
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
        raise fail.tls(exc) from exc
    except requests.exceptions.ConnectionError as exc:
        raise (fail.not_connected() if _never_sent(exc) else fail.lost(exc)) from exc
    except requests.exceptions.Timeout as exc:  # ReadTimeout: the request was written
        raise fail.no_response() from exc
    except (
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
    ) as exc:
        raise fail.cut_short(exc) from exc
    except requests.exceptions.RequestException as exc:
        raise fail.unusable(exc) from exc
    fail.done(response.status_code)
    return response


USER_AGENT = "Parley"


def _call_direct(
    method: str,
    url: str,
    fail: _Failures,
    *,
    timeout: float | tuple[float, float],
    headers: Mapping[str, str] | None,
    data: bytes | None = None,
    params: Mapping[str, Any] | None = None,
) -> Response:
    """`call` through the shared urllib3 pool: same errors, same logging."""
    if params:
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params, doseq=True)
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    try:
        raw = pool().request(
            method,
            url,
            body=data,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip", **(headers or {})},
            timeout=urllib3.Timeout(connect=connect, read=read),
            retries=False,
            redirect=False,
        )
    except urllib3.exceptions.SSLError as exc:
        raise fail.tls(exc) from exc
    except (NewConnectionError, ConnectTimeoutError) as exc:  # nothing was written
        raise fail.not_connected() from exc
    except urllib3.exceptions.ReadTimeoutError as exc:  # the request was written
        raise fail.no_response() from exc
    except urllib3.exceptions.ProtocolError as exc:
        raise fail.lost(exc) from exc
    except urllib3.exceptions.DecodeError as exc:
        raise fail.cut_short(exc) from exc
    except (urllib3.exceptions.HTTPError, ValueError) as exc:
        raise fail.unusable(exc) from exc
    fail.done(raw.status)
    return Response(raw.status, raw.data, raw.headers)
