"""Block Kit button listeners: 👍/👎 feedback and "Share in channel"."""

from __future__ import annotations

from functools import partial

from slack_bolt import App

from bots.slack import handlers
from bots.slack.blocks import ACTION_FEEDBACK_DOWN, ACTION_FEEDBACK_UP, ACTION_SHARE
from bots.slack.deps import SlackDeps


def register(app: App, deps: SlackDeps) -> None:
    """Clicks are acknowledged at once; storing feedback and sharing run afterwards as lazy listeners."""
    for action_id in (ACTION_FEEDBACK_UP, ACTION_FEEDBACK_DOWN):
        app.action(action_id)(ack=handlers.ack_action, lazy=[partial(handlers.record_feedback, deps)])
    app.action(ACTION_SHARE)(ack=handlers.ack_action, lazy=[partial(handlers.share_answer, deps)])
