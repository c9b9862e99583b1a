"""Tests for assistant.safety: spotting, judging and redacting patient data in questions."""

from __future__ import annotations

import datetime
import itertools
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.safety import (
    DATE_OF_BIRTH,
    EMAIL_ADDRESS,
    NAME,
    NHS_NUMBER,
    PHONE_NUMBER,
    POSTCODE,
    Finding,
    SafetyReport,
    assess,
    nhs_number_is_valid,
    normalise,
    redact,
    warning_message,
)


def kinds_of(text: str) -> list[str]:
    return [f.kind for f in assess(text).findings]


# --- NHS numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["943 476 5919", "943-476-5919", "9434765919", "401 023 2137"])
def test_valid_nhs_number_is_found_and_identifiable(number: str) -> None:
    text = f"Patient {number} wants a copy of their records, what do we do?"
    report = assess(text)
    assert report.kinds == [NHS_NUMBER]
    (finding,) = report.findings
    assert finding.text == number
    assert text[finding.start : finding.end] == number
    assert report.identifiable


@pytest.mark.parametrize(
    "number",
    [
        "943 476 5918",  # wrong check digit
        "943-476-5918",
        "9434765918",
        "123 456 7890",  # check digit works out as 10, so never valid
        "123-456-7890",
        "1234567890",
    ],
)
def test_invalid_nhs_number_is_not_a_finding(number: str) -> None:
    report = assess(f"Patient {number} wants a copy of their records.")
    assert report.findings == ()
    assert not report.identifiable


@pytest.mark.parametrize("text", ["ref 19434765919", "ref 94347659190", "total 9434765919.5"])
def test_nhs_number_must_not_be_part_of_a_longer_number(text: str) -> None:
    assert NHS_NUMBER not in kinds_of(text)


def test_nhs_number_after_no_abbreviation() -> None:
    assert assess("NHS No.9434765919").kinds == [NHS_NUMBER]


def test_modulus_11_check() -> None:
    assert nhs_number_is_valid("9434765919")
    assert not nhs_number_is_valid("9434765918")
    assert not nhs_number_is_valid("1234567890")
    assert not nhs_number_is_valid("943476591")
    assert not nhs_number_is_valid("94347659x9")


# --- Postcodes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "postcode",
    ["SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "EC1A 1BB", "sw1a 1aa", "M11AE", "w1a 0ax"],
)
def test_postcodes_are_found(postcode: str) -> None:
    report = assess(f"We are based at {postcode}, is that in the ICB area?")
    assert report.kinds == [POSTCODE]
    assert report.findings[0].text == postcode


def test_lone_postcode_is_redacted_but_not_identifiable() -> None:
    text = "Our practice is at LS1 4AP; which ICB covers us?"
    report = assess(text)
    assert report.kinds == [POSTCODE]
    assert not report.identifiable
    assert redact(text) == "Our practice is at [postcode]; which ICB covers us?"


# --- Phone numbers and email addresses --------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "07700 900123",
        "07700900123",
        "07700 900 123",
        "+44 7700 900123",
        "+447700900123",
        "020 7946 0018",
        "(020) 7946 0018",
        "0161 496 0000",
        "(0161) 496 0000",
        "01632 960123",
        "0300 123 4567",
        "+44 (0)20 7946 0018",
        "0044 20 7946 0018",
    ],
)
def test_phone_numbers_are_found(phone: str) -> None:
    report = assess(f"Please ring {phone} about this.")
    assert report.kinds == [PHONE_NUMBER]
    assert report.findings[0].text == phone
    assert not report.identifiable


def test_phone_after_tel_colon() -> None:
    assert assess("tel:07700 900123").kinds == [PHONE_NUMBER]


@pytest.mark.parametrize(
    "text",
    ["In 2024 we had 12345 patients", "£1,412m", "up 7.4%", "a ratio of 1:1800", "0800 123 4567"],
)
def test_not_phone_numbers(text: str) -> None:
    assert assess(text).findings == ()


