"""Completion criteria and step activities: the shared validators, the admin's step form, the step page.

Properties: ``validate_completion_criteria`` / ``validate_activity`` either
accept a value or raise ``SchemaError`` with readable messages, never another
exception; a value they accept is one the engine, the quiz form and the step
page can use; the admin's step form answers 200 with errors (nothing saved)
or 302 (a step saved whose JSON passes the same validators), never a 5xx.
"""

import json
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from hypothesis import event, given
from hypothesis import strategies as st

from curriculum.enums import StepType
from curriculum.models import LearningStep
from mars_labs.schemas import (
    CRITERIA_TYPES,
    SchemaError,
    validate_activity,
    validate_completion_criteria,
    validate_learning_preferences,
    validate_steps_sequence,
)
from progress import engine
from progress.forms import QuizForm
from progress.models import LearningProgress
from tests.admin import make_teacher
from tests.factories import ChapterFactory, UserFactory

from .conftest import JSON, NUMBERS, TEXT, fuzz_settings, rolled_back, snapshot

pytestmark = pytest.mark.django_db

VALID_CRITERIA = st.one_of(
    st.builds(lambda v: {"type": "time", "value": v}, st.integers(1, 86400)),
    st.builds(lambda v: {"type": "quiz", "min_score": v}, st.integers(0, 100)),
    st.sampled_from([{"type": kind} for kind in ("view", "manual", "submission", "external")]),
)
CRITERIA = st.one_of(
    VALID_CRITERIA,
    JSON,
    st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(CRITERIA_TYPES), JSON)},
        optional={"value": st.one_of(NUMBERS, JSON), "min_score": st.one_of(NUMBERS, JSON), "extra": JSON},
    ),
)
QUESTION = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"text": st.one_of(TEXT, JSON), "choices": st.one_of(st.lists(TEXT, max_size=4), JSON)},
        optional={"answer": st.one_of(st.integers(-2, 5), NUMBERS, JSON), "explanation": st.one_of(TEXT, JSON)},
    ),
)
ACTIVITY = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {},
        optional={
            "questions": st.one_of(st.lists(QUESTION, max_size=3), JSON),
            "video_url": st.one_of(TEXT, st.sampled_from(["https://x.example/v.mp4", "/static/a.mp4", "/x\n",
                                                          "javascript:alert(1)", "//evil.example"])),
            "simulation_url": st.one_of(TEXT, JSON),
            "expected_answer": st.one_of(TEXT, JSON),
            "instructions": st.one_of(TEXT, JSON),
        },
    ),
)


def checked(validate, *args, **kwargs):
    """True when accepted, False when refused with readable messages; anything else fails the test."""
    try:
        validate(*args, **kwargs)
    except SchemaError as error:
        assert error.messages and all(isinstance(m, str) and m.strip() for m in error.messages)
        return False
    return True


@fuzz_settings(400)
@given(criteria=CRITERIA)
def test_criteria_are_accepted_or_refused_with_a_message(criteria):
    accepted = checked(validate_completion_criteria, criteria)
    event(f"accepted={accepted}")
    if accepted:
        step = LearningStep(step_type=StepType.READING, required_completion_criteria=criteria, activity={})
        met, percentage, reason = engine.evaluate(progress=LearningProgress(step=step), step=step)
        assert 0 <= percentage <= 100 and isinstance(reason, str)


@fuzz_settings(400)
@given(activity=ACTIVITY, criteria=st.one_of(st.none(), CRITERIA))
def test_activities_are_accepted_or_refused_with_a_message(activity, criteria):
    accepted = checked(validate_activity, activity, criteria=criteria)
    event(f"accepted={accepted}")
    if accepted:
        step = LearningStep(step_type=StepType.QUIZ, activity=activity)
        questions = engine.quiz_questions(step)
        form = QuizForm(questions=questions)
        assert len(form.fields) == len(activity.get("questions", []))
        for question in activity.get("questions", []):
            assert 0 <= question["answer"] < len(question["choices"])


@fuzz_settings(200)
@given(value=JSON)
def test_preferences_and_step_sequences_are_accepted_or_refused_with_a_message(value):
    checked(validate_learning_preferences, value)
    checked(validate_steps_sequence, value)


@fuzz_settings(100)
@given(text=st.one_of(st.sampled_from(["phy\n", "phy", "a" * 32, "a" * 33, "1phy", "phy ", "ph\ny"]), TEXT))
def test_subject_codes_are_whole_matches(text):
    """JSON Schema patterns are ECMA-262: ``$`` ends the text, so "phy\\n" is not a subject code."""
    from mars_labs.schemas import validate_marslabs_progress

    accepted = checked(validate_marslabs_progress, {"subject_progress": {text: {}}})
    assert accepted == (len(text) <= 32 and text[:1].isascii() and text[:1].islower()
                        and all(c.isascii() and (c.islower() or c.isdigit() or c in "_-") for c in text))


# --- the admin's step form, as a teacher submits it ------------------------------------

FORM_TEXT = st.one_of(TEXT, st.text(max_size=80)).map(lambda t: t.replace("\x00", ""))
QUIZ_TEXT = st.one_of(
    FORM_TEXT,
    st.lists(st.sampled_from(["Q: 2 + 2 =", "- 3", "* 4", "- 5", "*", "-", "Why: because", "Q:", "loose line",
                              "* also right", "", "q: lower case"]), max_size=8).map("\n".join),
)


