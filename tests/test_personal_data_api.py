"""Issue 11 rows 1 and 2 through the real HTTP API: a question with a patient identifier in an unusual
spelling is refused (200, grounded false, `personal_data`, no message id), and nothing of it reaches
the app database, the logs or the metrics."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from assistant.service import AnswerService
from bots.api import create_app

ROTA_DOC = """---
title: Quillfield surgery rota policy
topic: workforce
---
The Quillfield surgery rota policy was adopted on 4 March 2024. Under the Quillfield rota policy,
reception staff rotate between the front desk and the telephone queue every two hours.
"""


def every_stored_value(url: str) -> str:
    """Every row of every table of the app database, as one string to search."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            parts = []
            for table in sa.inspect(engine).get_table_names():
                parts.extend(repr(tuple(row)) for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')))
        return "\n".join(parts)
    finally:
        engine.dispose()


@pytest.fixture
def service(service_factory: Callable[..., AnswerService]) -> AnswerService:
    return service_factory([("rota.md", ROTA_DOC)])


@pytest.mark.parametrize(
    ("question", "secrets", "kinds"),
    [
        ("Can patient 943.476.5919 swap to the Quillfield rota?", ["943.476.5919"], ["NHS number"]),
        ("Is 9434\u00a0765\u00a0919 on the Quillfield rota?", ["9434\u00a0765\u00a0919"], ["NHS number"]),
        (
            "Mrs Jane Patient DOB 1975-03-04 lives at SW1A 1AA, is she on the Quillfield rota?",
            ["Jane Patient", "1975-03-04", "SW1A 1AA"],
            ["name", "date of birth", "postcode"],
        ),
    ],
)
def test_identifiable_question_is_refused_and_kept_nowhere(
    service: AnswerService,
    caplog: pytest.LogCaptureFixture,
    question: str,
    secrets: list[str],
    kinds: list[str],
) -> None:
    client = TestClient(create_app(service, service.settings))
    # A grounded turn first, so the database has rows to search and a conversation to continue.
    first = client.post("/v1/ask", json={"question": "How often do reception staff rotate?"}).json()
    assert first["message_id"]
    caplog.set_level(logging.DEBUG)

    response = client.post(
        "/v1/ask", json={"question": question, "conversation_id": first["conversation_id"]}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["grounded"] is False
    assert body["personal_data"] == kinds
    assert body["message_id"] is None
    assert body["sources"] == []
    stored = every_stored_value(service.settings.app_database_url)
    assert "rotate" in stored  # the search below looks at real rows
    metrics = client.get("/metrics").text
    assert 'pma_answers_total{outcome="personal_data"} 1.0' in metrics
    for secret in secrets:
        digits = re.sub(r"\D", "", secret)
        for haystack in (stored, caplog.text, metrics, body["answer"]):
            assert secret not in haystack
            if len(digits) == 10:
                assert digits not in re.sub(r"\D", "", haystack)
    turns = client.get(f"/v1/conversations/{first['conversation_id']}").json()
    assert len(turns["turns"]) == 1


def test_lesser_personal_data_is_redacted_before_it_is_stored(service: AnswerService) -> None:
    client = TestClient(create_app(service, service.settings))
    body = client.post(
        "/v1/ask", json={"question": "How often do reception staff at SW1A\u00a01AA rotate?"}
    ).json()
    assert body["message_id"]
    assert body["personal_data"] == []
    stored = every_stored_value(service.settings.app_database_url)
    assert "[postcode]" in stored
    assert "SW1A" not in stored
