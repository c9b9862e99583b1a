"""Slack front door: mentions, DMs, threads, the `/askpm` command, feedback buttons and the App Home.

`build_slack_app` builds the Bolt app; `bots.slack.http.slack_router` mounts it on the API at
`/slack/events` (HTTP mode) and `bots.slack.socket.run_socket_mode` runs it over Socket Mode.
"""

from bots.slack.app import SlackNotConfigured, build_slack_app

__all__ = ["SlackNotConfigured", "build_slack_app"]
