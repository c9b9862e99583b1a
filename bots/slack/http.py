"""HTTP mode: Slack's Events API, slash command and interactivity requests, mounted on the API."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool

from bots.api.errors import error_body
from bots.slack.app import SlackNotConfigured, build_slack_app

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.service import AnswerService

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"


def slack_router(service: AnswerService, settings: Settings) -> APIRouter:
    """`POST /slack/events` and `POST /slack/interactions` (the same handler: Bolt routes by payload).

    The signature and timestamp are checked here first (401), then the body's shape (400), so nothing
    unsigned or malformed reaches Bolt, whose parsers raise (a 500) on bodies Slack would never send.
    Bolt checks the signature again. `App.dispatch` is synchronous (it waits up to 3 s for a slash
    command's `ack`), so it runs in the thread pool; answers run after the response, as lazy listeners.
    """
    if not settings.slack.signing_secret:
        raise SlackNotConfigured("Slack HTTP mode needs PMA_SLACK__SIGNING_SECRET as well as a bot token.")
    bolt_app = build_slack_app(service, settings)
    verifier = SignatureVerifier(settings.slack.signing_secret)

    async def slack_endpoint(request: Request) -> Response:
        body = await request.body()
        status, problem = _refusal(verifier, request, body)
        if problem:
            return JSONResponse(error_body(request.scope, problem), status_code=status)
        bolt_response = await run_in_threadpool(bolt_app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)

    router = APIRouter(prefix="/slack", tags=["slack"], include_in_schema=False)
    router.add_api_route("/events", slack_endpoint, methods=["POST"], name="slack_events")
    router.add_api_route("/interactions", slack_endpoint, methods=["POST"], name="slack_interactions")
    return router


def _refusal(verifier: SignatureVerifier, request: Request, body: bytes) -> tuple[int, str | None]:
    """(status, reason) for a request that must not reach Bolt, or (200, None)."""
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    if not timestamp.isdigit() or not signature:
        return 401, "Slack requests need X-Slack-Request-Timestamp (seconds) and X-Slack-Signature."
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return 400, "Slack request bodies are UTF-8."
    if not verifier.is_valid(text, timestamp, signature):
        return 401, "Invalid or expired Slack signature."
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if media_type == JSON_TYPE:
            if not isinstance(json.loads(text), dict):
                return 400, "A Slack event body is a JSON object."
        elif media_type == FORM_TYPE:
            fields = parse_qs(text, strict_parsing=True)
            if "payload" in fields and not isinstance(json.loads(fields["payload"][0]), dict):
                return 400, "A Slack interaction payload is a JSON object."
            if "payload" not in fields and "command" not in fields:
                return 400, "A Slack form body carries a slash command or an interaction payload."
        else:
            return 400, f"Slack sends {JSON_TYPE} or {FORM_TYPE}, not {media_type or 'no content type'}."
    except ValueError:
        return 400, "The Slack request body could not be parsed."
    return 200, None
