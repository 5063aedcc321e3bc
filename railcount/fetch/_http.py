"""A small, careful HTTP client for untrusted servers (standard library only).

Every request has a timeout, a User-Agent naming railcount, a limit on
redirects (http and https only), a cap on the bytes read, and a bounded rate.
Transient failures (connection errors, timeouts, HTTP 408/425/429/5xx,
truncated bodies, and bodies the caller's ``validate`` rejects) are retried with
exponential backoff; everything else ends in a :class:`~railcount.errors.FetchError`
whose message says what happened.
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Callable, Mapping, TypeVar

from .. import __version__
from ..errors import FetchError

__all__ = ["USER_AGENT", "HttpPolicy", "RateLimiter", "InvalidResponse", "fetch_bytes", "redact_url",
           "check_http_url"]

logger = logging.getLogger(__name__)

#: User-Agent sent with every request railcount makes.
USER_AGENT = f"railcount/{__version__} (railcar counting toolkit; Python urllib)"

T = TypeVar("T")

_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
_SECRET_PARAMS = frozenset({"key", "apikey", "api_key", "token", "access_token", "accesstoken",
                            "sig", "signature", "se", "sv", "sp", "x-amz-signature", "x-amz-credential",
                            "x-amz-security-token", "password", "client_secret"})


@dataclass(frozen=True)
class HttpPolicy:
    """How patiently and how much to download.

    Attributes
    ----------
    timeout : float
        Seconds to wait for a connection and for each read.
    retries : int
        Further attempts after a transient failure (0: try once).
    backoff : float
        Seconds before the first retry; doubled at each further one.
    max_backoff : float
        Longest wait between two attempts, also the cap on ``Retry-After``.
    max_bytes : int
        Largest response body accepted.
    max_redirects : int
        Most redirects followed for one request.
    """

    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_bytes: int = 8 * 1024 * 1024
    max_redirects: int = 5


class InvalidResponse(Exception):
    """Raised by a ``validate`` callback for a body that is not what was asked for.

    The request is retried (a truncated or garbled body is often transient);
    after the last attempt the message ends up in a :class:`FetchError`.
    """


class _Transient(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimiter:
    """Allow at most ``rate`` requests per second, across threads.

    Parameters
    ----------
    rate : float or None
        Requests per second; ``None`` or ``0`` for no limit.
    """

    def __init__(self, rate: float | None) -> None:
        if rate is not None and rate < 0:
            raise ValueError("rate must be >= 0")
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until the next request may start."""
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


def redact_url(url: str) -> str:
    """Return ``url`` with credentials and secret-looking query values replaced by ``REDACTED``.

    Used before a URL is logged or written into a file's tags.
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "REDACTED@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_PARAMS for k, _ in pairs):
            query = "&".join(
                f"{k}={'REDACTED' if k.lower() in _SECRET_PARAMS else v}" for k, v in pairs
            )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def check_http_url(url: str, *, what: str) -> str:
    """Check that ``url`` is an absolute http(s) URL with a host; return it.

    Raises
    ------
    ValueError
        With a message naming ``what``; callers turn it into the right error class.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"{what} is empty")
    if any(c in url for c in "\r\n\t\x00") or len(url) > 4096:
        raise ValueError(f"{what} has control characters or is too long")
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:
        raise ValueError(f"{what} is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute http:// or https:// URL; got {redact_url(url)!r}")
    return url


def _redirect_handler(max_redirects: int) -> urllib.request.HTTPRedirectHandler:
    """A handler following at most ``max_redirects`` redirects, to http(s) only."""

    class _Redirects(_RedirectsBase):
        max_redirections = max_redirects

    return _Redirects()


