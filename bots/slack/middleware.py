"""Global Bolt middleware: drop Events API deliveries that were already handled.

Slack resends an event it thinks timed out (header `X-Slack-Retry-Num`). Claiming the event id in the app
database (an INSERT into a unique-keyed table) before any listener runs means a resend never produces a
second answer, even when it lands on another API process or after a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

if TYPE_CHECKING:
    from assistant.service import AnswerService

log = logging.getLogger(__name__)


def event_key(event_id: str) -> str:
    """The key claimed for an event: namespaced so other front doors can claim their own ids safely."""
    return f"slack:{event_id}"


class EventDeduplication(Middleware):
    """Acknowledge (200) and stop on an event id that has been claimed before; claim it otherwise."""

    def __init__(self, service: AnswerService) -> None:
        self.service = service

    def process(
        self,
        *,
        req: BoltRequest,
        resp: BoltResponse,  # noqa: ARG002 (Bolt passes it by name)
        next: Callable[[], BoltResponse],
    ) -> BoltResponse | None:
        body = req.body if isinstance(req.body, dict) else {}
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not self.service.claim_event(event_key(str(event_id))):
            retry = req.headers.get("x-slack-retry-num", ["?"])[0]
            log.info("ignoring Slack event %s: already handled (retry %s)", event_id, retry)
            return BoltResponse(status=200, body="")
        return next()
