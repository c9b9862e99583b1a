"""What a question asks for, read with closed-class words only.

Everything here is general English: question words (what, when, how many…), function words (the
stop-word list scikit-learn ships, a standard list not chosen by us), the units of time, and the
nouns that by their meaning denote a sum of money or a share. Nothing was added for a particular
question; which of these readings matter, and how much, is what the fitted sentence scorer and
answerability model decide (`features.py`, `train.py`).

Questions arrive as managers type them: context first ("I'm a new PM at a 9k practice, so when did…"),
in lower case, or in Slack style. The reading therefore looks at the *last* clause that carries a
question word, and works without capitals or a question mark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from assistant.text import singular

STOP_WORDS_FILE = Path(__file__).resolve().parent / "models" / "stop_words.txt"
"""scikit-learn's English stop-word list, written out by `make train` (`train.write_stop_words`):
importing scikit-learn for the list would cost every process seconds at start (it pulls in SciPy), and
tests/test_models.py checks the file still equals the library's list."""

# Units of time, and nouns measured in time: "how many weeks", "how much notice" asks for a duration.
TIME_UNITS = frozenset(
    [
        "second",
        "seconds",
        "minute",
        "minutes",
        "hour",
        "hours",
        "day",
        "days",
        "week",
        "weeks",
        "month",
        "months",
        "year",
        "years",
    ]
)
DURATION_NOUNS = TIME_UNITS | {"notice", "time", "period", "duration"}
# Nouns that denote a sum of money or a share by their meaning (a closed semantic class in English).
MONEY_NOUNS = frozenset(
    [
        "cost",
        "costs",
        "fee",
        "fees",
        "price",
        "prices",
        "salary",
        "salaries",
        "pay",
        "wage",
        "wages",
        "rate",
        "rates",
        "budget",
        "budgets",
        "funding",
        "grant",
        "grants",
        "charge",
        "charges",
        "payment",
        "payments",
        "allowance",
        "allowances",
        "subscription",
        "subscriptions",
        "worth",
        "value",
        "spend",
        "spending",
        "income",
        "revenue",
        "premium",
        "premiums",
        "rent",
        "rents",
        "fine",
        "fines",
        "loan",
        "loans",
        "money",
        "cash",
    ]
)
# Nouns that denote a person or an organisation by their meaning: "which body", "what supplier" asks for
# a proper name as "who" does.
ENTITY_NOUNS = frozenset(
    [
        "organisation",
        "organization",
        "body",
        "company",
        "firm",
        "supplier",
        "vendor",
        "provider",
        "agency",
        "charity",
        "institution",
        "authority",
        "regulator",
        "department",
        "person",
        "individual",
        "minister",
    ]
)
SHARE_NOUNS = frozenset(
    ["percentage", "percentages", "proportion", "proportions", "share", "shares", "percent"]
)
# Words naming only the kind of answer ("what number", "which year"), never the thing asked about.
KIND_NOUNS = (
    frozenset(
        [
            "number",
            "amount",
            "figure",
            "total",
            "sum",
            "date",
            "time",
            "day",
            "month",
            "year",
            "kind",
            "type",
            "sort",
            "level",
            "%",
        ]
    )
    | SHARE_NOUNS
)

_WH = re.compile(
    r"\b(how\s+(?:many|much|long|often|soon|quickly|fast|far|big|old)|how|what['’]s|whats|what|wat|when|whens|wen|"
    r"which|who|whom|whose|where|why)\b",
    re.I,
)
_YES_NO = re.compile(
    r"(?:^|[,.;:!?-]\s*|\b(?:so|and|but)\s+)(can|could|is|are|was|were|do|does|did|should|must|will|would|"
    r"has|have|may|might)\b",
    re.I,
)
_OPENS_CLAUSE = re.compile(r"(?:^|[,.;:!?—–-]|\b(?:and|so|but|or))\s*$", re.I)
_YEAR = re.compile(r"\b(?:19|20)\d\d(?:/\d\d)?\b")
_WORD = re.compile(r"[a-z0-9£%][a-z0-9'’/.-]*", re.I)
_CAPITALISED = re.compile(r"\b[A-Z][a-zA-Z]+(?:\s+[A-Z][a-zA-Z]+)*\b|\b[A-Z]{2,}s?\b")

