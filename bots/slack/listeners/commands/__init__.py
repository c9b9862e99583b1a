"""Slash command listener (`/askpm` by default, `PMA_SLACK__COMMAND`)."""

from __future__ import annotations

from functools import partial

from slack_bolt import App

from bots.slack import handlers
from bots.slack.deps import SlackDeps


def register(app: App, deps: SlackDeps) -> None:
    """`ack_command` answers Slack within its 3 seconds; the answer follows through `response_url`."""
    app.command(deps.command)(
        ack=partial(handlers.ack_command, deps), lazy=[partial(handlers.answer_command, deps)]
    )
