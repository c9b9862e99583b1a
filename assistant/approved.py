"""Approved answers: a maintainer's answer to a question people keep asking, served in place of the
extractive one when a new question matches it closely enough.

They live in the app database (their own tables beside the conversation history), not in Chroma, so a
re-index or a rebuilt vector store never loses them; YAML export/import keeps them under version control
with the corpus. Their citations name indexed documents by `source` and are resolved to real passages at
answer time, so an approved answer cites the library exactly like a composed one.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from assistant.answering.question import read
from assistant.config import AnswerSettings
from assistant.embeddings import Embedder
from assistant.index_cache import CachedIndex, IndexCache
from assistant.types import Answer, Source

_md = sa.MetaData()
approved_answers = sa.Table(
    "approved_answers",
    _md,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("paraphrases", sa.Text, nullable=False),  # JSON list
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("sources", sa.Text, nullable=False),  # JSON list of document `source` keys
    sa.Column("approved_by", sa.String(200), nullable=False),
    sa.Column("approved_at", sa.String(10), nullable=False),
    sa.Column("review_date", sa.String(10)),
    sa.Column("retired", sa.Boolean, nullable=False, default=False),
    # Changes whenever the row does: a process sees another's edit and re-embeds (see `_entries`).
    sa.Column("updated_at", sa.String(40), nullable=False),
)

YAML_KEY = "approved_answers"


class ApprovedAnswerError(ValueError):
    """An approved answer the store will not take (bad fields, citations to unknown documents)."""


class UnknownApprovedAnswer(LookupError):
    """No approved answer has this id."""


def _clean_list(values: list[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        value = " ".join(str(value).split())
        if value and value not in seen:
            seen.append(value)
    return seen


class ApprovedAnswerIn(BaseModel):
    """What a maintainer writes. `sources` lists indexed documents' `source` keys; `[n]` in the answer
    cites the n-th of them."""

    question: str = Field(min_length=1, max_length=2000)
    answer: str = Field(min_length=1, max_length=20000)
    paraphrases: list[str] = Field(default_factory=list, max_length=50)
    sources: list[str] = Field(default_factory=list, max_length=20)
    approved_by: str = Field(default="maintainer", min_length=1, max_length=200)
    approved_at: date | None = None
    review_date: date | None = None
    retired: bool = False

    @field_validator("question", "approved_by")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("answer")
    @classmethod
    def _answer(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("paraphrases", "sources")
    @classmethod
    def _lists(cls, value: list[str]) -> list[str]:
        return _clean_list(value)


class ApprovedAnswer(ApprovedAnswerIn):
    """A stored approved answer (the YAML export writes exactly these fields)."""

    id: str
    approved_at: date  # type: ignore[assignment]


class ApprovedMatch(BaseModel):
    answer: ApprovedAnswer
    similarity: float


_REASON = re.compile(r"^\s*(and\s+)?why\b|\bwhat (was|is) the reason\b|\bwhat for\b", re.IGNORECASE)
# "What is the process for ..." and "What should we do to ..." ask how, whatever their first word.
_PROCEDURE = re.compile(
    r"\bwhat (is|are) the (process|procedure|steps)\b|\bwhat (should|do|must|can) (we|i|you|a \w+) do\b",
    re.IGNORECASE,
)
_WH = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how)\b", re.IGNORECASE)
_DESCRIBE = re.compile(r"\b(explain|describe|define|tell (me|us) about|summari[sz]e)\b", re.IGNORECASE)
_AUX = re.compile(
    r"^\s*(and\s+)?(can|could|is|are|was|were|do|does|did|should|must|may|might|will|would|has|have|shall)\b",
    re.IGNORECASE,
)


def asked_kind(question: str) -> str:
    """What a question asks for: the kind of answer (a date, an amount, a name, a count, a reason), else
    its question word ("what", "how", ...; "explain X" asks what X is), else "yes/no".

    Cosine similarity alone cannot tell "What was practice-based commissioning?" from "Why did
    practice-based commissioning end?" (0.91 with this model) or "What are integrated neighbourhood
    teams?" from "How are they funded?"; what they ask for can. So a new question matches an approved
    wording only if both ask for the same thing (measured in benchmarks/approved_threshold.py)."""
    typed = read(question).kind
    if typed:
        return typed
    if _REASON.search(question):
        return "reason"
    if _PROCEDURE.search(question):
        return "how"
    wh = _WH.search(question)
    describe = _DESCRIBE.search(question)
    aux = _AUX.match(question)
    if wh and (describe or not aux):  # in "Can we register patients who ...", "who" asks nothing
        word = wh.group(1).lower()
        return {"whom": "who", "whose": "who", "which": "what"}.get(word, word)
    if describe or not aux:
        return "what"
    return "yes/no"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for dom in (day.day, 30, 29, 28):
        try:
            return date(year, month, dom)
        except ValueError:
            continue
    return date(year, month, 28)


def _row_to_model(row: Any) -> ApprovedAnswer:
    return ApprovedAnswer(
        id=row["id"],
        question=row["question"],
        paraphrases=json.loads(row["paraphrases"]),
        answer=row["answer"],
        sources=json.loads(row["sources"]),
        approved_by=row["approved_by"],
        approved_at=date.fromisoformat(row["approved_at"]),
        review_date=date.fromisoformat(row["review_date"]) if row["review_date"] else None,
        retired=bool(row["retired"]),
    )


def _row_values(item: ApprovedAnswer) -> dict[str, Any]:
    return {
        "id": item.id,
        "question": item.question,
        "paraphrases": json.dumps(item.paraphrases),
        "answer": item.answer,
        "sources": json.dumps(item.sources),
        "approved_by": item.approved_by,
        "approved_at": item.approved_at.isoformat(),
        "review_date": item.review_date.isoformat() if item.review_date else None,
        "retired": item.retired,
        "updated_at": _now(),
    }


class ApprovedAnswers:
    """CRUD over the approved-answers table, plus matching a question against them.

    Vectors of every live question and paraphrase are kept in memory, keyed by text, and refreshed when
    the table changes (in this process or another sharing the database: a cheap signature query per
    question), so matching costs one question embedding and one small dot product.
    """

    def __init__(
        self,
        engine: sa.Engine,
        embedder: Embedder,
        cache: IndexCache,
        settings: AnswerSettings,
        review_months: int = 12,
    ) -> None:
        self.engine = engine
        self.embedder = embedder
        self.cache = cache
        self.settings = settings
        self.review_months = review_months
        _md.create_all(engine)
        self._lock = threading.Lock()
        self._vectors: dict[str, np.ndarray] = {}
        self._signature: tuple[int, str | None] | None = None
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._owners: list[ApprovedAnswer] = []
        self._kinds: list[str] = []

    # --- CRUD ------------------------------------------------------------------------------------
    def all(self, *, include_retired: bool = True) -> list[ApprovedAnswer]:
        query = sa.select(approved_answers).order_by(approved_answers.c.approved_at.desc())
        if not include_retired:
            query = query.where(approved_answers.c.retired.is_(False))
        with self.engine.connect() as conn:
            return [_row_to_model(r) for r in conn.execute(query).mappings()]

    def get(self, answer_id: str) -> ApprovedAnswer:
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(approved_answers).where(approved_answers.c.id == answer_id))
                .mappings()
                .first()
            )
        if row is None:
            raise UnknownApprovedAnswer(answer_id)
        return _row_to_model(row)

    def create(self, data: ApprovedAnswerIn, answer_id: str | None = None) -> ApprovedAnswer:
        item = self._complete(data, answer_id or uuid.uuid4().hex)
        self._check_sources([item])
        with self.engine.begin() as conn:
            conn.execute(approved_answers.insert().values(**_row_values(item)))
        return item

    def update(self, answer_id: str, data: ApprovedAnswerIn) -> ApprovedAnswer:
        current = self.get(answer_id)
        item = self._complete(data, answer_id, approved_at=data.approved_at or current.approved_at)
        self._check_sources([item])
        with self.engine.begin() as conn:
            conn.execute(
                approved_answers.update()
                .where(approved_answers.c.id == answer_id)
                .values(**_row_values(item))
            )
        return item

    def retire(self, answer_id: str) -> ApprovedAnswer:
        """Kept (and listed, `retired: true`) but never served again: the history of what was said
        stays readable, and un-retiring is one PUT."""
        self.get(answer_id)
        with self.engine.begin() as conn:
            conn.execute(
                approved_answers.update()
                .where(approved_answers.c.id == answer_id)
                .values(retired=True, updated_at=_now())
            )
        return self.get(answer_id)

    def delete(self, answer_id: str) -> None:
        with self.engine.begin() as conn:
            deleted = conn.execute(approved_answers.delete().where(approved_answers.c.id == answer_id))
        if not deleted.rowcount:
            raise UnknownApprovedAnswer(answer_id)

    def _complete(
        self, data: ApprovedAnswerIn, answer_id: str, approved_at: date | None = None
    ) -> ApprovedAnswer:
        approved = data.approved_at or approved_at or date.today()
        review = data.review_date or _add_months(approved, self.review_months)
        fields = data.model_dump(exclude={"approved_at", "review_date"})
        return ApprovedAnswer(id=answer_id, approved_at=approved, review_date=review, **fields)

    def _check_sources(self, items: list[ApprovedAnswer]) -> None:
        indexed = set(self.cache.current().sources)
        problems = []
        for item in items:
            unknown = [s for s in item.sources if s not in indexed]
            if unknown:
                problems.append(
                    f"{item.question!r} cites {', '.join(unknown)}, which "
                    f"{'is' if len(unknown) == 1 else 'are'} not an indexed document"
                )
        if problems:
            raise ApprovedAnswerError(
                "; ".join(problems) + ". Use a document's source as /v1/documents lists it."
            )

    # --- YAML ------------------------------------------------------------------------------------
    def export_yaml(self) -> str:
        items = [a.model_dump(mode="json") for a in sorted(self.all(), key=lambda a: a.id)]
        return yaml.safe_dump(
            {YAML_KEY: items}, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
        )

    def import_yaml(self, text: str) -> tuple[int, int]:
        """Upsert every answer in the file by id; all or nothing. Returns (added, updated)."""
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ApprovedAnswerError(f"not valid YAML: {exc}") from exc
        raw = data.get(YAML_KEY) if isinstance(data, dict) else None
        if not isinstance(raw, list):
            raise ApprovedAnswerError(f"expected a top-level '{YAML_KEY}:' list")
        items = []
        for n, entry in enumerate(raw, start=1):
            try:
                items.append(ApprovedAnswer.model_validate(entry))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ApprovedAnswerError(f"entry {n}: {where}: {first['msg']}") from exc
        self._check_sources(items)
        with self.engine.connect() as conn:
            existing = {r[0] for r in conn.execute(sa.select(approved_answers.c.id))}
        added = updated = 0
        with self.engine.begin() as conn:
            for item in items:
                values = _row_values(item)
                if item.id in existing:
                    conn.execute(
                        approved_answers.update().where(approved_answers.c.id == item.id).values(**values)
                    )
                    updated += 1
                else:
                    conn.execute(approved_answers.insert().values(**values))
                    added += 1
        return added, updated

    # --- matching and serving --------------------------------------------------------------------
    def _entries(self) -> tuple[np.ndarray, list[ApprovedAnswer], list[str]]:
        with self.engine.connect() as conn:
            count, latest = conn.execute(
                sa.select(sa.func.count(), sa.func.max(approved_answers.c.updated_at))
            ).one()
        signature = (int(count), latest)
        if signature == self._signature:
            return self._matrix, self._owners, self._kinds
        with self._lock:
            if signature != self._signature:
                live = self.all(include_retired=False)
                texts = [t for a in live for t in (a.question, *a.paraphrases)]
                owners = [a for a in live for _ in (a.question, *a.paraphrases)]
                kinds = [asked_kind(t) for t in texts]
                missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
                if missing:
                    self._vectors.update(zip(missing, self.embedder.encode(missing), strict=True))
                self._vectors = {t: self._vectors[t] for t in texts}  # drop texts no longer used
                dim = self.embedder.dimension if not texts else len(self._vectors[texts[0]])
                matrix = np.asarray([self._vectors[t] for t in texts], dtype=np.float32).reshape(-1, dim)
                self._matrix, self._owners, self._kinds = matrix, owners, kinds
                self._signature = signature
        return self._matrix, self._owners, self._kinds

    def match(self, question: str, vector: np.ndarray | None = None) -> ApprovedMatch | None:
        """The live approved answer whose question or paraphrase, wanting the same kind of answer, is most
        similar to `question`, if that similarity reaches `approved_min_similarity`."""
        matrix, owners, kinds = self._entries()
        if not owners:
            return None
        if vector is None:
            vector = self.embedder.encode([question])[0]
        kind = asked_kind(question)
        sims = np.where([k == kind for k in kinds], matrix @ vector, -1.0)
        best = int(np.argmax(sims))
        if float(sims[best]) < self.settings.approved_min_similarity:
            return None
        return ApprovedMatch(answer=owners[best], similarity=round(float(sims[best]), 4))

    def serve(self, question: str) -> Answer | None:
        """An `Answer` (no ids yet: the service stores the turn) for a matching approved answer, with its
        citations resolved to indexed passages; None to fall through to the composed answer.

        An approved answer citing a document no longer indexed is not served: its `[n]` would point at
        nothing. The console lists it so a maintainer can fix it."""
        if not self._entries()[1]:
            return None  # no model call at all while there are no approved answers
        vector = self.embedder.encode([question])[0]
        found = self.match(question, vector)
        if found is None:
            return None
        item = found.answer
        index = self.cache.current()
        sources = []
        for n, source in enumerate(item.sources, start=1):
            cited = _best_chunk(index, source, vector, n)
            if cited is None:
                return None
            sources.append(cited)
        review = f" (review by {item.review_date.isoformat()})" if item.review_date else ""
        note = f"Approved answer by {item.approved_by} on {item.approved_at.isoformat()}{review}."
        return Answer(
            answer=item.answer,
            grounded=True,
            sources=sources,
            notes=[note],
            composer="approved",
        )

    def missing_sources(self, item: ApprovedAnswer) -> list[str]:
        """Cited documents that are no longer indexed (the answer is not served until fixed)."""
        indexed = set(self.cache.current().sources)
        return [s for s in item.sources if s not in indexed]


def _best_chunk(index: CachedIndex, source: str, vector: np.ndarray, n: int) -> Source | None:
    """The passage of `source` whose best sentence is most like the question (its first chunk when no
    sentence vectors exist)."""
    positions = index.positions_of(source)
    if not positions:
        return None
    query = np.asarray(vector, dtype=np.float32).reshape(-1)
    best_position, best_score = positions[0], 0.0
    scored = [(float(rows.max()), p) for p in positions if len(rows := index.sentence_rows(p) @ query)]
    if scored:
        best_score, best_position = max(scored, key=lambda sp: (sp[0], -sp[1]))
    chunk = index.chunk(best_position)
    meta = chunk.metadata
    return Source(
        n=n,
        title=str(meta.get("title") or source),
        source=source,
        section=str(meta.get("section", "")),
        url=meta.get("url"),
        published=meta.get("published"),
        publisher=meta.get("publisher"),
        topic=meta.get("topic"),
        score=round(best_score, 4),
        text=chunk.text,
    )
