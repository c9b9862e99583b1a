"""Global Bolt middleware: every Slack request is acted on once.

Events API deliveries: Slack resends an event it thinks timed out or failed (header `X-Slack-Retry-Num`).
The event id is claimed in the app database before any listener runs, and the claim is marked done only
once the answer went out (`settled_claim`). A resend of a done event is acknowledged and dropped, even on
another API process; a resend after a failed answer (Slack's API down, say) finds the claim released and
is answered; a claim left by a worker that died is taken over once older than `PMA_SLACK__CLAIM_LEASE_S`.

Slash commands and button clicks carry no id, and Slack never resends them, so the same signature and
timestamp arriving twice is a replay of a captured request: remembered (for a day, far longer than the
five minutes a signature is valid) and ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

if TYPE_CHECKING:
    from assistant.service import AnswerService

log = logging.getLogger(__name__)


def event_key(event_id: str) -> str:
    """The key claimed for an event: namespaced so other front doors can claim their own ids safely."""
    return f"slack:{event_id}"


def signature_key(timestamp: str, signature: str) -> str:
    return f"slack-sig:{timestamp}:{signature}"[:200]


class EventDeduplication(Middleware):
    """Acknowledge (200) and stop on an already-claimed event or a replayed command or click."""

    def __init__(self, service: AnswerService, lease_s: float) -> None:
        self.service = service
        self.lease_s = lease_s

    def process(
        self,
        *,
        req: BoltRequest,
        resp: BoltResponse,  # noqa: ARG002 (Bolt passes it by name)
        next: Callable[[], BoltResponse],
    ) -> BoltResponse | None:
        body = req.body if isinstance(req.body, dict) else {}
        if body.get("type") == "event_callback":
            event_id = body.get("event_id")
            if event_id and not self.service.claim_event(event_key(str(event_id)), self.lease_s):
                retry = req.headers.get("x-slack-retry-num", ["?"])[0]
                log.info("ignoring Slack event %s: already handled or in hand (retry %s)", event_id, retry)
                return BoltResponse(status=200, body="")
        elif "command" in body or "payload" in body or body.get("type") in _INTERACTIONS:
            timestamp = req.headers.get("x-slack-request-timestamp", [""])[0]
            signature = req.headers.get("x-slack-signature", [""])[0]
            if not self.service.claim_event(signature_key(timestamp, signature), done=True):
                log.warning(
                    "ignoring a replayed Slack %s request", "command" if "command" in body else "action"
                )
                return BoltResponse(status=200, body="")
        return next()


_INTERACTIONS = frozenset({"block_actions", "view_submission", "view_closed", "shortcut", "message_action"})


@contextmanager
def settled_claim(service: AnswerService, body: dict[str, Any]) -> Iterator[None]:
    """Around a lazy event listener: done when it returns, released (for Slack's retry) when it raises."""
    event_id = body.get("event_id")
    key = event_key(str(event_id)) if event_id else None
    try:
        yield
    except Exception:
        if key:
            service.release_event(key)
        raise
    if key:
        service.finish_event(key)
