"""What every Slack listener needs from the rest of the project, bundled so listeners stay plain functions.

Bolt injects request data into listener arguments by name and deep-copies its context for lazy listeners,
so the (large, shared) answer service cannot travel in the context; listeners get this bundle bound as
their first argument instead (see `listeners/*/register`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.service import AnswerService


@dataclass(frozen=True)
class SlackDeps:
    """The one answer service and the settings, shared by every listener of one Bolt app."""

    service: AnswerService
    settings: Settings

    @property
    def command(self) -> str:
        """The slash command users type (default `/askpm`), quoted in help text and the App Home."""
        return self.settings.slack.command
