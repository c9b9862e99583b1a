"""HTTP front door: a FastAPI app that translates HTTP to `AnswerService` calls and serves the web chat."""

from bots.api.app import create_app

__all__ = ["create_app"]
