"""Generated filler documents for the benchmarks: plausible, distinct GP-practice admin notes in Markdown.

Every document is a pure function of its number (a seeded `random.Random`), so a build that was
interrupted, or a later run, writes byte-identical files and the indexer skips what it already holds.
Each `##` section holds 170-330 words, which the project's chunker (sections of 150-350 words kept
whole, never merged once they pass 150) turns into exactly one chunk: a document's chunk count is its
section count, known before anything is embedded.

The vocabulary is deliberately close to the corpus's world (practices, PCNs, ICBs, rotas, audits) so
the filler competes with the real notes for a query, as a practice's own documents would.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

SECTION_MIN_WORDS = 170
SECTION_MAX_WORDS = 330
FILLER_DIR = "filler"  # sources are `filler/<nnnnn>-<slug>.md`

PLACES = [
    "Ashby",
    "Bramley",
    "Calder",
    "Dunmore",
    "Elmswell",
    "Fenwick",
    "Garston",
    "Holbrook",
    "Ingleby",
    "Kelsall",
    "Langley",
    "Marlow",
    "Northgate",
    "Oakridge",
    "Pemberton",
    "Quarry Bank",
    "Redhill",
    "Saltford",
    "Thornbury",
    "Upton",
    "Wexcombe",
    "Yarrow",
    "Ambleside",
    "Birchfield",
    "Cranleigh",
    "Denholme",
    "Eastwood",
    "Foxhill",
    "Greystones",
    "Hartcliffe",
    "Kingsmead",
    "Lowther",
    "Millbrook",
    "Netherfield",
    "Orchard Way",
    "Parkside",
    "Riverside",
    "Stonebridge",
    "Tanfield",
    "Westbury",
]
PRACTICE_KINDS = [
    "Medical Centre",
    "Surgery",
    "Health Centre",
    "Family Practice",
    "Medical Practice",
    "Group Practice",
]
SUBJECTS = [
    "appointment booking",
    "repeat prescribing",
    "staff rota",
    "complaints handling",
    "chaperone",
    "fire safety",
    "infection control",
    "missed appointments",
    "sickness absence",
    "annual leave",
    "locum booking",
    "clinical coding",
    "document workflow",
    "telephone system",
    "online consultation",
    "vaccine cold chain",
    "business continuity",
    "subject access request",
    "new patient registration",
    "patient participation group",
    "cervical screening recall",
    "flu clinic",
    "payroll",
    "premises",
    "mandatory training",
    "significant event",
    "purchase ordering",
    "IT equipment",
    "smartcard access",
    "reception triage",
    "home visit requests",
    "test results handling",
    "referral tracking",
    "medicines management",
    "waiting room",
    "building security",
    "waste disposal",
    "expenses claims",
    "induction",
    "appraisal",
    "whistleblowing",
    "lone working",
    "translation services",
    "carers register",
    "learning disability health checks",
    "QOF achievement",
    "enhanced services claims",
]
DOC_TYPES = [
    "procedure",
    "policy",
    "audit",
    "action plan",
    "review",
    "handbook",
    "briefing",
    "protocol",
    "annual report",
    "guidance note",
    "operating manual",
    "standard",
]
ROLES = [
    "practice manager",
    "assistant practice manager",
    "reception lead",
    "senior receptionist",
    "data quality lead",
    "prescribing clerk",
    "office manager",
    "finance officer",
    "HR adviser",
    "nurse manager",
    "IT lead",
    "caretaker",
    "patient services lead",
    "medical secretary",
    "operations manager",
    "duty doctor",
    "lead GP partner",
    "healthcare assistant",
    "care co-ordinator",
    "PCN digital lead",
    "workflow administrator",
    "summariser",
]
MEETINGS = [
    "weekly huddle",
    "monthly partners' meeting",
    "quarterly governance meeting",
    "staff meeting",
    "clinical meeting",
    "business meeting",
    "annual away day",
    "PCN board",
    "reception team briefing",
]
ITEMS = [
    "log",
    "spreadsheet",
    "shared inbox",
    "task list",
    "register",
    "template",
    "checklist",
    "dashboard",
    "folder on the shared drive",
    "tracker",
    "workbook",
    "noticeboard",
]
SYSTEMS = [
    "EMIS Web",
    "SystmOne",
    "Docman",
    "the clinical system",
    "the telephony platform",
    "the rota app",
    "the HR portal",
    "the intranet",
    "the booking portal",
    "the document management system",
]
ROOMS = [
    "reception office",
    "admin office",
    "manager's office",
    "records room",
    "staff room",
    "back office",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
HEADINGS = [
    "Purpose",
    "Scope",
    "Responsibilities",
    "Daily routine",
    "Weekly checks",
    "Monthly reporting",
    "Escalation",
    "Training",
    "Audit results",
    "Costs and budget",
    "Risks",
    "Cover arrangements",
    "Recording and coding",
    "Review and sign-off",
    "Lessons learned",
    "Performance figures",
    "Patient communication",
    "Working with the PCN",
    "Data protection",
    "Equipment",
    "Background",
    "Roles of the team",
    "Out-of-hours arrangements",
    "Monitoring",
    "Targets for the year",
    "Changes since the last version",
    "Handover",
    "Quality checks",
    "Feedback from staff",
]

SENTENCES = [
    "The {role} checks the {subject} {item} every {weekday} morning and flags anything older than {n} days.",
    "In {year}, {practice} handled {big} {subject} requests, up from {big2} the year before.",
    "Any {subject} issue that cannot be settled within {n} working days is passed to the {role2}.",
    "A spot check in {month} {year} found that {pct}% of entries in the {item} were complete.",
    "The budget for {subject} was £{money} in {year}/{yy}, of which £{money2} had been spent by {month}.",
    "Staff record each {subject} action in {system} using the agreed codes and a short free-text note.",
    "New starters read this {doc_type} in their first {n} weeks and sign the {item} to confirm it.",
    "The {meeting} reviews the {subject} figures and agrees no more than {n} actions each time.",
    "Cover for the {role} during leave comes from the {role2}, who has read-only access to the {item}.",
    "From {date}, the {subject} {item} moved from paper to {system}.",
    "About {pct}% of {subject} tasks are finished on the same day, against a local target of {pct2}%.",
    "Between {time} and {time2}, {subject} requests are sorted by the {role} before they reach the {role2}.",
    "This {doc_type} was last revised on {date} and is next due for review in {month} {year2}.",
    "If {system} is unavailable, staff use the paper {item} kept in the {room} and enter the details later.",
    "With a list size of {big}, the practice expects roughly {n2} {subject} queries in a typical week.",
    "A complaint about {subject} is acknowledged within {n} working days and answered within {n3} days.",
    "The {role} reports {subject} figures to the {meeting} on the first {weekday} of each month.",
    "Since {month} {year}, {practice} has shared its {subject} {item} with the other practices in its PCN.",
    "The {role2} keeps a separate {item} for {subject} so that trends over {n} months can be seen.",
    "Each {subject} record is kept for {n} years and then destroyed under the records retention schedule.",
    "An audit in {year} scored the {subject} arrangements at {pct}%, compared with {pct2}% in {year0}.",
    "Two staff, usually the {role} and the {role2}, must agree before a {subject} entry is closed.",
    "The {meeting} in {month} {year} agreed to spend £{money} on improvements to {subject}.",
    "Patients are told about {subject} changes through the website, the {room} screens and a text message.",
    "At {practice}, {subject} sits with the {role}, helped by {n} administrators working {n2} hours a week.",
    "Sessions on {subject} are part of mandatory training, refreshed every {n} years and logged in {system}.",
    "When demand peaks in {month}, the {role} moves {n} extra staff hours a week onto {subject}.",
    "The {subject} {item} lists {big} open items, of which {n2} are more than a month old.",
    "The ICB asked practices in {year} to report {subject} activity every {n} weeks.",
    "Locum and bank staff are shown the {subject} {item} on their first shift by the {role}.",
    "Minutes of the {meeting} record who owns each {subject} action and the date it is due.",
    "A near miss involving {subject} in {month} {year} led to a new check by the {role2}.",
    "The practice pays £{money} a year for the {system} module that supports {subject}.",
    "Out of {big} {subject} cases last year, {n2} needed a conversation with a GP before they were closed.",
    "Any change to the {subject} {doc_type} is emailed to all staff and read out at the {meeting}.",
    "Between {year0} and {year}, average {subject} turnaround fell from {n3} days to {n} days.",
    "The {role} keeps the {subject} {item} in the {room}, away from public view.",
    "On {weekday}s the {role2} runs a {n}-minute catch-up on outstanding {subject} work.",
    "A patient survey in {month} {year} rated {subject} at {pct}% good or very good.",
    "Data from {system} are exported every {weekday} so that the {role} can update the {subject} {item}.",
]
BULLETS = [
    "check the {item} before {time}",
    "log every {subject} contact in {system}",
    "tell the {role} about anything unusual the same day",
    "keep copies in the {room} for {n} months",
    "send the weekly {subject} summary to the {role2}",
    "review open {subject} items at the {meeting}",
    "update the {subject} {item} after each change",
    "ask the {role2} before closing a {subject} entry older than {n} days",
    "file paper forms in the {room} by {weekday}",
    "report missed {subject} targets at the {meeting}",
]

_WORDS = re.compile(r"\S+")


@dataclass(frozen=True)
class FillerDoc:
    number: int
    relpath: str  # relative to the filler root, e.g. `filler/00042-...md`
    text: str
    sections: int  # = chunks once indexed


def _words(text: str) -> int:
    return len(_WORDS.findall(text))


def _slots(rng: random.Random, practice: str, subject: str, doc_type: str) -> dict[str, object]:
    year = rng.randint(2012, 2025)
    hour = rng.randint(8, 15)
    return {
        "practice": practice,
        "subject": subject,
        "doc_type": doc_type,
        "role": rng.choice(ROLES),
        "role2": rng.choice(ROLES),
        "meeting": rng.choice(MEETINGS),
        "item": rng.choice(ITEMS),
        "system": rng.choice(SYSTEMS),
        "room": rng.choice(ROOMS),
        "weekday": rng.choice(WEEKDAYS),
        "month": rng.choice(MONTHS),
        "year": year,
        "year0": year - rng.randint(1, 4),
        "year2": year + rng.randint(1, 3),
        "yy": f"{(year + 1) % 100:02d}",
        "date": f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {year}",
        "time": f"{hour}.{rng.choice(['00', '30'])}am" if hour < 12 else f"{hour - 12 or 12}.00pm",
        "time2": f"{rng.randint(1, 6)}.{rng.choice(['00', '30'])}pm",
        "n": rng.randint(2, 14),
        "n2": rng.randint(15, 90),
        "n3": rng.randint(5, 30),
        "pct": rng.randint(55, 99),
        "pct2": rng.randint(60, 98),
        "big": f"{rng.randint(1800, 19500):,}",
        "big2": f"{rng.randint(1500, 18000):,}",
        "money": f"{rng.randint(8, 900) * 50:,}",
        "money2": f"{rng.randint(4, 400) * 25:,}",
    }


def _sentence(rng: random.Random, practice: str, subject: str, doc_type: str, template: str) -> str:
    text = template.format(**_slots(rng, practice, subject, doc_type))
    return text[:1].upper() + text[1:]


def _section(rng: random.Random, practice: str, subject: str, doc_type: str) -> str:
    """One `##` section body of SECTION_MIN_WORDS..SECTION_MAX_WORDS words (bullet markers excluded)."""
    target = rng.randint(SECTION_MIN_WORDS + 15, SECTION_MAX_WORDS - 30)
    paragraphs: list[str] = []
    words = 0
    templates = rng.sample(SENTENCES, len(SENTENCES))
    while words < target:
        size = rng.randint(3, 5)
        sentences = []
        for _ in range(size):
            if not templates:
                templates = rng.sample(SENTENCES, len(SENTENCES))
            sentence = _sentence(rng, practice, subject, doc_type, templates.pop())
            if words + _words(sentence) > SECTION_MAX_WORDS:
                break
            sentences.append(sentence)
            words += _words(sentence)
            if words >= target:
                break
        if not sentences:
            break
        paragraphs.append(" ".join(sentences))
        if words < target - 40 and rng.random() < 0.25:
            items = [
                _sentence(rng, practice, subject, doc_type, t) for t in rng.sample(BULLETS, rng.randint(3, 4))
            ]
            block_words = sum(_words(i) for i in items)
            if words + block_words <= SECTION_MAX_WORDS:
                lead = _sentence(rng, practice, subject, doc_type, "Each week the {role} should:")
                paragraphs.append(lead + "\n\n" + "\n".join(f"- {i}" for i in items))
                words += block_words + _words(lead)
    assert SECTION_MIN_WORDS <= words <= SECTION_MAX_WORDS, words
    return "\n\n".join(paragraphs)


def filler_document(number: int) -> FillerDoc:
    rng = random.Random(f"pma-filler-{number}")
    practice = f"{rng.choice(PLACES)} {rng.choice(PRACTICE_KINDS)}"
    subject = rng.choice(SUBJECTS)
    doc_type = rng.choice(DOC_TYPES)
    year = rng.randint(2016, 2025)
    title = f"{practice}: {subject} {doc_type} {year}"
    headings = rng.sample(HEADINGS, rng.randint(4, 12))
    body = [f"# {title}"]
    for heading in headings:
        body.append(f"## {heading}")
        body.append(_section(rng, practice, subject, doc_type))
    front = "\n".join(
        [
            "---",
            f'title: "{title}"',
            "topic: practice-admin",
            f'source_title: "{practice} internal documents"',
            f'publisher: "{practice}"',
            f"published: {year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            f"reviewed: {min(year + 1, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "licence: generated filler for benchmarks",
            "---",
        ]
    )
    slug = re.sub(r"[^a-z0-9]+", "-", f"{practice} {subject} {doc_type}".lower()).strip("-")
    return FillerDoc(
        number,
        f"{FILLER_DIR}/{number:05d}-{slug}.md",
        front + "\n\n" + "\n\n".join(body) + "\n",
        len(headings),
    )


def plan(chunks: int) -> list[FillerDoc]:
    """The first documents whose sections add up to at least `chunks` chunks."""
    docs: list[FillerDoc] = []
    total = 0
    while total < chunks:
        doc = filler_document(len(docs))
        docs.append(doc)
        total += doc.sections
    return docs


def write(docs: list[FillerDoc], root: Path) -> int:
    """Write the documents under `root`, leaving identical files untouched; returns how many were written."""
    written = 0
    for doc in docs:
        path = root / doc.relpath
        if path.is_file() and path.read_text(encoding="utf-8") == doc.text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc.text, encoding="utf-8")
        written += 1
    return written


def long_document(sections: int, number: int = 0) -> FillerDoc:
    """One document of `sections` sections (= chunks), for a single upload as large as a practice
    handbook: the load benchmark indexes one while it measures answers."""
    rng = random.Random(f"pma-long-{number}")
    practice = f"{rng.choice(PLACES)} {rng.choice(PRACTICE_KINDS)}"
    subject = rng.choice(SUBJECTS)
    doc_type = rng.choice(DOC_TYPES)
    title = f"{practice}: {subject} handbook"
    body = [f"# {title}"]
    for n in range(sections):
        body.append(f"## {n + 1}. {rng.choice(HEADINGS)}")
        body.append(_section(rng, practice, subject, doc_type))
    front = f'---\ntitle: "{title}"\ntopic: practice-admin\npublisher: "{practice}"\n---'
    slug = re.sub(r"[^a-z0-9]+", "-", f"{practice} {subject} handbook {number}".lower()).strip("-")
    return FillerDoc(number, f"{slug}.md", front + "\n\n" + "\n\n".join(body) + "\n", sections)
