"""Whether a sentence holds an answer of a given kind: the written shapes of sums, shares, periods,
counts, dates and names in English text.

These are shapes of notation (a pound sign before digits, a month name, "per cent"), true of any text;
the fitted models decide how much each one matters.
"""

from __future__ import annotations

import re
from collections.abc import Callable

NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|"
    r"million|billion|dozen|half|a third|a quarter"
)
MONTHS = r"January|February|March|April|May|June|July|August|September|October|November|December"
WEEKDAYS = r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
# Clock times: "7am", "6.30pm", "18:00", "noon".
_CLOCK = r"\b\d{1,2}(?:[.:]\d\d)?\s?(?:am|pm)\b|\b(?:[01]?\d|2[0-3]):[0-5]\d\b|\b(?:noon|midday|midnight)\b"

_MONEY = re.compile(
    r"£\s?\d|\$\s?\d|€\s?\d|\b\d[\d,.]*\s?(?:bn|m|k|billion|million)\b|\bpounds\b|\bpence\b", re.I
)
_SHARE = re.compile(r"\d\s?%|\bper ?cent\b|\b(?:half|a third|a quarter|two thirds|three quarters)\b", re.I)
_DURATION = re.compile(
    rf"\b(?:\d+|{NUMBER_WORDS})(?:[- ](?:and a half|to \d+))?[- ](?:working[- ])?"
    r"(?:second|minute|hour|day|week|fortnight|month|year)s?\b|\bfortnight\b"
    # A span between two clock times ("8am to 6.30pm") is a duration as "ten hours" is.
    rf"|(?:{_CLOCK})\s*(?:to|until|till|-|–)\s*(?:{_CLOCK})",
    re.I,
)
_NUMBER = re.compile(rf"\b\d[\d,.]*\b|\b(?:{NUMBER_WORDS})\b", re.I)
# Dates, years, periods, sums and shares, whose digits are no count.
_NOT_A_COUNT = re.compile(
    rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+)?(?:{MONTHS})(?:\s+\d{{4}})?\b|\b(?:19|20)\d\d(?:/\d\d)?\b"
    rf"|\b(?:\d+|{NUMBER_WORDS})[- ](?:day|week|month|year)s?\b"
    r"|£\s?[\d,.]+\s?(?:bn|m|k)?\b|\b[\d.]+\s?(?:%|per ?cent)"
    rf"|{_CLOCK}",
    re.I,
)
_COUNTING_WORDS = NUMBER_WORDS.replace("|a third|a quarter", "")
_DATE = re.compile(
    # Case matters: "may" is no month.
    rf"\b(?:19|20)\d\d\b|\b(?:{MONTHS})\b|\b(?:{WEEKDAYS})s?\b|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b|{_CLOCK}"
    r"|\b(?:spring|summer|autumn|winter)\b|\b(?:annually|quarterly|monthly|weekly)\b"
    # A numbered period is a point in time: "year five", "month 3", "week two", "Q2".
    rf"|\b(?:[Dd]ay|[Ww]eek|[Mm]onth|[Qq]uarter|[Yy]ear)\s+(?:\d{{1,2}}|{_COUNTING_WORDS})\b"
    r"|\bQ[1-4]\b",
)
_RELATIVE_TIME = re.compile(r"\b(?:before|after|within|by|until|from)\b", re.I)
_NAME = re.compile(r"(?<![.?!]\s)(?<!^)\b(?:[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+|[A-Z]{2,}[a-z]?|[A-Z][a-z]{2,})\b")


def has_shape(sentence: str, kind: str | None, given: str = "") -> bool:
    """Whether `sentence` holds an answer of `kind`; for a name, one that `given` does not already hold."""
    if kind is None:
        return False
    if kind == "money":
        return bool(_MONEY.search(sentence))
    if kind == "share":
        return bool(_SHARE.search(sentence))
    if kind == "duration":
        return bool(_DURATION.search(sentence))
    if kind == "count":
        return bool(_NUMBER.search(_NOT_A_COUNT.sub(" ", sentence)))
    if kind == "date":
        # "When must the form be returned?" is answered by "two weeks before" as well as by a date.
        return bool(
            _DATE.search(sentence) or (_DURATION.search(sentence) and _RELATIVE_TIME.search(sentence))
        )
    if kind == "name":
        seen = given.lower()
        return any(m.group(0).lower() not in seen for m in _NAME.finditer(sentence))
    if kind == "amount":
        return any(has_shape(sentence, k) for k in _AMOUNTS)
    return False


