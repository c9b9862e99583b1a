"""Every corpus note, the glossary and the evaluation questions follow the rules in corpus/README.md.

`problems(path)` is the validator: it returns one readable line per problem, each naming the file and the
field or section at fault (e.g. "corpus/pcn/x.md: field 'published' is not a valid date: '2024-13-01'").
Run `.venv/bin/pytest tests/test_corpus_notes.py -q` after writing or editing a note. No model, no store.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingest.indexer import scan

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
GLOSSARY = CORPUS / "glossary.yml"
QUESTIONS = ROOT / "tests" / "eval" / "questions.jsonl"

TOPICS = (
    "commissioning",
    "pcn",
    "partnership-review",
    "igpm",
    "workforce-and-development",
    "quality-improvement",
)
REQUIRED = ("title", "topic", "source_title", "publisher", "published", "reviewed", "url", "licence")
OPTIONAL = ("superseded_by", "superseded_note")
DATE_FIELDS = ("published", "reviewed")
MAX_BODY_WORDS = 1500
MIN_NOTES = 40
KINDS = ("fact", "paraphrase", "multi", "unanswerable")
MIN_QUESTIONS = 80
MIN_UNANSWERABLE = 20

# The same front-matter pattern as the Markdown loader (ingest/loaders.py).
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.MULTILINE)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")


class _FrontMatterLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so a bad date is reported by field rather than raising."""


_FrontMatterLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}