KINDS = ("money", "share", "duration", "count", "date", "name", "amount")
"""The kinds of answer a question can ask for. "amount" is a quantity of something not measured in money
("how much annual leave", "how much experience"): any figure answers it, whatever its unit."""


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """Function words: scikit-learn's English list, the auxiliary forms it lacks, the question words'
    common spellings, and greetings and thanks (interjections carry no content in any question)."""
    return frozenset(STOP_WORDS_FILE.read_text(encoding="utf-8").split()) | {
        "does",
        "did",
        "doing",
        "doesn't",
        "didn't",
        "don't",
        "can't",
        "what's",
        "whats",
        "wat",
        "wen",
        "hey",
        "hi",
        "hello",
        "thanks",
        "cheers",
        "ta",
        "pls",
        "please",
        "anyone",
        "quick",
        "q",
    }


@dataclass(frozen=True)
class Reading:
    """What `question` asks: the kind of answer (None when no question word says), the words of its
    wh-phrase that name the thing asked about (`focus`), years and capitalised names it gives."""

    question: str
    kind: str | None
    focus: tuple[str, ...] = ()
    yes_no: bool = False
    years: tuple[str, ...] = ()
    names: tuple[str, ...] = field(default_factory=tuple)
    clause: str = ""
    """The last clause with a question word, from that word on (the whole question when none has one):
    what is asked, without the context a manager types before it."""


def _words(text: str) -> list[str]:
    return [re.sub(r"['’]s?$", "", w.lower()).strip(".") for w in _WORD.findall(text)]


def _clause(question: str) -> tuple[str, str, int]:
    """The question word and what follows it, from the last clause that has one, and where it starts."""
    matches = list(_WH.finditer(question))
    if not matches:
        return "", "", 0
    # A question word inside a clause ("which practice was she from when it began?") subordinates; the
    # one that opens a clause (first, after punctuation, or after a conjunction) asks.
    opening = [m for m in matches if _OPENS_CLAUSE.search(question[: m.start()])]
    last = (opening or matches)[-1]
    # "what is the X and when did it…" : the first question word of the final clause counts.
    # A contraction joined to the question word ("who's", "where're") is its verb, not a word of the phrase.
    rest = re.sub(r"^['’](?:s|re|d|ll)\b", "", question[last.end() :])
    return last.group(1).lower().replace("’", "'"), rest, last.start()


def _phrase(words: list[str]) -> list[str]:
    """The content words at the head of `words`, up to the first function word (at most four)."""
    out: list[str] = []
    for word in words:
        if word in stop_words() or not word:
            if out:
                break
            continue
        out.append(word)
        if len(out) == 4:
            break
    return out


def _kind_of_nouns(phrase: list[str]) -> str | None:
    """The kind of answer a noun phrase's nouns denote: "the rent" asks for a sum, "the deadline" a date."""
    nouns = {singular(w) for w in phrase}
    if nouns & {"year", "date", "day", "month", "deadline"}:
        return "date"
    if "%" in nouns or nouns & {singular(s) for s in SHARE_NOUNS}:
        return "share"
    if nouns & {singular(m) for m in MONEY_NOUNS}:
        return "money"
    if nouns & {singular(u) for u in DURATION_NOUNS} - {"year", "day", "month", "time"}:
        return "duration"
    if nouns & {singular(e) for e in ENTITY_NOUNS}:
        return "name"
    return None


