"""HTTP mode: Slack's Events API, slash command and interactivity requests, mounted on the API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.concurrency import run_in_threadpool

from bots.slack.app import SlackNotConfigured, build_slack_app

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.service import AnswerService


def slack_router(service: AnswerService, settings: Settings) -> APIRouter:
    """`POST /slack/events` and `POST /slack/interactions` (the same handler: Bolt routes by payload).

    Bolt verifies the `X-Slack-Signature` HMAC and timestamp (401 when bad or older than five minutes).
    `App.dispatch` is synchronous (it waits up to 3 s for a slash command's `ack`), so it runs in the
    thread pool rather than on the API's event loop; answers run after the response, as lazy listeners.
    """
    if not settings.slack.signing_secret:
        raise SlackNotConfigured("Slack HTTP mode needs PMA_SLACK__SIGNING_SECRET as well as a bot token.")
    bolt_app = build_slack_app(service, settings)

    async def slack_endpoint(request: Request) -> Response:
        body = await request.body()
        bolt_response = await run_in_threadpool(bolt_app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)

    router = APIRouter(prefix="/slack", tags=["slack"], include_in_schema=False)
    router.add_api_route("/events", slack_endpoint, methods=["POST"], name="slack_events")
    router.add_api_route("/interactions", slack_endpoint, methods=["POST"], name="slack_interactions")
    return router
