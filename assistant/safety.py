"""Spot patient-identifiable data in a question before it is answered, stored or sent to a remote model.

Practice managers sometimes paste patient details into a question. `assess` finds NHS numbers, postcodes,
UK phone numbers, email addresses and dates of birth, and decides whether the question is
*identifiable* (must be refused, with `warning_message`, and not stored) or merely contains lesser
personal data that `redact` replaces with placeholders such as ``[postcode]``.

Standard library only; every pattern is deliberately conservative about ordinary practice-manager
numbers (financial years like 2024/25, money like £1,412m, percentages, ratios and counts).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

NHS_NUMBER = "NHS number"
POSTCODE = "postcode"
PHONE_NUMBER = "phone number"
EMAIL_ADDRESS = "email address"
DATE_OF_BIRTH = "date of birth"

KINDS: tuple[str, ...] = (NHS_NUMBER, POSTCODE, PHONE_NUMBER, EMAIL_ADDRESS, DATE_OF_BIRTH)

# When two candidate findings overlap, the one whose kind comes first here wins.
_PRIORITY = {NHS_NUMBER: 0, EMAIL_ADDRESS: 1, DATE_OF_BIRTH: 2, PHONE_NUMBER: 3, POSTCODE: 4}

# How far (in characters) a date may sit after a cue such as "DOB" and still count as a date of birth.
DOB_CUE_WINDOW = 25


@dataclass(frozen=True)
class Finding:
    """One piece of personal data: its kind, its span in the original text and the matched text."""

    kind: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class SafetyReport:
    """Everything `assess` found, in text order; `identifiable=True` means refuse and store nothing."""

    findings: tuple[Finding, ...]
    identifiable: bool

    @property
    def kinds(self) -> list[str]:
        """Distinct kinds of personal data found, in order of first appearance."""
        return list(dict.fromkeys(f.kind for f in self.findings))


# --- NHS number -------------------------------------------------------------------------------------

# Ten digits, plain or 3-3-4 with spaces or hyphens, not part of a longer run of digits (or a decimal).
_NHS_RE = re.compile(r"(?<!\d)(?<!\d[.,])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\d|[.,]\d)")


def nhs_number_is_valid(digits: str) -> bool:
    """Modulus 11 check: weights 10..2 on the first nine digits; 11 -> 0; 10 -> never valid."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(weight * int(d) for weight, d in zip(range(10, 1, -1), digits[:9], strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return False
    return check == int(digits[9])


def _find_nhs_numbers(text: str) -> list[Finding]:
    found = []
    for m in _NHS_RE.finditer(text):
        if nhs_number_is_valid("".join(m.groups())):
            found.append(Finding(NHS_NUMBER, m.start(), m.end(), m.group()))
    return found


# --- Postcode ---------------------------------------------------------------------------------------

_POSTCODE_RE = re.compile(
    r"\b(?:GIR ?0AA|"
    r"[A-PR-UWYZ](?:\d\d?|[A-HK-Y]\d\d?|\d[A-HJKPSTUW]|[A-HK-Y]\d[ABEHMNPRVWXY])"
    r" ?\d[ABD-HJLNP-UW-Z]{2})\b",
    re.IGNORECASE,
)


def _find_postcodes(text: str) -> list[Finding]:
    return [Finding(POSTCODE, m.start(), m.end(), m.group()) for m in _POSTCODE_RE.finditer(text)]


# --- Phone number -----------------------------------------------------------------------------------

# A separator between digits: a single space or hyphen, or a closing bracket after an area code.
_SEP = r"(?:[ -]|\)[ -]?)?"
_PHONE_RE = re.compile(
    r"(?:"
    # +44 / 0044 forms, optionally with the trunk zero in brackets: +44 (0)20 7946 0018
    rf"(?<![\w+])(?:\+[ ]?|00[ ]?)44[ -]?(?:\(0\)[ -]?)?[1237](?:{_SEP}\d){{9}}"
    r"|"
    # National forms: 07700 900123, 020 7946 0018, (0161) 496 0000, 01632 960123
    rf"(?<![\w+£$])(?<!\d[.,/:])\(?0[1237](?:{_SEP}\d){{9}}"
    r")(?!\d|[.,]\d)"
)


def _find_phone_numbers(text: str) -> list[Finding]:
    return [Finding(PHONE_NUMBER, m.start(), m.end(), m.group()) for m in _PHONE_RE.finditer(text)]


# --- Email address ----------------------------------------------------------------------------------

_EMAIL_RE = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}\b"
)


def _find_emails(text: str) -> list[Finding]:
    return [Finding(EMAIL_ADDRESS, m.start(), m.end(), m.group()) for m in _EMAIL_RE.finditer(text)]


