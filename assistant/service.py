"""`AnswerService`: the only thing the front doors (HTTP, web, Slack, CLI) talk to."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from assistant import safety
from assistant.answering.compose import Composition
from assistant.answering.policy import AnswerPolicy
from assistant.answering.question import part_queries, question_parts, refers_back
from assistant.approved import ApprovedAnswers
from assistant.catalogue import CatalogueEntry, build_catalogue
from assistant.config import Settings
from assistant.embeddings import Embedder, embedder_for
from assistant.gaps import GapGroup, group_gaps
from assistant.glossary import Glossary
from assistant.history import History
from assistant.index_cache import IndexCache
from assistant.retrieval import HybridSearch, Passage, RetrievalResult
from assistant.store import ChunkStore, open_store
from assistant.types import (
    Answer,
    Conversation,
    DocumentInfo,
    FeedbackRecord,
    Filters,
    IngestReport,
    QuestionError,
    Retrieved,
    SearchResponse,
    Source,
    StreamEvent,
    UnansweredQuestion,
    UnknownConversation,
)

if TYPE_CHECKING:  # the language model's client (openai, langchain-openai) loads only when one is set
    from assistant.answering.llm import Draft, LLMComposer

# Short questions that lean on the previous turn ("and when did that start?").
_FOLLOW_UP = re.compile(r"^\s*(and|but|also|what about|how about|so)\b", re.IGNORECASE)
FOLLOW_UP_MAX_WORDS = 12
FOLLOW_UP_CONTEXT_WORDS = 40


def _is_follow_up(question: str) -> bool:
    short = len(question.split()) <= FOLLOW_UP_MAX_WORDS
    return short and bool(_FOLLOW_UP.search(question) or refers_back(question))


@dataclass
class _Prepared:
    """A question checked, retrieved and decided on by the policy, waiting for its text to be final."""

    clean: str
    query: str
    report: safety.SafetyReport
    result: RetrievalResult
    searched: list[RetrievalResult]
    policy: AnswerPolicy
    composition: Composition
    started: float
    t_compose: float


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
        self.embedder = embedder or embedder_for(settings)
        self.store = store or open_store(settings, self.embedder)
        self.cache = IndexCache(
            self.store, settings.data_dir / "index-cache", settings.retrieval.index_check_s
        )
        glossary_path = settings.retrieval.glossary_path
        self.glossary = glossary or Glossary.load(Path(glossary_path) if glossary_path else None)
        self.search = HybridSearch(self.store, self.cache, self.glossary, settings.retrieval)
        self.history = History(settings.app_database_url)
        self.approved = ApprovedAnswers(
            self.history.engine, self.embedder, self.cache, settings.answer, settings.corpus.review_months
        )
        self._indexer = None
        self._jobs: Any = None
        # Unset PMA_LLM__BASE_URL: no model, the extractive composer alone.
        self.writer: LLMComposer | None = None
        if settings.llm.enabled:
            from assistant.answering.llm import LLMComposer

            self.writer = LLMComposer(settings.llm, self.embedder, settings.answer.max_words)

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
        owner: str | None = None,
    ) -> Answer:
        """Answer one question for `owner` (see assistant/owners.py), continuing `conversation_id` if
        given: UnknownConversation unless that conversation exists and is `owner`'s."""
        prepared = self._prepare(question, conversation_id, filters, channel, user, owner)
        if isinstance(prepared, Answer):
            return prepared
        composition = prepared.composition
        draft = self._draft(prepared, conversation_id)
        if draft is not None and self.writer is not None:
            composition = self.writer.write(draft)
        return self._finish(prepared, composition, conversation_id, channel, user, owner)

    def stream(
        self,
        question: str,
        conversation_id: str | None = None,
        filters: Filters | None = None,
        *,
        channel: str = "api",
        user: str | None = None,
        owner: str | None = None,
    ) -> Iterator[StreamEvent]:
        """With a language model configured, its tokens as they arrive, then the checked answer in the
        final event (which may differ: unverifiable sentences are dropped). Otherwise the extractive
        answer, ready at once, streamed in word groups so every front door renders both the same way."""
        prepared = self._prepare(question, conversation_id, filters, channel, user, owner)
        draft = None if isinstance(prepared, Answer) else self._draft(prepared, conversation_id)
        if isinstance(prepared, Answer) or draft is None or self.writer is None:
            answer = (
                prepared
                if isinstance(prepared, Answer)
                else self._finish(prepared, prepared.composition, conversation_id, channel, user, owner)
            )
            words = answer.answer.split(" ")
            for start in range(0, len(words), 4):
                piece = " ".join(words[start : start + 4])
                yield StreamEvent(type="delta", text=piece if start == 0 else " " + piece)
            yield StreamEvent(type="final", answer=answer)
            return
        composition = prepared.composition
        for item in self.writer.stream(draft):
            if isinstance(item, str):
                yield StreamEvent(type="delta", text=item)
            else:
                composition = item
        yield StreamEvent(
            type="final", answer=self._finish(prepared, composition, conversation_id, channel, user, owner)
        )

    def _prepare(
        self,
        question: str,
        conversation_id: str | None,
        filters: Filters | None,
        channel: str,
        user: str | None,
        owner: str | None,
    ) -> Answer | _Prepared:
        """Checks, retrieval and the policy's decision: everything before any composer writes prose."""
        started = time.perf_counter()
        question = self._check(question)
        if conversation_id is not None and not self.history.owns(conversation_id, owner):
            raise UnknownConversation(conversation_id)
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
            return self._record(approved, clean, conversation_id, channel, user, owner, report.kinds, started)
        query = self._retrieval_query(clean, conversation_id)
        parts = question_parts(clean)
        parts = parts if len(parts) > 1 else []
        result, *searched = self.search.search_many([query, *part_queries(parts)], filters)
        t_compose = time.perf_counter()
        policy = self._policy()
        if parts:
            part_results = list(zip(parts, searched, strict=True))
            composition = policy.answer_parts(clean, result, part_results, date.today())
        else:
            composition = policy.answer(clean, result, date.today())
        return _Prepared(clean, query, report, result, searched, policy, composition, started, t_compose)

    def _draft(self, prepared: _Prepared, conversation_id: str | None) -> Draft | None:
        """What the language model is given, when one is configured and the policy chose to answer."""
        if self.writer is None or not prepared.composition.grounded:
            return None
        limit = max(self.settings.llm.passages, len(prepared.composition.cited))
        chosen: dict[str, Passage] = {p.id: p for p in prepared.composition.cited}
        for result in (prepared.result, *prepared.searched):
            for passage in result.passages:
                if len(chosen) >= limit:
                    break
                chosen.setdefault(passage.id, passage)
        past = self.history.conversation(conversation_id) if conversation_id else None
        history = [(t.question, t.answer) for t in past.turns[-2:]] if past else []
        from assistant.answering.llm import Draft

        return Draft(
            question=prepared.clean,
            passages=list(chosen.values()),
            fallback=prepared.composition,
            composer=prepared.policy.composer,
            result=prepared.result,
            today=date.today(),
            history=history,
        )

    def _finish(
        self,
        prepared: _Prepared,
        composition: Composition,
        conversation_id: str | None,
        channel: str,
        user: str | None,
        owner: str | None,
    ) -> Answer:
        report, result = prepared.report, prepared.result
        sources = [self._source(n, p) for n, p in enumerate(composition.cited, start=1)]
        notes = list(composition.notes)
        if report.findings:
            notes.insert(0, f"Personal details ({', '.join(report.kinds)}) were removed before storing.")
        conversation_id, message_id = self.history.add_turn(
            conversation_id,
            question=prepared.clean,
            retrieval_query=prepared.query,
            answer=composition.text,
            grounded=composition.grounded,
            sources=sources,
            channel=channel,
            user=user,
            owner=owner,
        )
        timings = dict(result.timings_ms)
        timings["compose"] = (time.perf_counter() - prepared.t_compose) * 1000
        timings["total"] = (time.perf_counter() - prepared.started) * 1000
        return Answer(
            answer=composition.text,
            grounded=composition.grounded,
            sources=sources,
            notes=notes,
            conversation_id=conversation_id,
            message_id=message_id,
            nearest_topics=composition.nearest_topics,
            timings_ms={k: round(v, 1) for k, v in timings.items()},
            composer=composition.composer,
            retrieved=[self._retrieved(p) for p in result.passages],
        )

    def _record(
        self,
        answer: Answer,
        question: str,
        conversation_id: str | None,
        channel: str,
        user: str | None,
        owner: str | None,
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
            owner=owner,
        )
        answer.timings_ms["total"] = round((time.perf_counter() - started) * 1000, 1)
        return answer

    def retrieve(
        self, question: str, filters: Filters | None = None, k: int | None = None
    ) -> RetrievalResult:
        """Retrieval alone, for evaluation and benchmarks."""
        return self.search.search(question, filters, k)

    def search_passages(
        self, query: str, k: int | None = None, filters: Filters | None = None
    ) -> SearchResponse:
        """The ranked passages for `query` with their features, and for each the answer policy's best
        sentence probability (`answer_p`): why an answer was given, or not."""
        query = self._check(query)
        if safety.assess(query).identifiable:
            raise QuestionError("The query holds patient-identifiable data; remove it and search again.")
        result = self.search.search(query, filters, k)
        judged = self._policy().judge(query, result) if result.passages else None
        best: dict[str, float] = {}
        for c in judged.scored if judged else []:
            best[c.passage.id] = max(best.get(c.passage.id, 0.0), c.p)
        passages = []
        for p in result.passages:
            item = self._retrieved(p)
            if p.id in best:
                item.features["answer_p"] = round(best[p.id], 4)
            passages.append(item)
        return SearchResponse(query=query, passages=passages)

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

    def _policy(self) -> AnswerPolicy:
        return AnswerPolicy(
            self.settings.answer, self.cache.current().titles, passages=self.settings.retrieval.top_k
        )

    @staticmethod
    def _retrieved(passage: Passage) -> Retrieved:
        meta = passage.metadata
        return Retrieved(
            source=str(meta.get("source", "")),
            title=str(meta.get("title") or meta.get("source")),
            section=str(meta.get("section", "")),
            url=meta.get("url"),
            published=meta.get("published"),
            score=round(float(passage.score), 4),
            text=passage.text,
            features={k: round(float(v), 4) for k, v in passage.features.items()},
        )

    @staticmethod
    def _source(n: int, passage: Passage) -> Source:
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
            fetched_at=meta.get("fetched_at"),
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
        owner: str | None = None,
    ) -> None:
        """Rate a message of one of `owner`'s conversations; UnknownMessage for any other message."""
        if comment:
            comment = safety.redact(comment)
        self.history.add_feedback(message_id, rating, comment, user, owner=owner)

    def conversation(self, conversation_id: str, owner: str | None = None) -> Conversation | None:
        """The conversation if it is `owner`'s; None when unknown or someone else's (callers can't tell)."""
        if not self.history.owns(conversation_id, owner):
            return None
        return self.history.conversation(conversation_id)

    def open_conversation(self, conversation_id: str, owner: str | None, channel: str) -> bool:
        """Use a caller-chosen conversation id (the CLI's batch labels); False if it is someone else's."""
        return self.history.open_conversation(conversation_id, owner, channel)

    def thread_conversation(self, thread_key: str, owner: str, channel: str = "slack") -> str:
        """The random conversation id of `owner`'s turns in one chat thread (a Slack thread or DM)."""
        return self.history.thread_conversation(thread_key, owner, channel)

    def feedback_list(self, limit: int = 200) -> list[FeedbackRecord]:
        return self.history.feedback_list(limit)

    def unanswered(self, limit: int = 100) -> list[UnansweredQuestion]:
        return self.history.unanswered(limit)

    def gaps(self, limit: int = 500) -> list[GapGroup]:
        """Refused and thumbs-down questions grouped by similarity, most frequent first."""
        rows = self.history.gap_rows(limit)
        return group_gaps(rows, self.embedder, self.settings.answer.gap_group_similarity)

    def claim_event(self, key: str, lease_s: float | None = None, *, done: bool = False) -> bool:
        return self.history.claim(key, lease_s, done=done)

    def finish_event(self, key: str) -> None:
        self.history.finish_claim(key)

    def release_event(self, key: str) -> None:
        self.history.release_claim(key)

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

    def jobs(self):  # type: ignore[no-untyped-def]
        """The background job runner (ingest.jobs) that admin uploads and re-indexes go through."""
        from ingest.jobs import JobRunner

        if self._jobs is None:
            self._jobs = JobRunner(self)
        return self._jobs

    def stop_jobs(self) -> None:
        """Stop the job runner with the server that started it; a later server (tests build several
        over one service) gets a fresh one rather than a shut-down pool."""
        if self._jobs is not None:
            self._jobs.shutdown()
            self._jobs = None

    def ingest_paths(
        self, paths: list[Path], root: Path | None = None, *, indexer: Any = None, progress: Any = None
    ) -> IngestReport:
        """Index files incrementally. Uploaded files live in `uploads/`; their sources are
        `uploads/<name>` so they never collide with the corpus's own paths. Background jobs pass their
        own low-priority `indexer` and a `progress` (ingest.indexer.Progress)."""
        root = root or self.uploads_dir
        if root.resolve() == self.uploads_dir.resolve():
            root = self.settings.data_dir
        targets = [(p.resolve(), root.resolve()) for p in paths]
        return (indexer or self.indexer()).run_targets(targets, progress=progress)

    def delete_document(self, source: str) -> int:
        deleted = self.indexer().delete_source(source)
        upload = self.settings.data_dir / source
        if deleted and source.startswith("uploads/") and upload.is_file():
            upload.unlink()
        return deleted

    def reindex(self, *, indexer: Any = None, progress: Any = None) -> IngestReport:
        indexer = indexer or self.indexer()
        data_dir = self.settings.data_dir.resolve()
        roots = set(indexer.roots())
        # uploads/ always: a file saved there whose first indexing never finished (the server was
        # killed) is not yet a known root, and must still be found.
        if self.uploads_dir.is_dir():
            roots.add(data_dir)
        targets = [
            (self.uploads_dir.resolve(), data_dir) if root == data_dir else (root, root)
            for root in sorted(roots)
            if root.exists()
        ]
        return indexer.run_targets(targets, prune=True, progress=progress)

    def ready(self) -> dict[str, bool]:
        return {"model": self.embedder.loaded, "store": self.store.ping()}

    def degraded(self) -> dict[str, bool]:
        """Optional dependencies whose loss degrades answers without stopping them: the language model
        endpoint (answers fall back to the extractive composer). Empty when none is configured."""
        return {} if self.writer is None else {"llm": self.writer.reachable()}

    def warm_up(self) -> None:
        """Load the model and the lexical index before the first question arrives."""
        self.embedder.load()
        self.cache.current()
