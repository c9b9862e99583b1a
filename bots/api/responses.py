"""The error responses every route can give, declared in the OpenAPI document as they are sent.

Every error is `{"detail", "request_id"}` (bots/api/errors.py), whether a route, a dependency or one of
the gates in front of the routes (auth, body size, failed-auth limit) wrote it. FastAPI documents only
what a route itself declares, plus a 422 whose `detail` is always a list; our 422s from the service
(`QuestionError`, a bad approved answer, an empty upload) carry a sentence. Clients generated from the
schema, and the schema fuzz test, would otherwise meet undocumented 401/413/429s and 422 bodies that
contradict their declared shape.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ValidationIssue(BaseModel):
    """One invalid field, without the input itself (`errors._clean_errors`)."""

    type: str | None
    loc: list[str | int]
    msg: str
    ctx: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    """What every error response carries: a sentence (or, for invalid fields, a list of them) and the id
    also sent as `X-Request-ID`, to find the request in the server's log."""

    detail: str | list[ValidationIssue]
    request_id: str


def error(description: str) -> dict[str, Any]:
    """One documented error response with the shared body."""
    return {"model": ErrorBody, "description": description}


GATE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: error("Missing or wrong credentials (X-API-Key, or the admin bearer token)"),
    413: error("The request body is larger than PMA_API__MAX_BODY_KB (uploads: PMA_API__MAX_UPLOAD_MB)"),
    422: error("Invalid request: `detail` lists the fields, or says what the service refused"),
    429: error("Too many requests, or too many failed credentials, from this client; see Retry-After"),
}
"""For every router behind the auth gate: what the gates and the shared handlers can answer."""