def note_paths(root: Path = CORPUS) -> list[Path]:
    """Every note under a corpus root: Markdown files except README.md and hidden files."""
    return sorted(
        p
        for p in root.rglob("*.md")
        if p.name != "README.md" and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def split_note(text: str) -> tuple[str | None, str]:
    """(front matter text or None, body)."""
    match = _FRONT_MATTER.match(text.removeprefix("\ufeff"))
    if not match:
        return None, text
    return match.group(1), text[match.end() :]


def _display(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root.parent).as_posix()
    except ValueError:
        return str(path)


def _as_date(value: Any) -> date | None:
    """A YAML date or a YYYY-MM-DD string as a date; None for anything else."""
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _headings(body: str) -> list[tuple[int, str, bool]]:
    """(level, heading text, has text before the next heading) for each heading outside code fences."""
    found: list[tuple[int, str, bool]] = []
    in_fence = False
    for line in body.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            found.append((len(match.group(1)), match.group(2).strip(), False))
        elif found and line.strip() and not found[-1][2]:
            level, title, _ = found[-1]
            found[-1] = (level, title, True)
    return found


def problems(path: Path, root: Path = CORPUS) -> list[str]:
    """Everything wrong with one note, one line per problem, each naming the file and the field."""
    name = _display(path, root)
    found: list[str] = []

    def report(message: str) -> None:
        found.append(f"{name}: {message}")

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{name}: cannot be read as UTF-8 text: {exc}"]
    raw_front, body = split_note(text)
    if raw_front is None:
        return [f"{name}: no YAML front matter (the note must start with a '---' line)"]
    try:
        front = yaml.load(raw_front, Loader=_FrontMatterLoader)
    except yaml.YAMLError as exc:
        return [f"{name}: front matter is not valid YAML: {exc}".replace("\n", " ")]
    if not isinstance(front, dict):
        return [f"{name}: front matter must be 'key: value' lines"]

    # Fields: present, known, non-empty.
    for field in REQUIRED:
        if field not in front:
            report(f"field '{field}' is missing")
        elif front[field] is None or not str(front[field]).strip():
            report(f"field '{field}' is empty")
    for field in front:
        if field not in REQUIRED and field not in OPTIONAL:
            report(f"field '{field}' is not a known field (allowed: {', '.join(REQUIRED + OPTIONAL)})")

    # Dates.
    dates: dict[str, date] = {}
    for field in DATE_FIELDS:
        value = front.get(field)
        if value is None or not str(value).strip():
            continue
        parsed = _as_date(value)
        if parsed is None:
            report(f"field '{field}' is not a valid date: {str(value)!r} (use YYYY-MM-DD)")
        else:
            dates[field] = parsed
    if "published" in dates and "reviewed" in dates and dates["reviewed"] < dates["published"]:
        report(
            f"field 'reviewed' ({dates['reviewed'].isoformat()}) is before "
            f"field 'published' ({dates['published'].isoformat()})"
        )
    if "reviewed" in dates and dates["reviewed"] > date.today() + timedelta(days=1):
        report(f"field 'reviewed' is in the future: {dates['reviewed'].isoformat()}")

    # Topic: an allowed topic, and the folder the note sits in.
    folder = path.parent.name
    topic = front.get("topic")
    if topic is not None and str(topic).strip():
        if topic not in TOPICS:
            report(f"field 'topic' is {topic!r}, not one of: {', '.join(TOPICS)}")
        if topic != folder:
            report(f"field 'topic' is {topic!r} but the note is in folder {folder!r}")
    if folder not in TOPICS:
        report(f"folder {folder!r} is not a topic folder ({', '.join(TOPICS)})")

    url = front.get("url")
    if url is not None and str(url).strip() and not str(url).startswith(("http://", "https://")):
        report(f"field 'url' does not start with http:// or https://: {str(url)!r}")

    # Superseded notes point to the note describing what replaced them.
    successor = front.get("superseded_by")
    if "superseded_by" in front:
        target = root / str(successor or "")
        if not isinstance(successor, str) or not successor.strip():
            report("field 'superseded_by' is empty")
        elif not successor.endswith(".md") or not target.is_file():
            report(f"field 'superseded_by' points to a note that does not exist: {successor!r}")
        elif target.resolve() == path.resolve():
            report("field 'superseded_by' points to the note itself")
    if "superseded_note" in front:
        note = front.get("superseded_note")
        if not isinstance(note, str) or not note.strip():
            report("field 'superseded_note' is empty")
        elif not successor:
            report("field 'superseded_note' is set but field 'superseded_by' is not")

    # Body: size, headings, sections.
    words = len(body.split())
    if words == 0:
        report("body is empty")
    elif words > MAX_BODY_WORDS:
        report(f"body has {words:,} words (maximum {MAX_BODY_WORDS:,})")
    headings = _headings(body)
    for level, title, has_text in headings:
        if level == 1:
            report(f"body has an H1 heading '# {title}' (the title belongs in field 'title')")
        if level == 2 and not has_text:
            report(f"section '## {title}' is empty")
    sections = [title for level, title, _ in headings if level == 2]
    if "Sources" not in sections:
        report("section '## Sources' is missing (every note ends with its sources)")
    elif sections[-1] != "Sources":
        report(f"section '## Sources' is not the last section (last is '## {sections[-1]}')")
    return found


def _bodies() -> dict[str, str]:
    return {_display(p, CORPUS): split_note(p.read_text(encoding="utf-8"))[1] for p in note_paths()}


# ------------------------------------------------------------------------------------------ the notes


@pytest.mark.parametrize("path", note_paths(), ids=lambda p: p.relative_to(CORPUS).as_posix())
def test_note_is_valid(path: Path) -> None:
    found = problems(path)
    assert not found, "\n" + "\n".join(found)


def test_corpus_has_enough_notes() -> None:
    notes = note_paths()
    assert len(notes) >= MIN_NOTES, f"corpus has {len(notes)} notes; at least {MIN_NOTES} expected"


def test_ingest_indexes_exactly_the_notes() -> None:
    """README.md, glossary.yml and anything else that is not a note must be listed in corpus/.pmaignore."""
    indexed = {p.relative_to(CORPUS).as_posix() for p in scan(CORPUS)}
    notes = {p.relative_to(CORPUS).as_posix() for p in note_paths()}
    assert not indexed - notes, f"pm-ingest would index files that are not notes: {sorted(indexed - notes)}"
    assert not notes - indexed, f"corpus/.pmaignore hides notes from pm-ingest: {sorted(notes - indexed)}"


# ------------------------------------------------------------------------------------------ glossary


def test_glossary_maps_acronyms_to_full_forms() -> None:
    text = GLOSSARY.read_text(encoding="utf-8")
    entries = yaml.safe_load(text)
    assert isinstance(entries, dict), "corpus/glossary.yml must be a mapping of acronym: [full forms]"
    assert entries, "corpus/glossary.yml is empty"
    found = []
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    keys = [k.value for k, _ in node.value] if isinstance(node, yaml.MappingNode) else []
    found += [
        f"corpus/glossary.yml: acronym {k!r} is listed twice" for k in sorted(set(keys)) if keys.count(k) > 1
    ]
    for acronym, forms in entries.items():
        if not isinstance(acronym, str) or not acronym.strip():
            found.append(f"corpus/glossary.yml: key {acronym!r} is not a non-empty string")
        if not isinstance(forms, list) or not forms:
            found.append(f"corpus/glossary.yml: {acronym!r} must map to a non-empty list of full forms")
        elif not all(isinstance(f, str) and f.strip() for f in forms):
            found.append(f"corpus/glossary.yml: {acronym!r} has a full form that is not a non-empty string")
    assert not found, "\n" + "\n".join(found)


# ------------------------------------------------------------------------------------------ questions


def _question_problems(path: Path, bodies: dict[str, str]) -> tuple[list[str], list[dict[str, Any]]]:
    name = path.relative_to(ROOT).as_posix()
    low_bodies = [b.lower() for b in bodies.values()]
    sentences = [s for b in low_bodies for s in _SENTENCE_BREAK.split(b)]
    found: list[str] = []
    questions: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            q = json.loads(line)
        except json.JSONDecodeError as exc:
            found.append(f"{where}: not valid JSON: {exc}")
            continue
        if not isinstance(q, dict):
            found.append(f"{where}: not a JSON object")
            continue
        questions.append(q)
        qid, kind, keys = q.get("id"), q.get("kind"), q.get("answer_keys")
        if not isinstance(qid, str) or not qid.strip():
            found.append(f"{where}: field 'id' is missing or empty")
        elif qid in seen:
            found.append(f"{where}: field 'id' {qid!r} is used twice")
        else:
            seen.add(qid)
        if not isinstance(q.get("question"), str) or not q["question"].strip():
            found.append(f"{where}: field 'question' is missing or empty")
        if kind not in KINDS:
            found.append(f"{where}: field 'kind' is {kind!r}, not one of: {', '.join(KINDS)}")
        if not isinstance(keys, list) or not all(isinstance(k, str) and k.strip() for k in keys):
            found.append(f"{where}: field 'answer_keys' must be a list of non-empty strings")
            continue
        if kind == "unanswerable":
            if keys:
                found.append(f"{where}: field 'answer_keys' must be [] for an unanswerable question")
            continue
        if not 1 <= len(keys) <= 3:
            found.append(f"{where}: field 'answer_keys' has {len(keys)} keys (1 to 3 expected)")
        for key in keys:
            if not any(key.lower() in body for body in low_bodies):
                found.append(f"{where}: answer key {key!r} does not appear in any note")
        if kind in ("fact", "paraphrase") and not any(all(k.lower() in s for k in keys) for s in sentences):
            found.append(f"{where}: answer keys {keys!r} do not appear together in one sentence of a note")
    return found, questions


def test_eval_questions_are_valid() -> None:
    found, questions = _question_problems(QUESTIONS, _bodies())
    assert not found, "\n" + "\n".join(found)
    unanswerable = sum(q.get("kind") == "unanswerable" for q in questions)
    assert len(questions) >= MIN_QUESTIONS, f"{len(questions)} questions; at least {MIN_QUESTIONS} expected"
    assert unanswerable >= MIN_UNANSWERABLE, (
        f"{unanswerable} unanswerable questions; at least {MIN_UNANSWERABLE} expected"
    )


# ------------------------------------------------------------------------------------------ the validator


GOOD_FRONT = {
    "title": "A test note",
    "topic": "pcn",
    "source_title": "A test source",
    "publisher": "A test publisher",
    "published": "2024-01-01",
    "reviewed": "2025-06-01",
    "url": "https://example.org/source",
    "licence": "Summary written by this project; facts from the sources listed.",
}
GOOD_BODY = (
    "Primary care networks (PCNs) are groups of practices that work together.\n\n"
    "## Funding\n\nThe test PCN received its funding on 1 July 2022.\n\n"
    "## Sources\n\n- A test source; A test publisher; January 2024; https://example.org/source\n"
)


def _write_note(root: Path, rel: str, front: dict[str, Any] | None, body: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [] if front is None else ["---", *(f"{k}: {v}" for k, v in front.items()), "---"]
    path.write_text("\n".join([*lines, body]), encoding="utf-8")
    return path


def test_validator_accepts_a_good_note(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    path = _write_note(root, "pcn/good.md", GOOD_FRONT, GOOD_BODY)
    assert problems(path, root) == []


def test_validator_reports_each_problem_of_a_broken_note(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    front = {k: v for k, v in GOOD_FRONT.items() if k != "publisher"}
    front |= {"published": "2024-13-01", "topic": "finance"}
    filler = " ".join(["word"] * 1600)
    body = f"{filler}\n\n## Empty section\n\n## Funding\n\nText.\n\n## Sources\n\n- A source.\n"
    path = _write_note(root, "pcn/broken.md", front, body)

    found = problems(path, root)

    expected = [
        "corpus/pcn/broken.md: field 'publisher' is missing",
        "corpus/pcn/broken.md: field 'published' is not a valid date: '2024-13-01'",
        "corpus/pcn/broken.md: field 'topic' is 'finance', not one of:",
        "corpus/pcn/broken.md: field 'topic' is 'finance' but the note is in folder 'pcn'",
        "corpus/pcn/broken.md: section '## Empty section' is empty",
        "corpus/pcn/broken.md: body has 1,6",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in found), f"{start!r} not reported in:\n" + "\n".join(
            found
        )
    assert len(found) == len(expected), "\n".join(found)


@pytest.mark.parametrize(
    ("front_changes", "body", "expected"),
    [
        ({"reviewed": "2023-01-01"}, GOOD_BODY, "field 'reviewed' (2023-01-01) is before field 'published'"),
        ({"reviewed": "1 June 2025"}, GOOD_BODY, "field 'reviewed' is not a valid date: '1 June 2025'"),
        ({"reviewed": "2999-01-01"}, GOOD_BODY, "field 'reviewed' is in the future"),
        ({"url": "www.example.org"}, GOOD_BODY, "field 'url' does not start with http"),
        ({"licence": "''"}, GOOD_BODY, "field 'licence' is empty"),
        ({"reviwed": "2025-06-01"}, GOOD_BODY, "field 'reviwed' is not a known field"),
        ({"superseded_by": "pcn/missing.md"}, GOOD_BODY, "field 'superseded_by' points to a note that does"),
        ({"superseded_note": "Old."}, GOOD_BODY, "field 'superseded_note' is set but field 'superseded_by'"),
        ({}, "# A heading\n\n" + GOOD_BODY, "body has an H1 heading '# A heading'"),
        ({}, GOOD_BODY.split("## Sources")[0], "section '## Sources' is missing"),
        ({}, GOOD_BODY + "\n## Notes\n\nMore.\n", "section '## Sources' is not the last section"),
        ({}, GOOD_BODY.replace("\n\nThe test PCN", "\n\n### Detail\n\nThe"), "section '## Funding' is empty"),
    ],
)
def test_validator_reports_a_single_problem(
    tmp_path: Path, front_changes: dict[str, str], body: str, expected: str
) -> None:
    root = tmp_path / "corpus"
    path = _write_note(root, "pcn/note.md", GOOD_FRONT | front_changes, body)
    found = problems(path, root)
    assert len(found) == 1, "\n".join(found)
    assert found[0].startswith(f"corpus/pcn/note.md: {expected}"), found[0]


def test_validator_accepts_a_superseded_note_and_quoted_dates(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    _write_note(root, "pcn/good.md", GOOD_FRONT, GOOD_BODY)
    front = GOOD_FRONT | {
        "published": "'2024-01-01'",
        "superseded_by": "pcn/good.md",
        "superseded_note": '"Replaced in 2024: see the newer note."',
    }
    path = _write_note(root, "pcn/old.md", front, GOOD_BODY)
    assert problems(path, root) == []


def test_validator_reports_missing_front_matter(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    path = _write_note(root, "pcn/bare.md", None, GOOD_BODY)
    assert problems(path, root) == [
        "corpus/pcn/bare.md: no YAML front matter (the note must start with a '---' line)"
    ]
