"""The gaps report: questions the library could not answer (refusals) or answered badly (thumbs down),
grouped so that near-duplicates count together and the most asked come first.

Grouping is greedy over the embeddings, newest-first within frequency: a question joins the first group
whose representative is at least `gap_group_similarity` alike, else starts its own. Questions are stored
already redacted (the service's rule), so nothing here sees personal data.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field

from assistant.embeddings import Embedder

MAX_EXAMPLES = 5


class GapGroup(BaseModel):
    question: str = Field(description="The group's representative: its most often asked wording.")
    count: int
    examples: list[str] = Field(default_factory=list)
    last_asked: str
    answers_given: list[str] = Field(default_factory=list)
    comments: list[str] = Field(default_factory=list)
    refused: int = 0
    thumbs_down: int = 0


def group_gaps(rows: list[dict[str, str | None]], embedder: Embedder, threshold: float) -> list[GapGroup]:
    """Group gap rows (`question`, `answer`, `created_at`, `comment`, `kind`) by similarity."""
    rows = [r for r in rows if (r.get("question") or "").strip()]
    if not rows:
        return []
    # Identical wordings (ignoring case and spacing) are one text to embed and one vote each.
    wordings: dict[str, list[dict[str, str | None]]] = {}
    for row in rows:
        key = " ".join(str(row["question"]).lower().split())
        wordings.setdefault(key, []).append(row)
    # Most frequent wording first, so a group's representative is its most asked form.
    keys = sorted(wordings, key=lambda k: (len(wordings[k]), _latest(wordings[k])), reverse=True)
    vectors = embedder.encode([str(wordings[k][0]["question"]) for k in keys])
    heads: list[int] = []
    members: dict[int, list[int]] = {}
    for i in range(len(keys)):
        best, best_sim = None, threshold
        for head in heads:
            sim = float(vectors[head] @ vectors[i])
            if sim >= best_sim:
                best, best_sim = head, sim
        if best is None:
            heads.append(i)
            members[i] = [i]
        else:
            members[best].append(i)
    groups = []
    for head in heads:
        group_rows = [r for i in members[head] for r in wordings[keys[i]]]
        groups.append(
            GapGroup(
                question=str(wordings[keys[head]][0]["question"]),
                count=len(group_rows),
                examples=[str(wordings[keys[i]][0]["question"]) for i in members[head]][:MAX_EXAMPLES],
                last_asked=_latest(group_rows),
                answers_given=_distinct(r.get("answer") for r in group_rows),
                comments=_distinct(r.get("comment") for r in group_rows),
                refused=sum(r.get("kind") == "refused" for r in group_rows),
                thumbs_down=sum(r.get("kind") == "down" for r in group_rows),
            )
        )
    groups.sort(key=lambda g: (g.count, g.last_asked), reverse=True)
    return groups


def _latest(rows: list[dict[str, str | None]]) -> str:
    return max(str(r.get("created_at") or "") for r in rows)


def _distinct(values: Iterable[str | None]) -> list[str]:
    out: list[str] = []
    for value in values:
        if value and str(value) not in out:
            out.append(str(value))
    return out[:MAX_EXAMPLES]