# --- Date of birth ----------------------------------------------------------------------------------

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE_RE = re.compile(
    r"(?:"
    # 01/02/1980, 1-2-80, 1.2.1980 (same separator both times)
    r"(?<![\d/.-])(?P<d>\d{1,2})(?P<sep>[/.-])(?P<m>\d{1,2})(?P=sep)(?:\d{4}|\d{2})(?![\d/-]|\.\d)"
    r"|"
    # 3 March 1975, 3rd of March 1975, 3 Mar '75
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?,?\s+(?:\d{{4}}|'?\d{{2}})\b"
    r"|"
    # March 3, 1975
    rf"\b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b"
    r")",
    re.IGNORECASE,
)
_DOB_CUE_RE = re.compile(
    r"\bd\.?\s?o\.?\s?b\b|\bdate\s+of\s+birth\b|\bborn\b|\bb\.",
    re.IGNORECASE,
)
# Words between a cue and a date that turn it into an eligibility range, not somebody's birthday:
# "children born on or after 1 January 2020".
_RANGE_WORDS_RE = re.compile(
    r"\b(?:after|before|between|since|from|until|till|prior|onwards?|or|and|to|up)\b", re.IGNORECASE
)


def _numeric_date_is_plausible(m: re.Match[str]) -> bool:
    if m.group("d") is None:
        return True
    a, b = int(m.group("d")), int(m.group("m"))
    # UK day/month, but accept month/day as well.
    return (1 <= a <= 31 and 1 <= b <= 12) or (1 <= a <= 12 and 1 <= b <= 31)


def _find_dates_of_birth(text: str) -> list[Finding]:
    dates = [m for m in _DATE_RE.finditer(text) if _numeric_date_is_plausible(m)]
    found: dict[int, Finding] = {}
    for cue in _DOB_CUE_RE.finditer(text):
        # A cue attaches only to the first date after it.
        nxt = next((d for d in dates if d.start() >= cue.end()), None)
        if nxt is None or nxt.start() - cue.end() > DOB_CUE_WINDOW:
            continue
        if _RANGE_WORDS_RE.search(text[cue.end() : nxt.start()]):
            continue
        found[nxt.start()] = Finding(DATE_OF_BIRTH, nxt.start(), nxt.end(), nxt.group())
    return list(found.values())


# --- Public API -------------------------------------------------------------------------------------


def _is_identifiable(kinds: Sequence[str]) -> bool:
    counts = {kind: kinds.count(kind) for kind in KINDS}
    if counts[NHS_NUMBER]:
        return True
    if counts[DATE_OF_BIRTH] >= 2:
        return True
    contact = counts[PHONE_NUMBER] or counts[EMAIL_ADDRESS]
    if counts[DATE_OF_BIRTH] and (counts[POSTCODE] or contact):
        return True
    return bool(counts[POSTCODE] and contact)


def assess(text: str) -> SafetyReport:
    """Find personal data in `text` and decide whether the question identifies a patient.

    Identifiable: any valid NHS number; a date of birth with any other finding; a postcode with a phone
    number or email address; or two or more dates of birth. A lone postcode, phone number, email
    address or date of birth is reported (so it can be redacted) but is not identifiable.
    """
    candidates = [
        *_find_nhs_numbers(text),
        *_find_emails(text),
        *_find_dates_of_birth(text),
        *_find_phone_numbers(text),
        *_find_postcodes(text),
    ]
    candidates.sort(key=lambda f: (_PRIORITY[f.kind], f.start))
    chosen: list[Finding] = []
    for cand in candidates:
        if all(cand.end <= f.start or cand.start >= f.end for f in chosen):
            chosen.append(cand)
    chosen.sort(key=lambda f: f.start)
    return SafetyReport(findings=tuple(chosen), identifiable=_is_identifiable([f.kind for f in chosen]))


def redact(text: str, findings: Sequence[Finding] | None = None) -> str:
    """Replace each finding with a placeholder naming its kind, e.g. "[NHS number]", "[postcode]".

    With no `findings`, `assess(text)` is used. Overlapping findings are skipped after the first.
    """
    if findings is None:
        findings = assess(text).findings
    parts: list[str] = []
    pos = 0
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if f.start < pos:
            continue
        parts.append(text[pos : f.start])
        parts.append(f"[{f.kind}]")
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts)


_ARTICLED = {
    NHS_NUMBER: "an NHS number",
    POSTCODE: "a postcode",
    PHONE_NUMBER: "a phone number",
    EMAIL_ADDRESS: "an email address",
    DATE_OF_BIRTH: "a date of birth",
}


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def warning_message(report: SafetyReport) -> str:
    """A plain, friendly explanation of why the question was not answered, naming what was found."""
    kinds = report.kinds
    if kinds:
        found = f"Your question seems to include {_join([_ARTICLED.get(k, k) for k in kinds])}, "
        found += "which could identify a patient."
    else:
        found = "Your question seems to include details that could identify a patient."
    return (
        f"{found} To protect patient confidentiality I haven't answered it, and nothing from your "
        "question has been stored. Please remove any patient-identifiable details (such as names, "
        "NHS numbers, dates of birth, addresses, postcodes, phone numbers or email addresses) and "
        "ask again in general terms."
    )