def test_lone_email_is_redacted_but_not_identifiable() -> None:
    text = "Can I forward this to practice.manager@nhs.net?"
    report = assess(text)
    assert report.kinds == [EMAIL_ADDRESS]
    assert report.findings[0].text == "practice.manager@nhs.net"
    assert not report.identifiable
    assert redact(text) == "Can I forward this to [email address]?"


# --- Dates of birth ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("DOB 01/02/1980", "01/02/1980"),
        ("D.O.B: 1-2-80", "1-2-80"),
        ("d.o.b. 12.11.1969", "12.11.1969"),
        ("date of birth 3 March 1975", "3 March 1975"),
        ("she was born on 3rd March 1975", "3rd March 1975"),
        ("she (b. March 3, 1975) asked", "March 3, 1975"),
        ("Date of Birth is recorded as 14 Feb 2001", "14 Feb 2001"),
    ],
)
def test_dates_of_birth_need_a_cue(text: str, date: str) -> None:
    report = assess(text)
    assert report.kinds == [DATE_OF_BIRTH]
    assert report.findings[0].text == date
    assert not report.identifiable  # a lone date of birth is redacted, not refused


@pytest.mark.parametrize(
    "text",
    [
        "The change took effect on 1 July 2022.",
        "From 1 April 2013 NHS England commissioned primary care.",
        "The deadline is 01/02/2025.",
        "Children born on or after 1 January 2020 get the new schedule.",
        "Patients born between 1 September 1943 and 31 August 1948 are eligible.",
        "DOB is a required field; the audit runs until 3 March 2025 and beyond the deadline.",
    ],
)
def test_plain_dates_are_not_dates_of_birth(text: str) -> None:
    assert assess(text).findings == ()


def test_date_far_from_cue_is_not_a_date_of_birth() -> None:
    text = "We record the date of birth on the registration form, which was revised on 1 July 2022."
    assert assess(text).findings == ()


# --- Identifiability --------------------------------------------------------------------------------


def test_postcode_and_date_of_birth_is_identifiable() -> None:
    report = assess("Patient DOB 01/02/1980 living at SW1A 1AA has complained.")
    assert report.kinds == [DATE_OF_BIRTH, POSTCODE]
    assert report.identifiable


@pytest.mark.parametrize(
    "text",
    [
        "Patient born 3 March 1975, phone 07700 900123",
        "Patient DOB 3/3/75, email jo.bloggs@example.com",
        "Patient at M1 1AE, phone 07700 900123",
        "Patient at M1 1AE, email jo.bloggs@example.com",
        "Twins: DOB 01/02/1980 and DOB 02/02/1980",
    ],
)
def test_identifiable_combinations(text: str) -> None:
    assert assess(text).identifiable


@pytest.mark.parametrize(
    "text",
    [
        "Our practice phone is 0161 496 0000 and email is reception@nhs.net",
        "Our postcode is M1 1AE",
        "DOB 01/02/1980",
    ],
)
def test_not_identifiable_combinations(text: str) -> None:
    report = assess(text)
    assert report.findings
    assert not report.identifiable


def test_findings_do_not_overlap_and_are_in_text_order() -> None:
    text = "NHS 943 476 5919, phone 07700 900123, postcode B33 8TH, email a.b@c.org, DOB 1/2/80"
    report = assess(text)
    assert report.kinds == [NHS_NUMBER, PHONE_NUMBER, POSTCODE, EMAIL_ADDRESS, DATE_OF_BIRTH]
    spans = [(f.start, f.end) for f in report.findings]
    assert spans == sorted(spans)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))
    for f in report.findings:
        assert text[f.start : f.end] == f.text


def test_email_beats_postcode_inside_it() -> None:
    report = assess("write to sw1a1aa@example.com")
    assert report.kinds == [EMAIL_ADDRESS]


