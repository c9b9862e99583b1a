"""What a question asks for, read off its wording: the checks the composer's refusals rest on."""

from __future__ import annotations

import pytest

from assistant.answer_type import asked_for, asked_treatment, asked_whether, expected_type, has_type


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("How many days' notice must a practice give its patients?", ["notice"]),
        ("How much management allowance did fundholders receive?", ["management", "allowance"]),
        ("What is the maximum reimbursable salary for a pharmacist?", ["reimbursable", "salary"]),
        ("What starting salary do trainees receive?", ["starting", "salary"]),
        ("Which online portal do we use for claims?", ["online", "portal"]),
        ("How much is the yearly subscription for Associate membership?", ["subscription"]),
        ("How much does a typical partnership buy-in cost?", ["partnership", "buy-in"]),
        ("How many CPD hours a year must a manager record?", ["cpd", "hours"]),
        # Words that only name the kind of answer, and verbs after the noun phrase, name nothing.
        ("How many people got the payment?", []),
        ("What share of managers had no training?", []),
        ("How many CCGs replaced the primary care trusts?", ["ccgs"]),
        ("When did fundholding begin?", []),
    ],
)
def test_asked_for_reads_the_wh_phrase(question: str, named: list[str]) -> None:
    assert asked_for(question) == named


def test_asked_treatment_of_passive_how_questions() -> None:
    assert asked_treatment("How is the £20,000 payment taxed?") == "taxed"
    assert asked_treatment("How are cluster leads funded in Wales?") == "funded"
    assert asked_treatment("How long does accreditation take?") is None


def test_dates_are_no_answer_to_how_many() -> None:
    assert expected_type("How many practices joined?") == "number"
    assert not has_type("The review reported on 15 January 2019.", "number")
    assert has_type("About 2,000 of 8,911 buildings were not fit for purpose in 2022.", "number")
    assert has_type("It has at least one partner member.", "number")


def test_a_share_is_no_sum_of_money_unless_a_share_is_asked() -> None:
    assert expected_type("How much is the fee?") == "money"
    assert not has_type("Members hit 95% of the points.", "money")
    assert has_type("The fee was £280 plus VAT.", "money")
    assert expected_type("How much of the salary is reimbursed?") == "percent"


def test_when_is_answered_by_a_relative_time_and_may_is_no_month() -> None:
    assert has_type("Forms are returned two weeks before the meeting.", "date")
    assert not has_type("Practices may apply again later.", "date")
    assert has_type("Practices applied in May 2022.", "date")


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("Does it count towards NHS pension?", ["nhs", "pension"]),
        ("Do I need a formal qualification to work as a practice manager?", ["formal", "qualification"]),
        (
            "Can a patient get financial compensation through the complaints procedure?",
            ["financial", "compensation"],
        ),
        ("Can our nurses do it?", []),
        ("How long does it take?", []),
    ],
)
def test_asked_whether_reads_the_closing_noun_phrase(question: str, named: list[str]) -> None:
    assert asked_whether(question) == named


def test_who_expects_a_name_the_question_does_not_already_give() -> None:
    question = "Who received the final report of the GP Partnership Review?"
    assert expected_type(question) == "name"
    assert expected_type("Which regulator did HEE work with?") == "name"
    assert not has_type("The GP Partnership Review published its final report.", "name", question)
    assert has_type("The chair delivered it to Matt Hancock.", "name", question)


def test_hours_are_a_duration_and_a_deadline_a_date() -> None:
    assert expected_type("What is the deadline for reporting a breach?") == "date"
    assert has_type("A breach must be reported within 72 hours.", "date")
