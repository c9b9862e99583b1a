"""`AnswerService`: the only thing the front doors (HTTP, web, Slack, CLI) talk to."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Literal

from assistant import safety
from assistant.answer_type import question_parts
from assistant.approved import ApprovedAnswers
from assistant.catalogue import CatalogueEntry, build_catalogue
from assistant.compose import ExtractiveComposer
from assistant.config import Settings
from assistant.embeddings import Embedder, get_embedder
from assistant.gaps import GapGroup, group_gaps
from assistant.glossary import Glossary
from assistant.history import History
from assistant.index_cache import IndexCache
from assistant.retrieval import HybridSearch, RetrievalResult
from assistant.store import ChunkStore, open_store
from assistant.types import (
    Answer,
    Conversation,
    DocumentInfo,
    FeedbackRecord,
    Filters,
    IngestReport,
    QuestionError,
    Source,
    StreamEvent,
    UnansweredQuestion,
)

# Short questions that lean on the previous turn ("and when did that start?").
_FOLLOW_UP = re.compile(
    r"^\s*(and|but|also|what about|how about|so)\b|\b(it|its|that|this|those|these|they|them|their|he|she)\b",
    re.IGNORECASE,
)
FOLLOW_UP_MAX_WORDS = 12
FOLLOW_UP_CONTEXT_WORDS = 40


def _is_follow_up(question: str) -> bool:
    return len(question.split()) <= FOLLOW_UP_MAX_WORDS and bool(_FOLLOW_UP.search(question))


class AnswerService:
    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        store: ChunkStore | None = None,
        glossary: Glossary | None = None,
    ) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.embedder = embedder or get_embedder(settings.embedding.model_path, settings.embedding.batch_size)
        self.store = store or open_store(settings, self.embedder)
        self.cache = IndexCache(self.store, settings.data_dir / "index-cache")
        glossary_path = settings.retrieval.glossary_path
        self.glossary = glossary or Glossary.load(Path(glossary_path) if glossary_path else None)
        self.search = HybridSearch(self.store, self.cache, self.glossary, settings.retrieval)
        self.history = History(settings.app_database_url)
        self.approved = ApprovedAnswers(
            self.history.engine, self.embedder, self.cache, settings.answer, settings.corpus.review_months
        )
        self._known_words = self.glossary.words
        self._indexer = None

    @classmethod
    def from_settings(cls, settings: Settings) -> AnswerService:
        return cls(settings)

    # --- answering -----------------------------------------------------------------------------
    def answer(
        self,
        question: str,
        conversation_id: str | None = None,
        filters: Filters | None = None,
        *,
        channel: str = "api",
        user: str | None = None,
    ) -> Answer:
        started = time.perf_counter()
        question = self._check(question)
        report = safety.assess(question)
        if report.identifiable:
            return Answer(
                answer=safety.warning_message(report),
                grounded=False,
                personal_data=report.kinds,
                conversation_id=conversation_id,
            )
        # Lesser personal data (an email, a lone postcode) is redacted before anything is stored.
        clean = safety.redact(question, report.findings) if report.findings else question
        approved = self.approved.serve(clean)
        if approved is not None:
            return self._record(approved, clean, conversation_id, channel, user, report.kinds, started)
        query = self._retrieval_query(clean, conversation_id)
        parts = question_parts(clean)
        parts = parts if len(parts) > 1 else []
        result, *searched = self.search.search_many([query, *parts], filters)
        t_compose = time.perf_counter()
        composer = self._composer()
        if parts:
            part_results = list(zip(parts, searched, strict=True))
            composition = composer.compose_parts(clean, result, part_results, date.today())
        else:
            composition = composer.compose(query, result, date.today(), asked=clean)
        sources = [self._source(n, p) for n, p in enumerate(composition.cited, start=1)]
        notes = list(composition.notes)
        if report.findings:
            notes.insert(0, f"Personal details ({', '.join(report.kinds)}) were removed before storing.")
        conversation_id, message_id = self.history.add_turn(
            conversation_id,
            question=clean,
            retrieval_query=query,
            answer=composition.text,
            grounded=composition.grounded,
            sources=sources,
            channel=channel,
            user=user,
        )
        timings = dict(result.timings_ms)
        timings["compose"] = (time.perf_counter() - t_compose) * 1000
        timings["total"] = (time.perf_counter() - started) * 1000
        return Answer(
            answer=composition.text,
            grounded=composition.grounded,
            sources=sources,
            notes=notes,
            conversation_id=conversation_id,
            message_id=message_id,
            nearest_topics=composition.nearest_topics,
            timings_ms={k: round(v, 1) for k, v in timings.items()},
        )

    def _record(
        self,
        answer: Answer,
        question: str,
        conversation_id: str | None,
        channel: str,
        user: str | None,
        redacted: list[str],
        started: float,
    ) -> Answer:
        """Store a turn answered without the composer (an approved answer) like any other."""
        if redacted:
            answer.notes.insert(0, f"Personal details ({', '.join(redacted)}) were removed before storing.")
        answer.conversation_id, answer.message_id = self.history.add_turn(
            conversation_id,
            question=question,
            retrieval_query=question,
            answer=answer.answer,
            grounded=answer.grounded,
            sources=answer.sources,
            channel=channel,
            user=user,
        )
        answer.timings_ms["total"] = round((time.perf_counter() - started) * 1000, 1)
        return answer

    def stream(
        self,
        question: str,
        conversation_id: str | None = None,
        filters: Filters | None = None,
        *,
        channel: str = "api",
        user: str | None = None,
    ) -> Iterator[StreamEvent]:
        """The extractive answer is ready at once; it is streamed in word groups so every front door
        renders answers the same way an LLM composer's tokens would arrive."""
        answer = self.answer(question, conversation_id, filters, channel=channel, user=user)
        words = answer.answer.split(" ")
        for start in range(0, len(words), 4):
            piece = " ".join(words[start : start + 4])
            yield StreamEvent(type="delta", text=piece if start == 0 else " " + piece)
        yield StreamEvent(type="final", answer=answer)

    def retrieve(
        self, question: str, filters: Filters | None = None, k: int | None = None
    ) -> RetrievalResult:
        """Retrieval alone, for evaluation and benchmarks."""
        return self.search.search(question, filters, k)

    def _check(self, question: str) -> str:
        question = question.strip() if isinstance(question, str) else ""
        if not question:
            raise QuestionError("The question is empty.")
        limit = self.settings.answer.max_question_chars
        if len(question) > limit:
            raise QuestionError(f"The question is {len(question)} characters long; the limit is {limit}.")
        return question

    def _retrieval_query(self, question: str, conversation_id: str | None) -> str:
        if not conversation_id or not _is_follow_up(question):
            return question
        turns = self.history.recent_turns(conversation_id, 1)
        if not turns:
            return question
        # The previous retrieval query already carries its own antecedent; keep its tail only, so a chain
        # of follow-ups does not grow without bound.
        previous = " ".join(turns[-1][1].split()[-FOLLOW_UP_CONTEXT_WORDS:])
        return f"{previous} {question}"

    def _composer(self) -> ExtractiveComposer:
        return ExtractiveComposer(self.settings.answer, self.cache.current().titles, self._known_words)

    @staticmethod
    def _source(n: int, passage) -> Source:  # type: ignore[no-untyped-def]
        meta = passage.metadata
        return Source(
            n=n,
            title=str(meta.get("title") or meta.get("source")),
            source=str(meta.get("source", "")),
            section=str(meta.get("section", "")),
            url=meta.get("url"),
            published=meta.get("published"),
            publisher=meta.get("publisher"),
            topic=meta.get("topic"),
            score=round(float(passage.score), 4),
            text=passage.text,
        )

    # --- conversations and feedback ------------------------------------------------------------
    def feedback(
        self,
        message_id: str,
        rating: Literal["up", "down"],
        comment: str | None = None,
        *,
        user: str | None = None,
    ) -> None:
        if comment:
            comment = safety.redact(comment)
        self.history.add_feedback(message_id, rating, comment, user)

    def conversation(self, conversation_id: str) -> Conversation | None:
        return self.history.conversation(conversation_id)

    def feedback_list(self, limit: int = 200) -> list[FeedbackRecord]:
        return self.history.feedback_list(limit)

    def unanswered(self, limit: int = 100) -> list[UnansweredQuestion]:
        return self.history.unanswered(limit)

    def gaps(self, limit: int = 500) -> list[GapGroup]:
        """Refused and thumbs-down questions grouped by similarity, most frequent first."""
        rows = self.history.gap_rows(limit)
        return group_gaps(rows, self.embedder, self.settings.answer.gap_group_similarity)

    def claim_event(self, key: str) -> bool:
        return self.history.claim(key)

    # --- the index -----------------------------------------------------------------------------
    def documents(self) -> list[DocumentInfo]:
        docs: dict[str, DocumentInfo] = {}
        for meta in self.cache.current().metadatas:
            source = str(meta.get("source", ""))
            if source in docs:
                docs[source].chunks += 1
                continue
            docs[source] = DocumentInfo(
                source=source,
                title=str(meta.get("title") or source),
                topic=meta.get("topic"),
                published=meta.get("published"),
                reviewed=meta.get("reviewed"),
                chunks=1,
            )
        return sorted(docs.values(), key=lambda d: (d.topic or "~", d.title))

    def catalogue(self) -> list[CatalogueEntry]:
        """Documents as the maintainers' console lists them: review and supersession flags, last sync."""
        metadatas = self.cache.current().metadatas
        review_months = self.settings.corpus.review_months
        return build_catalogue(metadatas, review_months, date.today(), self.indexer().indexed_at())

    def topics(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for doc in self.documents():
            counts[doc.topic or "other"] = counts.get(doc.topic or "other", 0) + 1
        return counts

    @property
    def uploads_dir(self) -> Path:
        return self.settings.data_dir / "uploads"

    def indexer(self):  # type: ignore[no-untyped-def]
        from ingest.indexer import Indexer  # ingest is only needed by admin operations

        if self._indexer is None:
            self._indexer = Indexer(self.settings, self.store)
        return self._indexer

    def ingest_paths(self, paths: list[Path], root: Path | None = None) -> IngestReport:
        """Index files incrementally. Uploaded files live in `uploads/`; their sources are
        `uploads/<name>` so they never collide with the corpus's own paths."""
        root = root or self.uploads_dir
        if root.resolve() == self.uploads_dir.resolve():
            root = self.settings.data_dir
        return self.indexer().run_targets([(p.resolve(), root.resolve()) for p in paths])

    def delete_document(self, source: str) -> int:
        deleted = self.indexer().delete_source(source)
        upload = self.settings.data_dir / source
        if deleted and source.startswith("uploads/") and upload.is_file():
            upload.unlink()
        return deleted

    def reindex(self) -> IngestReport:
        indexer = self.indexer()
        data_dir = self.settings.data_dir.resolve()
        targets = [
            (self.uploads_dir.resolve(), data_dir) if root == data_dir else (root, root)
            for root in indexer.roots()
            if root.exists()
        ]
        return indexer.run_targets(targets, prune=True)

    def ready(self) -> dict[str, bool]:
        return {"model": self.embedder.loaded, "store": self.store.ping()}

    def warm_up(self) -> None:
        """Load the model and the lexical index before the first question arrives."""
        self.embedder.load()
        self.cache.current()