# A quantity of something not measured in money may be given in any of these (days, %, a count, a sum).
_AMOUNTS = ("money", "share", "duration", "count")


def _spans(sentence: str, kind: str) -> list[str]:
    if kind == "money":
        return [m.group(0) for m in _MONEY.finditer(sentence)]
    if kind == "share":
        return [m.group(0) for m in _SHARE.finditer(sentence)]
    if kind == "duration":
        return [m.group(0) for m in _DURATION.finditer(sentence)]
    if kind == "count":
        return [m.group(0) for m in _NUMBER.finditer(_NOT_A_COUNT.sub(" ", sentence))]
    if kind == "date":
        found = [m.group(0) for m in _DATE.finditer(sentence)]
        if _RELATIVE_TIME.search(sentence):
            found += [m.group(0) for m in _DURATION.finditer(sentence)]
        return found
    if kind == "amount":
        return [span for k in _AMOUNTS for span in _spans(sentence, k)]
    return [m.group(0) for m in _NAME.finditer(sentence)]


def new_shape(sentence: str, kind: str | None, given: str = "") -> bool:
    """Whether `sentence` holds an answer of `kind` that `given` (the question) does not already state.

    A sentence that repeats the figure or date the question gives ("how much of the £40,000 went on
    staff?" against "the scheme cost £40,000") has the shape of an answer without being one; this
    holds for any question that quotes a value to ask about a part of it."""
    if kind is None:
        return False
    seen = given.lower()
    return any(span.strip().lower() not in seen for span in _spans(sentence, kind))


def numbers_in(text: str) -> list[str]:
    """The figures written in digits in `text` (not years): what a question states and a passage must hold
    for the passage to be about the same thing."""
    return [m.group(0).rstrip(".,") for m in _DIGITS.finditer(text) if not _YEAR_ONLY.fullmatch(m.group(0))]


_DIGITS = re.compile(r"\d[\d,.]*")
_YEAR_ONLY = re.compile(r"(?:19|20)\d\d")


def any_number(sentence: str) -> bool:
    return bool(_NUMBER.search(sentence))


_WORD = re.compile(r"[\w£%][\w,.'’-]*")


def counts(sentence: str, noun_terms: set[str], stem: Callable[[str], list[str]]) -> bool:
    """Whether `sentence` counts the thing asked about: a number (not a year, date, sum or share) with
    the counted noun within the four words after it ("11 practices", "335 emerging CCGs"), as English
    writes a count. A sentence that names the thing and gives a number of something else ("offered
    CCGs three models") holds the shape of a count, not the count asked for."""
    if not noun_terms:
        return False
    words = _WORD.findall(_NOT_A_COUNT.sub(" ", sentence))
    for i, word in enumerate(words):
        if _NUMBER.fullmatch(word.rstrip(".,")) and noun_terms & set(stem(" ".join(words[i + 1 : i + 5]))):
            return True
    return False


_ASKED_RATE = re.compile(r"\b(?:per|each|every)\s+([\w-]+)", re.I)
_GIVEN_RATE = re.compile(r"\b(?:per|each|every|a|an)\s+([\w-]+)", re.I)


def asked_rate(question: str, stem: Callable[[str], list[str]]) -> set[str]:
    """The stemmed nouns a question asks a figure by ("per patient", "each practice"): the unit an
    answer's figure must be given in."""
    return {t for m in _ASKED_RATE.finditer(question) for t in stem(m.group(1))}


def rate_missing(units: set[str], sentence: str, stem: Callable[[str], list[str]]) -> bool:
    """Whether a question that asks for a figure per something meets a sentence that gives no figure in
    that unit ("per", "each", "every", "a" before it): a total, or a figure per patient when the
    question asks per practice, is another quantity."""
    given = {t for m in _GIVEN_RATE.finditer(sentence) for t in stem(m.group(1))}
    return bool(units) and not (units & given)


def span_contexts(sentence: str, kind: str | None, given: str = "", reach: int = 40) -> list[str]:
    """The text around each answer-shaped span of `kind` that `given` does not state, `reach`
    characters either side: what the figure or date in a sentence is a figure or date of."""
    if kind is None:
        return []
    seen = given.lower()
    out = []
    for span in _spans(sentence, kind):
        if span.strip().lower() in seen:
            continue
        at = sentence.find(span)
        if at >= 0:
            out.append(sentence[max(0, at - reach) : at + len(span) + reach])
    return out
