"""Polite HTTP fetching for guidance pages: robots.txt, a per-host delay, a size cap, conditional GETs.

Redirects are followed here, hop by hop, rather than by httpx, so that robots.txt and the host delay
apply to every host a redirect leads to, and so the URL a page finally came from is known: that final
URL is the page's stable `source`.
"""

from __future__ import annotations

import time
import urllib.robotparser
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from assistant.config import SyncSettings

USER_AGENT = "PracticeManagerAssistant/0.1 (guidance sync; pm-ingest)"
ROBOTS_AGENT = "PracticeManagerAssistant"  # the token robots.txt rules are matched against
MAX_REDIRECTS = 10
MAX_ROBOTS_BYTES = 512 * 1024  # RFC 9309 lets a crawler stop reading robots.txt at 500 KiB
GONE = frozenset({404, 410})


class FetchError(Exception):
    """A URL could not be fetched; the message is the reason the report shows."""


@dataclass
class Fetched:
    """One response: `status` is 200, 304 or 404/410 (other statuses raise `FetchError`)."""

    status: int
    url: str  # the final URL after redirects
    body: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class _Robots:
    parser: urllib.robotparser.RobotFileParser | None  # None: every path allowed
    refuse_all: str | None = None  # reason when the host must not be fetched at all


@dataclass
class Fetcher:
    """One per sync run: robots.txt is read once per host per run, and the delay is per host."""

    settings: SyncSettings
    client: httpx.Client = field(init=False)
    _robots: dict[str, _Robots] = field(default_factory=dict, init=False)
    _last: dict[str, float] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(
            headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(self.settings.timeout_s),
            follow_redirects=False,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- public ----------------------------------------------------------------------------------
    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """GET with If-None-Match / If-Modified-Since when validators are given."""
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            request = self.client.build_request("GET", url, headers=headers)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise FetchError(f"not a valid URL: {exc}") from exc
        for _hop in range(MAX_REDIRECTS + 1):
            self._check_robots(str(request.url))
            self._wait(request.url.host)
            try:
                response = self.client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                raise FetchError(f"timed out after {self.settings.timeout_s:g} s") from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"cannot connect: {exc}") from exc
            try:
                if response.is_redirect and response.next_request is not None:
                    request = response.next_request
                    continue
                return self._result(response)
            finally:
                response.close()
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    def allowed(self, url: str) -> bool:
        try:
            self._check_robots(url)
        except FetchError:
            return False
        return True

    # --- internals -------------------------------------------------------------------------------
    def _result(self, response: httpx.Response) -> Fetched:
        final = str(response.url)
        if response.status_code == 304:
            return Fetched(304, final, etag=response.headers.get("etag"))
        if response.status_code in GONE:
            return Fetched(response.status_code, final)
        if response.status_code != 200:
            phrase = response.reason_phrase or ""
            raise FetchError(f"HTTP {response.status_code} {phrase}".strip())
        limit = self.settings.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(f"oversize: {int(declared)} bytes, more than the {limit}-byte limit")
        body = _read_capped(response, limit)
        if body is None:
            raise FetchError(f"oversize: more than the {limit}-byte limit")
        return Fetched(
            200,
            final,
            body=body,
            content_type=response.headers.get("content-type", ""),
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )

    def _wait(self, host: str) -> None:
        delay = self.settings.host_delay_s
        last = self._last.get(host)
        if delay > 0 and last is not None:
            pause = last + delay - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        self._last[host] = time.monotonic()

    def _check_robots(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FetchError("not an http(s) URL")
        origin = f"{parts.scheme}://{parts.netloc}"
        robots = self._robots.get(origin)
        if robots is None:
            robots = self._robots[origin] = self._read_robots(origin)
        if robots.refuse_all:
            raise FetchError(robots.refuse_all)
        if robots.parser is not None and not robots.parser.can_fetch(ROBOTS_AGENT, url):
            raise FetchError("robots-disallowed: robots.txt does not allow this URL")

    def _read_robots(self, origin: str) -> _Robots:
        """RFC 9309: a 4xx means no rules; 401/403 and an unreachable (5xx) robots.txt mean keep out."""
        self._wait(urlsplit(origin).hostname or origin)
        try:
            with self.client.stream("GET", origin + "/robots.txt") as response:
                status = response.status_code
                body = _read_capped(response, MAX_ROBOTS_BYTES, truncate=True) if status == 200 else b""
        except httpx.HTTPError as exc:
            return _Robots(None, refuse_all=f"robots-disallowed: robots.txt unreachable ({exc})")
        if status in (401, 403):
            return _Robots(None, refuse_all=f"robots-disallowed: robots.txt answered HTTP {status}")
        if status >= 500:
            return _Robots(None, refuse_all=f"robots-disallowed: robots.txt unreachable (HTTP {status})")
        if status != 200:
            return _Robots(None)
        parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
        parser.parse((body or b"").decode("utf-8", errors="replace").splitlines())
        return _Robots(parser)


def _read_capped(response: httpx.Response, limit: int, *, truncate: bool = False) -> bytes | None:
    """Stream a body, stopping as soon as it passes `limit`: None (or the first `limit` bytes when
    `truncate`), so an endless or huge response never fills memory."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        chunks.append(chunk)
        if size > limit:
            return b"".join(chunks)[:limit] if truncate else None
    return b"".join(chunks)