@pytest.fixture
def teacher_client(client):
    client.force_login(make_teacher(username="tara"))
    return client


# A step a teacher could well write; the test then spoils some of its fields with junk.
GOOD_STEP = {
    "step_type": "quiz", "criteria_type": "quiz", "criteria_seconds": "", "criteria_min_score": "70",
    "questions": "Q: 2 + 2 =\n- 3\n* 4\nWhy: count", "video_url": "", "simulation_url": "",
    "expected_answer": "", "instructions": "",
}
JUNK = {
    "step_type": st.one_of(st.sampled_from(StepType.values), FORM_TEXT),
    "criteria_type": st.one_of(st.sampled_from(CRITERIA_TYPES), FORM_TEXT),
    "criteria_seconds": st.one_of(st.sampled_from(["", "60", "0", "-5", "86401", "1e3", "²", "9" * 40]), FORM_TEXT),
    "criteria_min_score": st.one_of(st.sampled_from(["", "70", "101", "-1", "70.5", "٧٠"]), FORM_TEXT),
    "questions": QUIZ_TEXT,
    "video_url": st.one_of(st.sampled_from(["", "https://v.example/a.mp4", "javascript:alert(1)", "/a b", "/a\n"]),
                           FORM_TEXT),
    "simulation_url": st.one_of(st.sampled_from(["", "https://lab.example/ohm", "data:text/html,x"]), FORM_TEXT),
    "expected_answer": FORM_TEXT,
    "instructions": FORM_TEXT,
}
STEP_POSTS = st.sets(st.sampled_from(sorted(JUNK)), max_size=3).flatmap(
    lambda names: st.fixed_dictionaries({name: JUNK[name] for name in names}).map(lambda junk: {**GOOD_STEP, **junk})
)


@fuzz_settings(40)
@given(fields=STEP_POSTS)
def test_admin_step_form_saves_valid_steps_and_refuses_the_rest(teacher_client, fields):
    chapter = ChapterFactory(title="Ohm's Law")
    url = reverse("admin:curriculum_learningstep_add")
    data = {"chapter": str(chapter.pk), "title": "Fuzzed", "order_index": "", "content": "Hi", "_save": "Save",
            **fields}
    with rolled_back():
        before = snapshot()
        response = teacher_client.post(url, data)
        assert response.status_code in (200, 302), response.status_code
        event(f"admin answered {response.status_code}")
        if response.status_code == 200:
            assert response.context["adminform"].form.errors
            assert snapshot() == before
        else:
            step = LearningStep.objects.get(chapter=chapter, title="Fuzzed")
            step.full_clean()
            validate_completion_criteria(step.required_completion_criteria)
            validate_activity(step.activity, criteria=step.required_completion_criteria)
            # And a learner can open it (their own client: the teacher's session must outlive the savepoint).
            learner_client = Client()
            learner_client.force_login(UserFactory(grade=12))
            assert learner_client.get(step.get_absolute_url()).status_code == 200


# --- the curriculum importer, the operators' way in -------------------------------------

STEP_TYPES_OR_JUNK = st.one_of(st.sampled_from(StepType.values), TEXT)


@st.composite
def curriculum_files(draw):
    """A curriculum with one chapter whose steps carry generated criteria and activities (as JSON text)."""
    steps = []
    for number in range(1, draw(st.integers(1, 3)) + 1):
        step = {"title": f"Step {number}", "step_type": "reading", "order_index": number, "content": draw(TEXT)}
        if draw(st.booleans()):  # a step as a teacher would write it
            step["criteria"] = draw(VALID_CRITERIA.filter(lambda c: c["type"] != "quiz"))
            if draw(st.booleans()):
                step["activity"] = {"instructions": draw(TEXT)}
        else:  # or spoilt
            step["step_type"] = draw(STEP_TYPES_OR_JUNK)
            if draw(st.booleans()):
                step["criteria"] = draw(CRITERIA)
            if draw(st.booleans()):
                step["activity"] = draw(ACTIVITY)
        steps.append(step)
    document = {"format": "mars-labs-curriculum", "version": 1, "subjects": [{
        "code": "phy", "name": "Physics", "order": 1,
        "chapters": [{"title": "Fuzzed", "grade": 12, "order_index": 1, "description": "Fuzzed steps.",
                      "steps": steps}],
    }]}
    # NaN, Infinity and a 5000-digit number are what a hand-edited file might hold; the importer must refuse
    # them cleanly. Python writes such a number only when allowed to.
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return json.dumps(document, allow_nan=True)
    finally:
        sys.set_int_max_str_digits(limit)


@fuzz_settings(50)
@given(text=curriculum_files())
def test_import_curriculum_imports_valid_steps_or_changes_nothing(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("curriculum") / "curriculum.json"
    path.write_text(text, encoding="utf-8")
    with rolled_back():
        before = snapshot()
        try:
            call_command("import_curriculum", str(path), stdout=StringIO(), stderr=StringIO())
        except CommandError as error:
            event("refused")
            assert str(error).strip()
            assert snapshot() == before
            return
        event("imported")
        for step in LearningStep.objects.filter(chapter__title="Fuzzed"):
            step.full_clean()
            validate_completion_criteria(step.required_completion_criteria)
            validate_activity(step.activity, criteria=step.required_completion_criteria)
