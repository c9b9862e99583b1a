"""`pm-assistant ask` in real subprocesses over a data dir holding the ingested shipped corpus.

Each subprocess loads the model (about 10 s), so there are exactly two: one batch run and one single
question. The data dir is a copy of the session corpus index (taken while nothing writes to it), with
its own history database, so the CLI's conversations stay apart from the other tests'.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import child_env

from assistant.history import History
from assistant.service import AnswerService
from assistant.types import Answer

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "pm-assistant"
TIMEOUT_S = 600

SOURCE_KEYS = {"title", "source", "section", "url", "published", "score", "text"}
REQUIRED_KEYS = {"id", "answer", "grounded", "composer", "sources", "retrieved", "notes", "timings_ms"}
OPTIONAL_KEYS = {"conversation_id", "message_id"}
CONVERSATION = "cli-batch-conversation-1"

BATCH = [
    {"id": "icb", "question": "When did ICBs replace CCGs?"},
    {"id": 7, "question": "How much is the salary of an ICB chief executive?"},
    {
        "id": "ooa-1",
        "question": "What is the out-of-area registration scheme?",
        "conversation_id": CONVERSATION,
    },
    {"id": "ooa-2", "question": "And when did it start across England?", "conversation_id": CONVERSATION},
    {"id": "empty", "question": "   "},
]


@pytest.fixture(scope="module")
def cli_data_dir(corpus_service: AnswerService, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus index, copied: the Chroma files and the index cache, not the history database."""
    corpus_service.warm_up()  # the index cache is on disk before the copy
    target = tmp_path_factory.mktemp("cli") / "data"
    shutil.copytree(
        corpus_service.settings.data_dir,
        target,
        ignore=shutil.ignore_patterns("app.sqlite3*"),
    )
    return target


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = child_env()
    env["PMA_RETRIEVAL__GLOSSARY_PATH"] = str(ROOT / "corpus" / "glossary.yml")
    result = subprocess.run(
        [str(CLI), "ask", *args, "--data-dir", str(data_dir)],
        cwd=data_dir.parent,  # no stray .env or relative paths from the repository
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def check_answer_shape(line: dict[str, Any]) -> None:
    """The schema of one answer (batch line or single `--json` object), types included."""
    assert isinstance(line["answer"], str)
    assert line["answer"]
    assert isinstance(line["grounded"], bool)
    assert isinstance(line["notes"], list)
    assert all(isinstance(n, str) for n in line["notes"])
    assert isinstance(line["timings_ms"], dict)
    assert "total" in line["timings_ms"]
    assert all(isinstance(v, int | float) for v in line["timings_ms"].values())
    assert line["composer"] in {"extractive", "approved", "llm"}
    for passage in line["retrieved"]:
        assert {"source", "title", "section", "score", "text", "features"} <= set(passage)
    assert isinstance(line["sources"], list)
    for source in line["sources"]:
        assert set(source) == SOURCE_KEYS
        for key in ("title", "source", "section", "text"):
            assert isinstance(source[key], str)
        assert source["url"] is None or isinstance(source["url"], str)
        assert source["published"] is None or isinstance(source["published"], str)
        assert isinstance(source["score"], float)
    # Round-trips into the service's own type.
    Answer.model_validate({**line, "sources": [{"n": i, **s} for i, s in enumerate(line["sources"], 1)]})


def test_batch_writes_one_json_line_per_question(cli_data_dir: Path, tmp_path: Path) -> None:
    batch = tmp_path / "questions.jsonl"
    batch.write_text("".join(json.dumps(item) + "\n" for item in BATCH), encoding="utf-8")

    result = run_cli("--batch", str(batch), "--json", data_dir=cli_data_dir)

    out_lines = result.stdout.splitlines()
    assert len(out_lines) == len(BATCH), result.stdout
    lines = [json.loads(text) for text in out_lines]
    assert [line["id"] for line in lines] == [item["id"] for item in BATCH], "order and ids kept"

    answers, error = lines[:-1], lines[-1]
    for line in answers:
        assert REQUIRED_KEYS <= set(line) <= REQUIRED_KEYS | OPTIONAL_KEYS, sorted(line)
        check_answer_shape(line)

    icb, refused, ooa1, ooa2 = answers
    assert icb["grounded"] is True
    assert "1 July 2022" in icb["answer"]
    assert icb["sources"]
    assert any("integrated-care-boards.md" in n for n in icb["notes"]), "the CCG note's successor is named"
    assert refused["grounded"] is False
    # Declined: a refusal cites nothing; a partial answer cites what the guidance does say.
    assert refused["answer"].startswith("The guidance doesn't give that.") or refused["sources"] == []

    # Lines naming a conversation id share it: the follow-up resolves against the previous line.
    assert ooa1["conversation_id"] == ooa2["conversation_id"] == CONVERSATION
    assert icb["conversation_id"] != CONVERSATION
    assert ooa2["grounded"] is True
    assert "5 January 2015" in ooa2["answer"]
    conversation = History(f"sqlite:///{cli_data_dir / 'app.sqlite3'}").conversation(CONVERSATION)
    assert conversation is not None
    assert [t.question for t in conversation.turns] == [BATCH[2]["question"], BATCH[3]["question"]]
    assert [t.message_id for t in conversation.turns] == [ooa1["message_id"], ooa2["message_id"]]

    # A question the service will not take is reported on its own line; the batch goes on.
    assert set(error) == {"id", "error"}
    assert "empty" in error["error"]


def test_single_question_prints_one_json_object(cli_data_dir: Path) -> None:
    result = run_cli("When did ICBs replace CCGs?", "--json", data_dir=cli_data_dir)

    assert len(result.stdout.strip().splitlines()) == 1, result.stdout
    body = json.loads(result.stdout)
    assert isinstance(body, dict)
    assert REQUIRED_KEYS - {"id"} <= set(body)
    assert set(body) <= REQUIRED_KEYS - {"id"} | OPTIONAL_KEYS
    check_answer_shape(body)
    assert body["grounded"] is True
    assert "1 July 2022" in body["answer"]
    assert "[1]" in body["answer"]
    assert body["conversation_id"]
