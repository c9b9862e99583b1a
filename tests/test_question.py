"""The question reader and the answer-shape detectors: closed-class words and notation only.

The sentences here are made up for the test; none is an evaluation question.
"""

from __future__ import annotations

import pytest

from assistant.answering.question import part_queries, question_parts, read
from assistant.answering.shapes import (
    asked_rate,
    counts,
    has_shape,
    new_shape,
    numbers_in,
    rate_missing,
    span_contexts,
)
from assistant.text import terms


def test_a_preposition_may_open_the_second_part() -> None:
    assert question_parts("When did the widget scheme start, and from what date did hubs take over?") == [
        "When did the widget scheme start?",
        "from what date did hubs take over?",
    ]


def test_a_part_that_points_back_is_searched_with_the_part_before_it() -> None:
    parts = question_parts("what will the new hub be called and how many rooms will it have?")
    assert part_queries(parts) == [
        "what will the new hub be called?",
        "what will the new hub be called? how many rooms will it have?",
    ]
    alone = question_parts("When did the widget scheme start, and how many widgets were made?")
    assert part_queries(alone) == alone


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How much does the widget licence cost?", "money"),
        ("What is the annual fee for the scheme?", "money"),
        ("How many weeks of leave do staff get?", "duration"),
        ("How much notice must a tenant give?", "duration"),
        ("How many clinics opened last spring?", "count"),
        ("When did the board first meet?", "date"),
        ("which year was the charter signed", "date"),
        ("Who chairs the committee?", "name"),
        ("What percentage of staff replied?", "share"),
        ("How long does a review take?", "duration"),
        ("What is a care navigator?", None),
        # A string of keywords names what it wants with its nouns.
        ("widget licence cost", "money"),
        ("gizmo hub opening date", "date"),
        ("gizmo hub staffing", None),
        ("What is the name of the hub's register?", "name"),
        ("what % of hubs replied", "share"),
        ("How quickly are permits issued?", "duration"),
        ("What annual rent does the hub pay?", "money"),
        # "how much" before a noun asks a quantity of that noun; only a noun of money asks a sum.
        ("How much study leave do trainees get?", "amount"),
        ("How much experience must an applicant have?", "amount"),
        ("How much cash did the club hold?", "money"),
        ("How much did the club pay for the hall?", "money"),
        # A noun that denotes a person or an organisation asks for a name as "who" does.
        ("Which body approves the scheme?", "name"),
        ("what supplier runs the hub portal", "name"),
        ("hub portal supplier", "name"),
        ("Which portal do members use?", None),
    ],
)
def test_kind_comes_from_question_words(question: str, kind: str | None) -> None:
    assert read(question).kind == kind


def test_context_first_question_is_read_from_its_last_clause() -> None:
    reading = read(
        "I'm new in post at a small surgery and my boss keeps asking, so when did the rota change?"
    )
    assert reading.kind == "date"
    assert reading.clause == "when did the rota change?"
    assert reading.focus[0] == "rota"  # the context before "so when" is not what is asked about


def test_focus_is_the_wh_phrase_without_kind_words() -> None:
    assert read("What starting salary do trainees get?").focus == ("starting", "salary")
    assert read("How many days' notice must we give?").focus == ("notice",)
    assert read("Which online portal do we use?").focus == ("online", "portal")
    # "which body" says what kind of answer, not what it is about; "who's" is "who is".
    assert "body" not in read("Which body signs the hub lease?").focus
    assert read("who's the treasurer of the club?").focus == ("treasurer",)


def test_yes_no_question_focus_is_its_closing_noun_phrase() -> None:
    reading = read("Does the allowance count towards the staff pension?")
    assert reading.yes_no
    assert reading.kind is None
    assert reading.focus[-1] == "pension"


def test_years_and_names_are_read() -> None:
    reading = read("What did the Harbour Trust say about funding for 2031/32?")
    assert reading.years == ("2031/32",)
    assert "Harbour Trust" in reading.names


def test_two_part_questions_split_in_two_only() -> None:
    assert question_parts("When did the widget scheme start, and how many widgets were made?") == [
        "When did the widget scheme start?",
        "how many widgets were made?",
    ]
    assert question_parts("What is a widget?") == ["What is a widget?"]


def test_an_auxiliary_after_and_opens_a_yes_no_part_and_thanks_are_no_part() -> None:
    assert question_parts("How many staff do the two hubs have, and will any lose their jobs?") == [
        "How many staff do the two hubs have?",
        "will any lose their jobs?",
    ]
    assert question_parts("what will the new hub be called and how many rooms will it have? ta") == [
        "what will the new hub be called?",
        "how many rooms will it have?",
    ]
    # A part of function words only still asks when it has a question word.
    assert question_parts("what grades has the widget maker got and when did she get them") == [
        "what grades has the widget maker got?",
        "when did she get them?",
    ]
    # "and have…" continuing a statement asks nothing: context before one question stays one question.
    context = "I'm sorting our files this week and have a pile of hub minutes. Which year did it open?"
    assert question_parts(context) == [context]


