"""Generalisation check: unseen articles ingested next to the corpus must answer as well as the corpus.

The articles in tests/eval/unseen/ cover practice-management topics the corpus does not (CQC, QOF,
complaints, information governance, appraisals, business continuity, PPGs, premises costs). They are
stored the way real uploads arrive, without front matter: four saved web pages as .txt with page
furniture around the article, two .html pages with nav, footer and cookie banners around an
<article>, and two PDFs rendered at test time from tests/eval/unseen/pdf_src/ (so no binaries are
committed). Every article says it is a fictional example, so no answer key depends on outside facts.

The question set (tests/eval/unseen/questions.jsonl) has 20 answerable questions (facts and
paraphrases) and 10 unanswerable-but-close ones. The floors below sit about 0.05 under the figures
measured when the set was written; they guard the method, not single questions: tune retrieval,
cleaning or composition, never these articles or questions.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from conftest import CORPUS, make_settings
from fixtures_docs import make_pdf

from assistant.embeddings import Embedder
from assistant.evaluation import EvalReport, evaluate, load_questions
from assistant.service import AnswerService
from assistant.types import IngestReport
from ingest.indexer import IGNORE_FILE, Indexer

UNSEEN = Path(__file__).resolve().parent / "eval" / "unseen"
QUESTIONS = UNSEEN / "questions.jsonl"
UNSEEN_ROOT = "unseen/"  # sources of the unseen articles, relative to the ingest root

# Measured on the unseen set when the floors were set; floors sit 0.05 below (false refusals: above).
MEASURED = {
    "answer_accuracy": 1.0,
    "context_recall_at_4": 1.0,
    "refusal_accuracy": 0.80,
    "false_refusal_rate": 0.0,
}
FLOORS = {"answer_accuracy": 0.95, "context_recall_at_4": 0.95, "refusal_accuracy": 0.75}
MAX_FALSE_REFUSALS = 0.10

# Building the index embeds the whole corpus plus the unseen articles (several minutes here).
pytestmark = pytest.mark.timeout(3600)

# Lines of page furniture in the saved pages; none of them is article text, so none may be stored.
FURNITURE = [
    "skip to main content",
    "skip to content",
    "share this article",
    "share this page",
    "cookie",
    "sign up to our newsletter",
    "sign up for our newsletter",
    "subscribe to our newsletter",
    "enter your email",
    "follow us on",
    "outdated browser",
    "browser is out of date",
    "upgrade your browser",
    "print this page",
    "back to top",
    "was this page helpful",
    "all rights reserved",
    "home > guidance",
    "home > patient information",
    "home | news",
]

PDF_LINE_CHARS = 90  # what fits on an A4 line in 11 pt Helvetica
PDF_PAGE_LINES = 36


def render_pdf(source: Path, target: Path) -> Path:
    """Print a PDF source as a real document: wrapped lines, paragraphs kept whole across pages."""
    text = source.read_text(encoding="utf-8")
    title = text.strip().splitlines()[0]
    pages: list[list[str]] = [[]]
    for paragraph in text.strip().split("\n\n"):
        lines = [*textwrap.wrap(" ".join(paragraph.split()), PDF_LINE_CHARS), ""]
        if pages[-1] and len(pages[-1]) + len(lines) > PDF_PAGE_LINES:
            pages.append([])
        pages[-1].extend(lines)
    return make_pdf(target, ["\n".join(page).rstrip("\n") for page in pages], title=title)


@pytest.fixture(scope="module")
def generalisation(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> tuple[AnswerService, IngestReport]:
    """A fresh service over docs/corpus (the shipped corpus) and docs/unseen (the unseen articles)."""
    base = tmp_path_factory.mktemp("generalisation")
    docs = base / "docs"
    shutil.copytree(CORPUS, docs / "corpus")
    # The ignore file only counts at the ingest root, so the corpus's own one moves up with it.
    (docs / IGNORE_FILE).write_text((CORPUS / IGNORE_FILE).read_text(encoding="utf-8"), encoding="utf-8")
    unseen = docs / "unseen"
    unseen.mkdir()
    for path in sorted(UNSEEN.iterdir()):
        if path.is_file() and path.suffix in {".txt", ".html"}:
            shutil.copy(path, unseen / path.name)
    for source in sorted((UNSEEN / "pdf_src").glob("*.txt")):
        render_pdf(source, unseen / f"{source.stem}.pdf")
    settings = make_settings(base / "data")
    service = AnswerService(settings, embedder=embedder)
    report = Indexer(settings, service.store).run([docs])
    service.warm_up()
    return service, report


@pytest.fixture(scope="module")
def unseen_report(generalisation: tuple[AnswerService, IngestReport]) -> EvalReport:
    service, _ = generalisation
    report = evaluate(service, load_questions(QUESTIONS))
    print(f"\nunseen articles\n{report.text()}")
    return report


def _unseen_chunks(service: AnswerService) -> list[tuple[str, str]]:
    index = service.cache.current()
    return [
        (str(meta.get("source", "")), text)
        for text, meta in zip(index.texts, index.metadatas, strict=True)
        if str(meta.get("source", "")).startswith(UNSEEN_ROOT)
    ]


def test_floors_sit_under_the_measured_figures() -> None:
    for name, floor in FLOORS.items():
        assert floor <= MEASURED[name], name
    assert MEASURED["false_refusal_rate"] <= MAX_FALSE_REFUSALS


def test_question_set_shape() -> None:
    questions = load_questions(QUESTIONS)
    assert len(questions) == 30
    assert [q["id"] for q in questions] == [f"unseen-{n:03d}" for n in range(1, 31)]
    answerable = [q for q in questions if q["kind"] != "unanswerable"]
    assert len(answerable) == 20
    assert all(1 <= len(q["answer_keys"]) <= 2 for q in answerable)
    assert all(not q["answer_keys"] for q in questions if q["kind"] == "unanswerable")
    assert {q["kind"] for q in answerable} == {"fact", "paraphrase"}


def test_unseen_articles_ingest_without_failures(generalisation: tuple[AnswerService, IngestReport]) -> None:
    service, report = generalisation
    assert report.failed == [], report.failed
    documents = {d.source: d for d in service.documents() if d.source.startswith(UNSEEN_ROOT)}
    expected = {f"{UNSEEN_ROOT}{p.name}" for p in UNSEEN.iterdir() if p.suffix in {".txt", ".html"}}
    expected |= {f"{UNSEEN_ROOT}{p.stem}.pdf" for p in (UNSEEN / "pdf_src").glob("*.txt")}
    assert set(documents) == expected
    assert all(d.chunks >= 2 for d in documents.values()), {s: d.chunks for s, d in documents.items()}
    print("\nunseen titles:", json.dumps({s: d.title for s, d in sorted(documents.items())}, indent=1))


def test_no_page_furniture_in_unseen_chunks(generalisation: tuple[AnswerService, IngestReport]) -> None:
    service, _ = generalisation
    chunks = _unseen_chunks(service)
    assert chunks
    found = [
        (source, phrase)
        for source, text in chunks
        for phrase in FURNITURE
        if phrase in " ".join(text.split()).lower()
    ]
    assert found == []


def test_unseen_quality_floors(unseen_report: EvalReport) -> None:
    report = unseen_report
    assert report.answerable == 20
    assert report.unanswerable == 10
    failures = report.shortfalls(FLOORS, MAX_FALSE_REFUSALS)
    assert not failures, "; ".join(failures)
