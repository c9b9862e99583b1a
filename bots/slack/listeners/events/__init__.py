"""Events API listeners: @mentions, direct messages and the App Home tab."""

from __future__ import annotations

from functools import partial

from slack_bolt import App

from bots.slack import handlers
from bots.slack.deps import SlackDeps


def register(app: App, deps: SlackDeps) -> None:
    """Answers run as lazy listeners: Bolt acknowledges the event first, then answers in a worker thread."""
    app.event("app_mention")(ack=handlers.ack_event, lazy=[partial(handlers.answer_mention, deps)])
    app.event({"type": "message", "subtype": None}, matchers=[handlers.is_direct_message])(
        ack=handlers.ack_event, lazy=[partial(handlers.answer_direct_message, deps)]
    )
    app.event("app_home_opened")(ack=handlers.ack_event, lazy=[partial(handlers.publish_home, deps)])