@pytest.mark.parametrize(
    ("sentence", "kind", "expected"),
    [
        ("The licence costs £4,500 a year.", "money", True),
        ("About 40% of staff replied.", "money", False),
        ("About 40% of staff replied.", "share", True),
        ("It meets every three weeks.", "duration", True),
        ("Twelve clinics opened.", "count", True),
        ("It opened on 3 March 2031.", "count", False),
        ("It opened on 3 March 2031.", "date", True),
        ("Forms are due two weeks before the meeting.", "date", True),
        ("You may apply at any time.", "date", False),
        ("The chair is Dr Amal Okafor.", "name", True),
        # Clock times and weekdays are written times; a clock time is no count.
        ("Staff must phone in by 7.30am.", "date", True),
        ("The club meets on the second Tuesday of each month.", "date", True),
        ("The desk is open 8am to 6.30pm.", "duration", True),
        ("Staff must phone in by 7am.", "count", False),
        # A numbered period is a point in time.
        ("The lease can be ended at the end of year five.", "date", True),
        ("Figures for Q2 are due.", "date", True),
        ("The year was a good one.", "date", False),
        # An amount may be given in any unit.
        ("Trainees get 27 days a year.", "amount", True),
        ("About 40% of staff replied.", "amount", True),
        ("Nobody replied.", "amount", False),
    ],
)
def test_answer_shapes(sentence: str, kind: str, expected: bool) -> None:
    assert has_shape(sentence, kind) is expected


def test_an_answer_shape_the_question_already_states_is_no_new_answer() -> None:
    question = "How much of the £9,000 grant went on training?"
    assert has_shape("The grant was worth £9,000.", "money", question)
    assert not new_shape("The grant was worth £9,000.", "money", question)
    assert new_shape("Of the £9,000, £2,500 went on training.", "money", question)
    assert not new_shape("Nothing here.", None, question)


def test_numbers_in_a_question_leave_out_years() -> None:
    assert numbers_in("What did the 2031 review say about the 4,200 square feet and room 12?") == [
        "4,200",
        "12",
    ]


def test_a_question_word_inside_a_clause_does_not_ask() -> None:
    # "when" here subordinates ("from when it began"); "which" opens the question.
    reading = read("Which hub was the technician from when the scheme began?")
    assert reading.kind is None
    assert reading.clause.startswith("Which hub")
    # After a conjunction or a question mark a question word opens a new clause.
    assert read("The rota changed, so when did it start?").kind == "date"
    assert read("we got a request? what's the deadline?").kind == "date"


def test_a_count_is_a_number_before_the_counted_noun() -> None:
    counted = set(terms("surgeries"))
    assert counts("The group has 14 member surgeries.", counted, terms)
    assert counts("Eleven of its surgeries signed up.", counted, terms)
    # The noun is named, but the number counts something else or is no count at all.
    assert not counts("The surgeries were offered three options.", counted, terms)
    assert not counts("The surgeries merged in 2019.", counted, terms)
    assert not counts("The surgeries share a £40,000 budget.", counted, terms)
    assert not counts("There are 14 member surgeries.", set(), terms)


def test_a_figure_asked_per_unit_needs_a_figure_in_that_unit() -> None:
    units = asked_rate("What is the grant per practice?", terms)
    assert units == set(terms("practice"))
    assert rate_missing(units, "The grant totals £2 million across the area.", terms)
    assert rate_missing(units, "The grant is £3 per patient.", terms)
    assert not rate_missing(units, "Each practice gets £8,000 from the grant.", terms)
    assert not rate_missing(units, "The grant pays £8,000 a practice.", terms)
    # A question that asks no rate finds none missing.
    assert not rate_missing(asked_rate("What is the grant?", terms), "The grant totals £2 million.", terms)


def test_span_contexts_are_the_words_around_each_new_answer_span() -> None:
    sentence = "The hub opened in March 2021 and the new wing is due to open in June 2025."
    contexts = span_contexts(sentence, "date", given="What happened in June 2025?", reach=15)
    # The date the question gives is no answer; the other is seen with its own neighbours only.
    assert contexts
    assert all("2021" in c and "2025" not in c for c in contexts)
    assert span_contexts(sentence, None) == []
    assert span_contexts("Nothing is dated here.", "date") == []