def test_kinds_are_distinct_in_order_of_first_appearance() -> None:
    report = SafetyReport(
        findings=(
            Finding(POSTCODE, 0, 6, "M1 1AE"),
            Finding(PHONE_NUMBER, 10, 22, "07700 900123"),
            Finding(POSTCODE, 30, 36, "M1 1AE"),
        ),
        identifiable=True,
    )
    assert report.kinds == [POSTCODE, PHONE_NUMBER]


# --- Ordinary questions ----------------------------------------------------------------------------


ORDINARY_QUESTIONS = [
    "What was core PCN funding per patient in 2024/25?",
    "When did ICBs replace CCGs on 1 July 2022?",
    "How many PCNs had 30,000 to 50,000 patients?",
    "Is the fee £280 plus VAT?",
    "What did the 2020/21 contract say about 26,000 roles?",
    "What changed from 1 April 2013 when NHS England took over commissioning?",
    "Was the global sum uplift 7.4% or £1,412m in 2025/26?",
    "Is a GP to patient ratio of 1:1,800 reasonable?",
    "How many appointments per 1,000 patients per week are expected in 2023-24?",
    "Can we claim for 2,500 flu vaccinations given between 1 September 2024 and 31 March 2025?",
    "Does the QOF year run from 01/04/2024 to 31/03/2025?",
    "Our list size grew from 9,876 to 10,234 in Q3, how does the Carr-Hill formula weight that?",
    "Is the item of service fee £12.06 per dose from 1 October 2023?",
    "What is the DES payment of £1.50 per registered patient for 2023-24?",
    "How do 111 online referrals and 999 calls feature in the 2019 GP contract?",
    "Are children born on or after 1 January 2020 eligible for the new MenB schedule?",
    "Do we need 10 WTE staff for a population of 100,000?",
    "Our ODS code is M85001, how do we check our QOF points for 2022/23?",
    "What is the 8am rush guidance in the 2023 recovery plan, section 4(b)?",
    "Is the ARRS budget of £1.4 billion for 2024/25 ring-fenced, and what about 3rd year staff?",
    "What were the 1.2.2024 changes to the SFE, paragraph 11.3?",
]


@pytest.mark.parametrize("question", ORDINARY_QUESTIONS)
def test_ordinary_questions_have_no_findings(question: str) -> None:
    report = assess(question)
    assert report.findings == ()
    assert not report.identifiable
    assert redact(question) == question


# --- redact() ---------------------------------------------------------------------------------------


def test_redact_replaces_every_finding_with_its_kind() -> None:
    text = "Mr X, NHS 943 476 5919, DOB 01/02/1980, at SW1A 1AA, tel 07700 900123, x@y.com."
    assert redact(text) == (
        "Mr X, NHS [NHS number], DOB [date of birth], at [postcode], tel [phone number], [email address]."
    )


def test_redact_with_given_findings() -> None:
    text = "Call 07700 900123 about M1 1AE"
    report = assess(text)
    assert redact(text, report.findings) == "Call [phone number] about [postcode]"
    only_phone = [f for f in report.findings if f.kind == PHONE_NUMBER]
    assert redact(text, only_phone) == "Call [phone number] about M1 1AE"
    assert redact(text, []) == text


def test_redact_ignores_overlapping_findings() -> None:
    text = "0123456789"
    findings = [Finding(PHONE_NUMBER, 0, 10, text), Finding(POSTCODE, 2, 5, "234")]
    assert redact(text, findings) == "[phone number]"


# --- warning_message() ------------------------------------------------------------------------------


def test_warning_message_names_the_kinds_and_says_nothing_was_stored() -> None:
    report = assess("Patient 943 476 5919, DOB 01/02/1980, lives at SW1A 1AA")
    assert report.identifiable
    message = warning_message(report)
    assert "NHS number" in message
    assert "date of birth" in message
    assert "postcode" in message
    assert "nothing" in message
    assert "stored" in message
    assert "ask again" in message
    assert "943 476 5919" not in message
    assert "SW1A 1AA" not in message


