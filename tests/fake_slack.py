"""A fake Slack Web API on 127.0.0.1 for tests: records every call and answers like Slack does.

Slack itself is unreachable from tests, so the app under test is pointed at this server
(`PMA_SLACK__API_URL` / `settings.slack.api_url`), as bolt-python's own tests do with their mock Web API
server. Besides Web API methods (`/api/<method>`) it accepts `response_url` posts (`/response/<name>`).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

BOT_USER_ID = "UBOT00001"
BOT_ID = "BBOT00001"
TEAM_ID = "T0FAKE001"


@dataclass
class Call:
    """One request the app made: `method` is the Web API method (e.g. `chat.postMessage`) or `response`."""

    method: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    reply: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    status: int = 200

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default)

    @property
    def blocks(self) -> list[dict[str, Any]]:
        """Blocks as sent (slack_sdk may send them JSON-encoded inside a form field)."""
        blocks = self.body.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else blocks


class FakeSlack:
    """Start with `with FakeSlack() as slack:`; `slack.api_url` is the Web API base URL to configure."""

    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._changed = threading.Condition()
        self._ts = itertools.count(1)
        self._failures: list[tuple[str, dict[str, Any]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                fake._handle(self)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-slack", daemon=True)

    # --- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self, name: str) -> str:
        """A `response_url` for a slash command or button payload; posts to it are recorded as `response`."""
        return f"{self.base_url}/response/{name}"

    def fail(self, method: str, times: int = 1, **match: Any) -> None:
        """Answer the next `times` calls of `method` (with body fields equal to `match`) as Slack does
        during an outage: HTTP 503 with `{"ok": false, "error": "service_unavailable"}`."""
        with self._changed:
            self._failures.extend([(method, match)] * times)

    def _take_failure(self, call: Call) -> bool:
        with self._changed:
            for i, (method, match) in enumerate(self._failures):
                if call.method == method and all(call.body.get(k) == v for k, v in match.items()):
                    del self._failures[i]
                    return True
        return False

    # --- inspection ------------------------------------------------------------------------------

    def calls(self, method: str | None = None, **match: Any) -> list[Call]:
        """Recorded calls, optionally of one method and with body fields equal to `match`."""
        with self._changed:
            calls = list(self._calls)
        return [
            c
            for c in calls
            if (method is None or c.method == method) and all(c.body.get(k) == v for k, v in match.items())
        ]

    def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 10.0,
        where: Callable[[Call], bool] | None = None,
        **match: Any,
    ) -> list[Call]:
        """Block until at least `count` matching calls arrived (or fail after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self.calls(method, **match) if where is None or where(c)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(c.method, c.path) for c in self._calls]
                    raise AssertionError(f"expected {count} {method} call(s) matching {match}; saw {seen}")
                self._changed.wait(remaining)

    def assert_stays(
        self,
        method: str,
        count: int,
        seconds: float = 1.0,
        where: Callable[[Call], bool] | None = None,
        **match: Any,
    ) -> None:
        """Fail as soon as more than `count` matching calls arrive within `seconds`.

        Proving that something does *not* happen (a second answer to a retried event) needs a bounded
        watch; it returns early with a failure the moment an extra call shows up.
        """
        deadline = time.monotonic() + seconds
        with self._changed:
            while True:
                found = [c for c in self.calls(method, **match) if where is None or where(c)]
                if len(found) > count:
                    raise AssertionError(
                        f"expected {count} {method} call(s) matching {match}; got {len(found)}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._changed.wait(remaining)

    # --- serving ---------------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parsed = urlparse(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length).decode("utf-8") if length else ""
        body = _parse_body(raw, request.headers.get("Content-Type", ""), parsed.query)
        if parsed.path.startswith("/api/"):
            method = parsed.path.removeprefix("/api/")
        elif parsed.path.startswith("/response/"):
            method = "response"
        else:
            method = parsed.path
        call = Call(method=method, path=parsed.path, body=body, headers=dict(request.headers.items()))
        if self._take_failure(call):
            call.status, call.reply = 503, {"ok": False, "error": "service_unavailable"}
        else:
            call.reply = self._reply(call)
        reply = call.reply
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()
        payload = json.dumps(reply).encode("utf-8")
        request.send_response(call.status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _reply(self, call: Call) -> dict[str, Any]:
        b = call.body
        if call.method == "auth.test":
            return {
                "ok": True,
                "url": "https://fake-workspace.slack.com/",
                "team": "Fake Practice",
                "user": "pm-assistant",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if call.method == "chat.postMessage":
            ts = self._next_ts()
            message = {"type": "message", "text": b.get("text", ""), "ts": ts, "bot_id": BOT_ID}
            if b.get("thread_ts"):
                message["thread_ts"] = b["thread_ts"]
            return {"ok": True, "channel": b.get("channel"), "ts": ts, "message": message}
        if call.method == "chat.update":
            return {"ok": True, "channel": b.get("channel"), "ts": b.get("ts"), "text": b.get("text", "")}
        if call.method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if call.method == "chat.delete":
            return {"ok": True, "channel": b.get("channel"), "ts": b.get("ts")}
        if call.method == "views.publish":
            view = b.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            return {"ok": True, "view": {"id": "VFAKE0001", **(view or {})}}
        if call.method == "response":
            return {"ok": True}
        return {"ok": False, "error": "unknown_method"}


def _parse_body(raw: str, content_type: str, query: str) -> dict[str, Any]:
    if raw and ("json" in content_type or raw.lstrip().startswith("{")):
        return json.loads(raw)
    text = raw or query
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