class _RedirectsBase(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http(s) only, and the same URL at most twice."""

    max_repeats = 2

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchError(f"{redact_url(req.full_url)} redirects to a {scheme or 'relative'}: URL, "
                             "which railcount does not follow")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _get_once(url: str, policy: HttpPolicy, accept: str) -> tuple[bytes, Mapping[str, str]]:
    opener = urllib.request.build_opener(_redirect_handler(policy.max_redirects))
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": accept,
                                               "Accept-Encoding": "identity"})
    try:
        resp = opener.open(req, timeout=policy.timeout)
    except urllib.error.HTTPError as exc:
        code, reason, headers = exc.code, exc.reason, exc.headers
        exc.close()
        if 300 <= code < 400 and "not allowed" in str(reason):
            raise FetchError(f"{redact_url(url)} redirects to a URL that is not http(s), which railcount "
                             "does not follow") from None
        if 300 <= code < 400:
            raise FetchError(f"{redact_url(url)}: too many redirects or a redirect loop "
                             f"(more than {policy.max_redirects}); check the URL") from None
        if code in _RETRY_STATUS or code >= 500:
            raise _Transient(f"HTTP {code} {reason}", _retry_after(headers.get("Retry-After"))) from None
        hint = {401: "the server wants credentials", 403: "access denied (a key may be needed)",
                404: "not found (the server may have no imagery there at this zoom)"}.get(code, "")
        raise FetchError(f"{redact_url(url)}: HTTP {code} {reason}" + (f": {hint}" if hint else "")) from None
    except urllib.error.URLError as exc:
        raise _Transient(f"cannot connect: {exc.reason}") from None
    except (TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException) as exc:
        raise _Transient(f"connection failed: {exc.__class__.__name__}: {exc}") from None
    with resp:
        headers = resp.headers
        length_text = headers.get("Content-Length")
        length: int | None = None
        if length_text is not None:
            try:
                length = int(length_text)
            except ValueError:
                length = None
        if length is not None and length > policy.max_bytes:
            raise FetchError(f"{redact_url(url)}: response of {length} bytes is larger than the limit "
                             f"of {policy.max_bytes} bytes; this is not a map tile")
        chunks: list[bytes] = []
        total = 0
        try:
            while True:
                chunk = resp.read(min(65536, policy.max_bytes + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
                if total > policy.max_bytes:
                    raise FetchError(f"{redact_url(url)}: response is larger than the limit of "
                                     f"{policy.max_bytes} bytes; this is not a map tile")
        except (TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException) as exc:
            raise _Transient(f"connection broke while reading: {exc.__class__.__name__}") from None
        if length is not None and total < length:
            raise _Transient(f"truncated response: got {total} of {length} bytes")
        return b"".join(chunks), headers


def fetch_bytes(url: str, *, policy: HttpPolicy, limiter: RateLimiter | None = None,
                validate: Callable[[bytes, Mapping[str, str]], T] | None = None,
                accept: str = "*/*", what: str = "") -> tuple[bytes, T | None]:
    """GET ``url`` and return its body and ``validate(body, headers)``.

    Parameters
    ----------
    url : str
        An absolute http(s) URL (checked by the caller).
    policy : HttpPolicy
        Timeouts, retries, size cap, redirect limit.
    limiter : RateLimiter, optional
        Shared rate limit; waited on before every attempt.
    validate : callable, optional
        Checks (and may decode) the body; raises :class:`InvalidResponse` for a
        bad body, which is then retried.
    accept : str
        ``Accept`` header.
    what : str
        What is being fetched, for messages (e.g. ``"tile 18/223456/98765"``).

    Returns
    -------
    body : bytes
    validated : object or None
        What ``validate`` returned.

    Raises
    ------
    FetchError
        On a permanent failure, or when every attempt failed.
    """
    label = what or redact_url(url)
    last = ""
    for attempt in range(policy.retries + 1):
        if limiter is not None:
            limiter.wait()
        delay = min(policy.max_backoff, policy.backoff * (2 ** attempt))
        try:
            body, headers = _get_once(url, policy, accept)
            result = validate(body, headers) if validate is not None else None
            return body, result
        except _Transient as exc:
            last = str(exc)
            if exc.retry_after is not None:
                delay = min(policy.max_backoff, max(delay, exc.retry_after))
        except InvalidResponse as exc:
            last = str(exc)
        if attempt < policy.retries:
            logger.info("%s: %s; retrying in %.1f s (attempt %d of %d)", label, last, delay,
                        attempt + 2, policy.retries + 1)
            time.sleep(delay)
    tries = policy.retries + 1
    raise FetchError(f"{label}: {last} ({tries} attempt{'s' if tries > 1 else ''}, from "
                     f"{redact_url(url)}); try again later, or lower --rate")