def test_warning_message_single_kind_and_empty_report() -> None:
    message = warning_message(assess("NHS 9434765919"))
    assert "an NHS number" in message
    assert warning_message(SafetyReport(findings=(), identifiable=True))


# --- Issue 11: other spellings, ISO dates, names ----------------------------------------------------


# 943 476 5919 passes the modulus 11 check; the table's spellings of it.
@pytest.mark.parametrize(
    "spelled",
    [
        "9434 765 919",  # 4-3-3
        "943 476 591 9",  # 3-3-3-1
        "9434 76 5919",
        "943\u00a0476\u00a05919",  # no-break spaces
        "943\u202f476\u202f5919",  # narrow no-break spaces
        "943\u2009476\u20095919",  # thin spaces
        "943.476.5919",  # dotted
        "943/476/5919",
        "943 - 476 - 5919",
        "943\u2013476\u20135919",  # en dashes
        "943\u2011476\u20115919",  # non-breaking hyphens
        "943.476-5919",  # mixed
        "94\u200b34765919",  # a zero-width space inside
        "\uff19\uff14\uff13\uff14\uff17\uff16\uff15\uff19\uff11\uff19",  # full-width digits
    ],
)
def test_nhs_number_in_other_spellings_is_identifiable(spelled: str) -> None:
    text = f"Can I send the records of {spelled} to the new practice?"
    report = assess(text)
    assert report.identifiable
    assert report.kinds == [NHS_NUMBER]
    (finding,) = report.findings
    assert finding.text == spelled  # the span is of the text as typed, so redaction removes all of it
    assert redact(text) == "Can I send the records of [NHS number] to the new practice?"


@pytest.mark.parametrize(
    "spelled", ["9434 765 918", "943.476.5918", "943\u00a0476\u00a05918", "123 456 789 0"]
)
def test_other_spellings_with_a_bad_check_digit_are_not_nhs_numbers(spelled: str) -> None:
    assert NHS_NUMBER not in kinds_of(f"Reference {spelled} on the invoice")


@pytest.mark.parametrize(
    "text",
    [
        "Call +44 20 7946 0018 for the ICB",  # ten digits after +44 are a phone number's
        "Ring 0044 20 7946 0018",
        "total 9434765919.5 pounds",
        "total 1,9434765919 pounds",
    ],
)
def test_digits_of_other_numbers_are_not_nhs_numbers(text: str) -> None:
    assert NHS_NUMBER not in kinds_of(text)


def test_normalise_folds_spaces_and_dashes_and_drops_invisible_characters() -> None:
    assert normalise("a\u00a0b\u2009c\u202fd\u2007e") == "a b c d e"
    assert normalise("1\u20132\u20143\u22124\u20115") == "1-2-3-4-5"
    assert normalise("9\u200b4\u200c3\u200d4\ufeff") == "9434"
    assert normalise("\uff11\uff12") == "12"


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("DOB 1975-03-04", "1975-03-04"),
        ("born 1975-03-04", "1975-03-04"),
        ("D.O.B. 4.3.75", "4.3.75"),
        ("dob 04-03-1975", "04-03-1975"),
        ("date of birth: 4th of March 1975", "4th of March 1975"),
        ("DOB\u00a004/03/1975", "04/03/1975"),
        ("DOB 1975\u201303\u201304", "1975\u201303\u201304"),
    ],
)
def test_dates_of_birth_in_iso_numeric_and_written_forms(text: str, date: str) -> None:
    report = assess(text)
    assert report.kinds == [DATE_OF_BIRTH]
    assert report.findings[0].text == date


