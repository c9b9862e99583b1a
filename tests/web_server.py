"""A small real website on 127.0.0.1 for sync tests: pages with ETags, redirects, robots.txt, a log.

Tests change the site between syncs (`site.put(...)`, `site.gone(...)`) and read `site.log` to see
exactly which paths were requested and with which conditional headers.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Resource:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    location: str | None = None  # for redirects
    etag: bool = True
    content_length: bool = True  # False: no Content-Length, the body ends when the connection closes


@dataclass
class Hit:
    path: str
    status: int
    if_none_match: str | None


@dataclass
class Site:
    resources: dict[str, Resource] = field(default_factory=dict)
    log: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # close-delimited bodies are possible, as on real servers

            def do_GET(self) -> None:
                site._serve(self)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._lock = threading.Lock()

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def put(
        self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8", **kw: object
    ) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.resources[path] = Resource(data, content_type, **kw)  # type: ignore[arg-type]

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        self.resources[path] = Resource(status=status, location=to)

    def gone(self, path: str, status: int = 404) -> None:
        self.resources[path] = Resource(b"Not here", "text/plain", status=status, etag=False)

    def paths(self) -> list[str]:
        with self._lock:
            return [hit.path for hit in self.log]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        resource = self.resources.get(path, Resource(b"Not found", "text/plain", status=404, etag=False))
        tag = f'"{hashlib.sha256(resource.body).hexdigest()[:16]}"' if resource.etag else None
        asked = handler.headers.get("If-None-Match")
        status = resource.status
        if status == 200 and tag and asked == tag:
            status = 304
        with self._lock:
            self.log.append(Hit(path, status, asked))
        handler.send_response(status)
        if resource.location:
            handler.send_header("Location", resource.location)
        if tag:
            handler.send_header("ETag", tag)
        if status == 304:
            handler.end_headers()
            return
        handler.send_header("Content-Type", resource.content_type)
        if resource.content_length:
            handler.send_header("Content-Length", str(len(resource.body)))
        handler.end_headers()
        # The client may stop reading (the size limit): what a real server sees too.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler.wfile.write(resource.body)

    def __enter__(self) -> Site:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
