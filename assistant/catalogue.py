"""The maintainers' view of the library: every indexed document with what a maintainer must act on —
notes past their review date (`PMA_CORPUS__REVIEW_MONTHS` since last reviewed or published) and notes
about structures that have since been replaced (`superseded_by`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from assistant.types import DocumentInfo


class CatalogueEntry(DocumentInfo):
    publisher: str | None = None
    url: str | None = None
    superseded_by: str | None = None
    superseded: bool = False
    review_due: bool = False
    last_synced: str | None = None


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _months_before(day: date, months: int) -> date:
    month = day.month - 1 - months
    year, month = day.year + month // 12, month % 12 + 1
    for dom in (day.day, 30, 29, 28):
        try:
            return date(year, month, dom)
        except ValueError:
            continue
    return date(year, month, 28)


def build_catalogue(
    metadatas: list[dict[str, Any]], review_months: int, today: date, indexed_at: dict[str, float]
) -> list[CatalogueEntry]:
    """One entry per document. A note with no date at all is not flagged: nothing says it is old."""
    cutoff = _months_before(today, review_months)
    docs: dict[str, CatalogueEntry] = {}
    for meta in metadatas:
        source = str(meta.get("source", ""))
        if source in docs:
            docs[source].chunks += 1
            continue
        checked = max(filter(None, (_date(meta.get("reviewed")), _date(meta.get("published")))), default=None)
        successor = meta.get("superseded_by")
        stamp = indexed_at.get(source)
        docs[source] = CatalogueEntry(
            source=source,
            title=str(meta.get("title") or source),
            topic=meta.get("topic"),
            published=meta.get("published"),
            reviewed=meta.get("reviewed"),
            chunks=1,
            publisher=meta.get("publisher"),
            url=meta.get("url"),
            superseded_by=str(successor) if successor else None,
            superseded=bool(successor),
            review_due=checked is not None and checked < cutoff,
            last_synced=(datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds") if stamp else None),
        )
    return sorted(docs.values(), key=lambda d: (d.topic or "~", d.title))
