"""Tests for assistant.safety: spotting, judging and redacting patient data in questions."""

from __future__ import annotations

import itertools

import pytest

from assistant.safety import (
    DATE_OF_BIRTH,
    EMAIL_ADDRESS,
    NHS_NUMBER,
    PHONE_NUMBER,
    POSTCODE,
    Finding,
    SafetyReport,
    assess,
    nhs_number_is_valid,
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
        ("Mrs Smith (b. March 3, 1975) asked", "March 3, 1975"),
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
