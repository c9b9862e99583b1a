"""Events API listeners: @mentions, direct messages and the App Home tab."""

from __future__ import annotations

from functools import partial

from slack_bolt import App

from bots.slack import handlers
from bots.slack.deps import SlackDeps


def register(app: App, deps: SlackDeps) -> None:
    """Answers run as lazy listeners: Bolt acknowledges the event first, then answers in a worker thread.

    Registered last, the catch-alls acknowledge every other message or mention (edits, deletions, bots'
    messages) with a 200: without them Bolt would answer 404 and Slack would keep retrying.
    """
    app.event("app_mention", matchers=[handlers.is_from_a_person])(
        ack=handlers.ack_event, lazy=[partial(handlers.answer_mention, deps)]
    )
    app.event({"type": "message", "subtype": None}, matchers=[handlers.is_direct_message])(
        ack=handlers.ack_event, lazy=[partial(handlers.answer_direct_message, deps)]
    )
    app.event("app_home_opened")(ack=handlers.ack_event, lazy=[partial(handlers.publish_home, deps)])
    for kind in ("app_mention", "message"):
        app.event(kind)(partial(handlers.ignore_event, deps))
