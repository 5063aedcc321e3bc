"""Careful HTTP for untrusted servers, on :mod:`requests` (the client pystac-client uses too).

Every request has a timeout, a User-Agent naming railcount, a limit on
redirects (http and https only), a cap on the bytes read, and a bounded rate.
Transient failures (connection errors, timeouts, HTTP 408/425/429/5xx,
truncated bodies, and bodies the caller's ``validate`` rejects) are retried with
exponential backoff; everything else ends in a :class:`~railcount.errors.FetchError`
whose message says what happened.

:func:`session` makes the :class:`requests.Session` both fetchers use (the
web-map tiles of :mod:`railcount.fetch.xyz` and the STAC API of
:mod:`railcount.fetch.stac`).
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar

from .. import __version__
from ..errors import FetchError
from ..extras import require

__all__ = ["USER_AGENT", "HttpPolicy", "RateLimiter", "InvalidResponse", "fetch_bytes", "redact_url",
           "check_http_url", "session"]

logger = logging.getLogger(__name__)

#: User-Agent sent with every request railcount makes.
USER_AGENT = f"railcount/{__version__} (railcar counting toolkit; Python requests)"

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


def _requests() -> Any:
    return require("requests", extra="fetch", feature="downloading imagery")


def session(*, max_bytes: int, max_redirects: int = 5, retries: Any = 0) -> Any:
    """A :class:`requests.Session` for untrusted servers.

    Parameters
    ----------
    max_bytes : int
        Largest response body read; a larger one ends in :class:`FetchError`
        (announced by its ``Content-Length``, or as soon as that many bytes
        have arrived). Bodies are read in full before the response returns.
    max_redirects : int
        Most redirects followed for one request; redirects go to http(s) only.
    retries : int or urllib3.util.retry.Retry
        Retries of the transport (``0``: none; :func:`fetch_bytes` retries itself).

    Returns
    -------
    requests.Session
        Sending ``User-Agent: railcount/...`` with every request.

    Raises
    ------
    MissingExtraError
        If requests is not installed (``pip install 'railcount[fetch]'``).
    """
    _requests()
    from requests import Session
    from requests.adapters import HTTPAdapter

    class _CappedAdapter(HTTPAdapter):
        """Reads every body in full, at most ``max_bytes`` of it."""

        def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            kwargs["stream"] = True
            resp = super().send(request, **kwargs)
            length = resp.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > max_bytes:
                resp.close()
                raise FetchError(f"{redact_url(request.url)}: response of {length} bytes is larger than the "
                                 f"limit of {max_bytes} bytes")
            buf = bytearray()
            try:
                for chunk in resp.iter_content(65536):
                    buf += chunk
                    if len(buf) > max_bytes:
                        raise FetchError(f"{redact_url(request.url)}: response is larger than the limit of "
                                         f"{max_bytes} bytes")
            finally:
                resp.close()
            resp._content = bytes(buf)  # what resp.content returns: the body is read
            return resp

    class _Session(Session):
        """Follows redirects to http(s) URLs only."""

        def get_redirect_target(self, resp: Any) -> str | None:
            target = super().get_redirect_target(resp)
            if target:
                scheme = urllib.parse.urlsplit(urllib.parse.urljoin(resp.url, target)).scheme.lower()
                if scheme not in ("http", "https"):
                    raise FetchError(f"{redact_url(resp.url)} redirects to a {scheme or 'relative'}: URL, "
                                     "which railcount does not follow")
            return target

    s = _Session()
    s.headers["User-Agent"] = USER_AGENT
    s.max_redirects = max_redirects
    adapter = _CappedAdapter(max_retries=retries)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


_local = threading.local()


def _session_for(policy: HttpPolicy) -> Any:
    """One session per thread and policy, so that connections are kept alive between tiles."""
    cache = getattr(_local, "sessions", None)
    if cache is None:
        cache = _local.sessions = {}
    s = cache.get(policy)
    if s is None:
        s = cache[policy] = session(max_bytes=policy.max_bytes, max_redirects=policy.max_redirects)
    return s


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
    requests = _requests()
    exc_mod = requests.exceptions
    try:
        resp = _session_for(policy).get(url, headers={"Accept": accept, "Accept-Encoding": "identity"},
                                        timeout=policy.timeout)
    except exc_mod.TooManyRedirects:
        raise FetchError(f"{redact_url(url)}: too many redirects or a redirect loop "
                         f"(more than {policy.max_redirects}); check the URL") from None
    except exc_mod.ChunkedEncodingError as exc:
        raise _Transient(f"truncated response: the connection broke while reading ({_cause(exc)})") from None
    except exc_mod.ConnectionError as exc:
        raise _Transient(f"cannot connect: {_cause(exc)}") from None
    except exc_mod.Timeout as exc:
        raise _Transient(f"connection failed: timed out ({_cause(exc)})") from None
    except exc_mod.InvalidSchema as exc:
        raise FetchError(f"{redact_url(url)}: {exc}; railcount follows http(s) URLs only") from None
    except exc_mod.RequestException as exc:
        raise _Transient(f"connection failed: {exc.__class__.__name__}: {_cause(exc)}") from None
    code, reason = resp.status_code, resp.reason or ""
    if code >= 400:
        if code in _RETRY_STATUS or code >= 500:
            raise _Transient(f"HTTP {code} {reason}", _retry_after(resp.headers.get("Retry-After")))
        hint = {401: "the server wants credentials", 403: "access denied (a key may be needed)",
                404: "not found (the server may have no imagery there at this zoom)"}.get(code, "")
        raise FetchError(f"{redact_url(url)}: HTTP {code} {reason}" + (f": {hint}" if hint else ""))
    return resp.content, resp.headers


def _cause(exc: BaseException) -> str:
    """The innermost reason of a requests error, on one line and without the URL."""
    inner: BaseException = exc
    while inner.args and isinstance(inner.args[0], BaseException):
        inner = inner.args[0]
    reason = getattr(inner, "reason", None)
    text = str(reason if isinstance(reason, BaseException) else inner)
    return " ".join(text.split())[:200] or exc.__class__.__name__


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
