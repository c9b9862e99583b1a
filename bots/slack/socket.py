"""Socket Mode: run the Slack app from a laptop or behind a firewall, with no public URL."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from slack_bolt.adapter.socket_mode import SocketModeHandler

from bots.slack.app import SlackNotConfigured, build_slack_app

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.service import AnswerService

log = logging.getLogger(__name__)


def socket_mode_handler(service: AnswerService, settings: Settings) -> SocketModeHandler:
    """The handler `run_socket_mode` starts; separate so a caller (or test) can build it without connecting.

    Socket Mode needs an app-level token (`xapp-...`, scope `connections:write`); Slack signs nothing on a
    WebSocket, so no signing secret is needed. `apps.connections.open` goes to `settings.slack.api_url`.
    """
    if not settings.slack.app_token:
        raise SlackNotConfigured(
            "Socket Mode needs an app-level token: set PMA_SLACK__APP_TOKEN (xapp-..., connections:write)."
        )
    app = build_slack_app(service, settings)
    return SocketModeHandler(app, app_token=settings.slack.app_token)


def run_socket_mode(service: AnswerService, settings: Settings) -> None:
    """Connect to Slack over a WebSocket and serve until interrupted (Ctrl+C closes the connection)."""
    handler = socket_mode_handler(service, settings)
    log.info("connecting to Slack in Socket Mode")
    try:
        handler.start()
    except KeyboardInterrupt:
        log.info("Socket Mode stopped")
    finally:
        handler.close()
