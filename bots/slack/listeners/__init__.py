"""Listener registration, kept apart from the callback functions (bolt-python starter template layout)."""

from __future__ import annotations

from slack_bolt import App

from bots.slack.deps import SlackDeps
from bots.slack.listeners import actions, commands, events


def register_listeners(app: App, deps: SlackDeps) -> None:
    """Attach every listener to `app`; each group's `register` wires matchers to `bots.slack.handlers`."""
    actions.register(app, deps)
    commands.register(app, deps)
    events.register(app, deps)