def test_the_table_row_2_question_is_identifiable_and_names_the_name() -> None:
    text = "Mrs Jane Patient DOB 04/03/1975 lives at SW1A 1AA, can she see her notes?"
    report = assess(text)
    assert report.identifiable
    assert report.kinds == [NAME, DATE_OF_BIRTH, POSTCODE]
    assert report.findings[0].text == "Mrs Jane Patient"
    assert redact(text) == "[name] DOB [date of birth] lives at [postcode], can she see her notes?"
    assert "a name" in warning_message(report)


@pytest.mark.parametrize(
    "text",
    [
        "my patient John Smith wants his records",
        "A patient called Mr J. Smith complained",
        "Patient: Jane O'Brien-Jones asked for a copy",
        "patient Jane Smith (1975-03-04) asked",  # a date beside a patient's name is a birthday
        "Jane Smith, DOB 1/2/80, asked for her records",
        "Mr J. Smith, 07700 900123, rang about his repeat prescription",
        "Jane Smith 943 476 5919 asked",
        "Can Mrs Sarah Green at M1 1AE register?",
        "NHS 943 476 5919, 1975-03-04",  # an uncued date beside an NHS number
    ],
)
def test_names_tied_to_a_patient_or_beside_an_identifier_are_identifiable(text: str) -> None:
    report = assess(text)
    assert report.identifiable
    if "943" not in text:
        assert NAME in report.kinds


@pytest.mark.parametrize(
    "text",
    [
        "What did Professor Nigel Sparrow's review say?",
        "What did Mr Hunt announce on 1 July 2022?",
        "Did Dr Claire Gerada speak at the conference in April 2019?",
        "Does Patient Access cost anything?",
        "Are Patient Group Directions signed by the practice?",
        "How do we set up a Patient Participation Group?",
        "Our surgery is on Church Lane, M1 1AE.",  # streets are not people
        "Which ICB covers North East London, E1 6AN?",
        "Email the practice manager at manager@nhs.net",
    ],
)
def test_public_names_places_and_nhs_terms_are_not_patients(text: str) -> None:
    report = assess(text)
    assert NAME not in report.kinds
    assert not report.identifiable


# --- Property tests ---------------------------------------------------------------------------------

SEPARATORS = [
    "",
    " ",
    "  ",
    "-",
    ".",
    "/",
    " - ",
    "\u00a0",  # no-break space
    "\u2009",  # thin space
    "\u202f",  # narrow no-break space
    "\u2007",  # figure space
    "\u200b",  # zero-width space
    "\u2013",  # en dash
    "\u2014",  # em dash
    "\u2212",  # minus sign
    "\u2011",  # non-breaking hyphen
    "\u00a0-\u00a0",
]
PREFIXES = ["", "NHS number ", "NHS no. ", "Patient ", "Can I share ", "Records for "]
SUFFIXES = ["", "?", " please.", " wants a copy of their records.", ", what do we do?"]


def _with_check_digit(nine: list[int]) -> str | None:
    total = sum(w * d for w, d in zip(range(10, 1, -1), nine, strict=True))
    check = (11 - total % 11) % 11
    return None if check == 10 else "".join(map(str, nine)) + str(check)


valid_nhs_numbers = (
    st.lists(st.integers(0, 9), min_size=9, max_size=9).map(_with_check_digit).filter(lambda d: d is not None)
)
invalid_nhs_numbers = st.text("0123456789", min_size=10, max_size=10).filter(
    lambda d: not nhs_number_is_valid(d)
)


@st.composite
def spelled(draw: st.DrawFn, digits: str) -> str:
    """`digits` cut into 1-4 groups at random places, each gap a random separator."""
    cuts = sorted(draw(st.sets(st.integers(1, 9), max_size=3)))
    groups = [digits[a:b] for a, b in itertools.pairwise([0, *cuts, 10])]
    out = groups[0]
    for group in groups[1:]:
        out += draw(st.sampled_from(SEPARATORS)) + group
    return out


