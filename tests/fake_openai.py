"""A fake OpenAI-compatible chat endpoint on 127.0.0.1: real HTTP, scripted replies, a request log.

Language model endpoints are unreachable from tests, so the service is pointed at this server
(`settings.llm.base_url`). It speaks `/v1/chat/completions` (plain JSON, and Server-Sent Events when the
request says `"stream": true`, with the usage chunk `stream_options.include_usage` asks for) and
`/v1/models`. Replies come from a script (`fake.script(Reply(...), ...)`) or, when it runs out, from
`fake.default`; every request body is kept in `fake.requests`, which is what privacy and prompt tests
assert on: exactly what crossed the wire.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    delay_s: float = 0.0  # before the response starts (a slow or hung model)
    token_delay_s: float = 0.0  # between streamed tokens


@dataclass
class Request:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def wire_text(self) -> str:
        """Everything the request carried, as one string."""
        return json.dumps(self.body, ensure_ascii=False)


def tokens(text: str) -> list[str]:
    """Word-sized pieces with their following space, as models stream them."""
    pieces: list[str] = []
    for word in text.split(" "):
        pieces.append(word if not pieces else " " + word)
    return pieces


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._script: deque[Reply] = deque()
        self.default: Callable[[Request], Reply] = lambda _request: Reply("NOT_IN_PASSAGES")
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as real servers do; else each JSON reply stalls 40 ms

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openai", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def script(self, *replies: Reply | str) -> None:
        with self._lock:
            self._script.clear()
            self._script.extend(Reply(r) if isinstance(r, str) else r for r in replies)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script.clear()
        self.default = lambda _request: Reply("NOT_IN_PASSAGES")

    @property
    def chat_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # --- serving ---------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else {}
        request = Request(handler.path, body, {k.lower(): v for k, v in handler.headers.items()})
        if handler.path.rstrip("/").endswith("/models"):
            self._json(handler, 200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
            return
        with self._lock:
            self.requests.append(request)
            reply = self._script.popleft() if self._script else None
        reply = reply or self.default(request)
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.status != 200:
            error = {"error": {"message": f"scripted failure {reply.status}", "type": "server_error"}}
            self._json(handler, reply.status, error, {"retry-after-ms": "5"})
            return
        if body.get("stream"):
            self._stream(handler, reply, bool((body.get("stream_options") or {}).get("include_usage")))
        else:
            self._json(handler, 200, self._completion(body, reply.text))

    @staticmethod
    def _usage(text: str) -> dict[str, int]:
        completion = len(text.split())
        return {"prompt_tokens": 100, "completion_tokens": completion, "total_tokens": 100 + completion}

    def _completion(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": self._usage(text),
        }

    @staticmethod
    def _json(
        handler: BaseHTTPRequestHandler,
        status: int,
        payload: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(data)

    def _stream(self, handler: BaseHTTPRequestHandler, reply: Reply, include_usage: bool) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Connection", "close")
        handler.end_headers()

        def chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> None:
            payload: dict[str, Any] = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": "fake-model",
                "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if usage:
                payload["usage"] = usage
            handler.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
            handler.wfile.flush()

        try:
            chunk({"role": "assistant", "content": ""})
            for piece in tokens(reply.text):
                if reply.token_delay_s:
                    time.sleep(reply.token_delay_s)
                chunk({"content": piece})
            chunk({}, finish="stop")
            if include_usage:
                chunk({}, usage=self._usage(reply.text))
            handler.wfile.write(b"data: [DONE]\n\n")
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        handler.close_connection = True
