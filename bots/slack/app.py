"""Build the Bolt app every Slack mode shares (HTTP on the API, or Socket Mode on a laptop)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_sdk import WebClient

from bots.slack.deps import SlackDeps
from bots.slack.listeners import register_listeners
from bots.slack.middleware import EventDeduplication

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.service import AnswerService

log = logging.getLogger(__name__)


class SlackNotConfigured(RuntimeError):
    """A Slack mode was started without the credentials it needs; the message names the variable."""


def build_slack_app(service: AnswerService, settings: Settings) -> App:
    """A Bolt `App` answering mentions, DMs, the slash command, buttons and the App Home from `service`.

    The Web API client points at `settings.slack.api_url` so a test server can stand in for Slack. Token
    verification (`auth.test`) is deferred to the first request, so an unreachable Slack never stops the
    API from starting; Bolt caches the result afterwards.
    """
    slack = settings.slack
    if not slack.bot_token:
        raise SlackNotConfigured("Slack needs a bot token: set PMA_SLACK__BOT_TOKEN (xoxb-...).")
    app = App(
        name="pm-assistant",
        client=WebClient(token=slack.bot_token, base_url=slack.api_url),
        signing_secret=slack.signing_secret or "",
        token_verification_enabled=False,
    )
    app.use(EventDeduplication(service, slack.claim_lease_s))
    app.error(_log_error)
    register_listeners(app, SlackDeps(service=service, settings=settings))
    return app


def _log_error(error: Exception, body: dict[str, Any]) -> None:
    """Listener failures are logged with the request type and the exception's type only: a traceback's
    messages can quote the question. Bolt has already answered Slack."""
    log.error("Slack listener failed on a %s request: %s", body.get("type"), type(error).__name__)
