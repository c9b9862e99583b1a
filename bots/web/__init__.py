"""The static web chat (no build step): HTML, JS and CSS served as they are by the API app."""

from pathlib import Path

STATIC_DIR: Path = Path(__file__).resolve().parent / "static"
"""Where index.html, app.js and style.css live; shipped as package data."""

__all__ = ["STATIC_DIR"]