@settings(max_examples=200, deadline=None)
@given(data=st.data(), digits=valid_nhs_numbers)
def test_property_valid_nhs_numbers_are_always_caught(data: st.DataObject, digits: str) -> None:
    number = data.draw(spelled(digits))
    text = data.draw(st.sampled_from(PREFIXES)) + number + data.draw(st.sampled_from(SUFFIXES))
    report = assess(text)
    assert report.identifiable
    nhs = [f for f in report.findings if f.kind == NHS_NUMBER]
    assert len(nhs) == 1
    assert re.sub(r"\D", "", normalise(nhs[0].text)) == digits
    assert digits not in re.sub(r"\D", "", normalise(redact(text)))


@settings(max_examples=200, deadline=None)
@given(data=st.data(), digits=invalid_nhs_numbers)
def test_property_invalid_check_digits_are_never_nhs_numbers(data: st.DataObject, digits: str) -> None:
    number = data.draw(spelled(digits))
    text = data.draw(st.sampled_from(PREFIXES)) + number + data.draw(st.sampled_from(SUFFIXES))
    assert NHS_NUMBER not in kinds_of(text)


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
DOB_CUES = ["DOB ", "DOB: ", "dob ", "D.O.B. ", "d.o.b ", "born ", "born on ", "Date of birth: ", "b. "]


def _ordinal(day: int) -> str:
    return str(day) + ("th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th"))


def _date_spellings(d: datetime.date) -> list[str]:
    month = MONTHS[d.month - 1]
    return [
        d.isoformat(),  # 1975-03-04
        f"{d.year}/{d.month}/{d.day}",
        f"{d.day:02d}/{d.month:02d}/{d.year}",  # 04/03/1975
        f"{d.day}/{d.month}/{d.year % 100:02d}",
        f"{d.day}.{d.month}.{d.year % 100:02d}",  # 4.3.75
        f"{d.day:02d}-{d.month:02d}-{d.year}",  # 04-03-1975
        f"{d.day} {month} {d.year}",  # 4 March 1975
        f"{_ordinal(d.day)} of {month} {d.year}",  # 4th of March 1975
        f"{_ordinal(d.day)} {month[:3]} {d.year}",
        f"{month} {d.day}, {d.year}",  # March 4, 1975
        f"{month} {_ordinal(d.day)} {d.year}",
    ]


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    day=st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2025, 12, 31)),
)
def test_property_dates_of_birth_are_found_after_a_cue(data: st.DataObject, day: datetime.date) -> None:
    date = data.draw(st.sampled_from(_date_spellings(day)))
    cue = data.draw(st.sampled_from(DOB_CUES))
    report = assess(f"Patient {cue}{date} asked about repeat prescriptions.")
    dobs = [f.text for f in report.findings if f.kind == DATE_OF_BIRTH]
    assert dobs == [date]
    # With a postcode beside it, a date of birth identifies someone.
    assert assess(f"Patient {cue}{date}, lives at SW1A 1AA").identifiable


# --- Ordinary guidance text is never flagged -----------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def _guidance_lines() -> list[str]:
    questions = [
        json.loads(line)["question"]
        for line in (ROOT / "tests" / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    headings = []
    for note in sorted((ROOT / "corpus").rglob("*.md")):
        for line in note.read_text(encoding="utf-8").splitlines():
            if re.match(r"#{1,6}\s", line) or line.startswith("title:"):
                headings.append(line.lstrip("#").removeprefix("title:").strip())
    return [*questions, *headings]


GUIDANCE_LINES = _guidance_lines()


def test_there_are_eval_questions_and_headings_to_check() -> None:
    assert len(GUIDANCE_LINES) > 200


def test_no_eval_question_or_corpus_heading_is_identifiable() -> None:
    flagged = [(line, assess(line).kinds) for line in GUIDANCE_LINES if assess(line).findings]
    assert flagged == []