def read(question: str) -> Reading:
    """Read the kind of answer and the focus words off the question's last wh-clause."""
    wh, rest, start = _clause(question)
    words = _words(rest)
    phrase = _phrase(words)
    kind: str | None = None
    wh_word = wh.split()[-1] if wh else ""
    head = {singular(w) for w in phrase[:2]}
    if wh.startswith("how") and wh_word in ("many", "much"):
        if head & {singular(u) for u in DURATION_NOUNS}:
            kind = "duration"
        elif wh_word == "many":
            kind = "count"
        elif head & {singular(s) for s in SHARE_NOUNS} or (words[:1] == ["of"]):
            kind = "share"
        elif words[:1] and words[0] not in stop_words() and _kind_of_nouns(phrase) != "money":
            # "how much annual leave": a noun right after "how much" names what is measured, and only a
            # noun of money makes the answer a sum. A verb after it ("how much did they pay") asks a sum.
            kind = "amount"
        else:
            kind = "money"
    elif wh in ("how long", "how soon", "how often", "how quickly", "how fast"):
        kind = "duration"
    elif wh_word in ("when", "whens", "wen"):
        kind = "date"
    elif wh_word in ("who", "whom", "whose"):
        kind = "name"
    elif wh_word in ("what", "which", "what's", "whats", "wat") and phrase:
        # "what is the X", "which X": the head noun of X says the kind when it has one.
        kind = _kind_of_nouns(phrase)
        if kind is None and "name" in words[:3]:
            # "what is the name of…" asks for a name as "who" does ("name" is on the stop-word list).
            kind = "name"
    elif not wh:
        # A string of keywords ("surgery rent 2024", "practice closing date") names what it wants last.
        kind = _kind_of_nouns(_phrase(_words(question)[::-1]))
    focus = tuple(w for w in phrase if w not in KIND_NOUNS and w not in TIME_UNITS and w not in ENTITY_NOUNS)
    yes_no = not wh and bool(_YES_NO.search(question))
    if yes_no:
        # What a yes/no question asks about is its closing noun phrase ("...count towards NHS pension?").
        focus = tuple(_phrase(_words(question)[::-1])[::-1])
    names = tuple(
        m.group(0)
        for m in _CAPITALISED.finditer(question)
        if m.start() > 0
        and question[max(0, m.start() - 2) : m.start()].strip() not in (".", "?", "!")
        and m.group(0).lower() not in stop_words()
    )
    return Reading(
        question=question,
        kind=kind,
        focus=focus,
        yes_no=yes_no,
        years=tuple(m.group(0) for m in _YEAR.finditer(question)),
        names=names,
        clause=question[start:],
    )


# A preposition may stand before the question word ("…, and from what date did Y?").
_PART_SPLIT = re.compile(
    r",?\s+and\s+(?=(?:(?:from|in|on|at|by|for|to|with|since|until|after|before|under)\s+)?"
    r"(?:how|when|what|who|whom|which|where|why|is|are|was|were|did|does|do|can|could|will|"
    r"would|should|has|have|had|must|may|might)\b)"
    r"|\?\s+(?=\S)",
    re.I,
)


_ASKS = re.compile(
    r"^\W*(?:is|are|was|were|did|does|do|can|could|will|would|should|has|have|had|must|may|might)\b", re.I
)


def _asks(part: str) -> bool:
    """Whether a piece is itself a question: it has a question word, or opens with an auxiliary (the
    yes/no form). "…, and have lots of evidence on X" continues a statement; it asks nothing."""
    return bool(_WH.search(part) or _ASKS.match(part))


# Personal and demonstrative pronouns: closed-class words by which a sentence points at an earlier one.
_REFERS_BACK = re.compile(r"\b(it|its|that|this|those|these|they|them|their|he|she|his|her|him)\b", re.I)


def refers_back(text: str) -> bool:
    """Whether a question points back at something said before it by a pronoun ("when did it start?"):
    alone it names nothing a search can find."""
    return bool(_REFERS_BACK.search(text))


def part_queries(parts: list[str]) -> list[str]:
    """What each part of a two-part question is searched with. A later part that points back by a pronoun
    ("…, and how many patients will it have?") is searched with the part before it in front, as a
    conversational follow-up is searched with the turn before it."""
    return [p if n == 0 or not refers_back(p) else f"{parts[n - 1]} {p}" for n, p in enumerate(parts)]


def question_parts(question: str) -> list[str]:
    """The two parts of a two-part question ("When did X start, and how many Y are there?"), split at
    "and" before a question word or at a question mark followed by more text. More than two pieces is
    read as one question: long context-first questions break into fragments that are no questions, and
    a part under five words is a fragment too, and so is a piece that asks nothing. Auxiliaries and
    modals after "and" open a yes/no part ("…, and will any lose their jobs?") as question words open a
    wh-part."""
    parts = [p.strip(" ,?") for p in _PART_SPLIT.split(question)]
    # A closing "thanks" or "ta" after the question mark is no part: a piece of function words and
    # interjections only, with no question word, asks nothing ("when did she do them" does ask).
    parts = [p for p in parts if _asks(p) or any(w not in stop_words() for w in _words(p))]
    if len(parts) != 2 or any(len(p.split()) < 5 for p in parts) or not all(map(_asks, parts)):
        return [question]
    return [p + "?" for p in parts]
