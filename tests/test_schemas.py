"""The JSON shapes in mars_labs/schemas.py: what passes, and what a teacher is told when it does not.

One table of good values and one of bad values with the exact messages, for
every ``validate_*`` function; then the model ``clean()`` methods that put
those messages on the right admin field.
"""

import uuid
from functools import partial

import pytest
from django.core.exceptions import ValidationError

from mars_labs.schemas import (
    SchemaError,
    validate_activity,
    validate_completion_criteria,
    validate_learning_preferences,
    validate_marslabs_progress,
    validate_steps_sequence,
)
from progress.models import LearningPath, Progress
from tests.factories import ChapterFactory, QuizStepFactory, StepFactory, UserFactory

QUIZ_CRITERIA = {"type": "quiz", "min_score": 70}
VALIDATORS = {
    "criteria": validate_completion_criteria,
    "activity": validate_activity,
    "quiz activity": partial(validate_activity, criteria=QUIZ_CRITERIA),
    "preferences": validate_learning_preferences,
    "steps": validate_steps_sequence,
    "marslabs": validate_marslabs_progress,
}
TYPES = "time, quiz, view, manual, submission, external"
STEP_ID = "6f1c1a3e-8b8e-4b8f-9c1d-2a3b4c5d6e7f"
OTHER_STEP_ID = "0b7c2d4e-1111-4a2b-8c3d-9e8f7a6b5c4d"


def _question(**overrides):
    return {"text": "Unit of resistance?", "choices": ["volt", "ohm"], "answer": 1, **overrides}


GOOD = [
    # criteria: one of each type
    ("criteria", {"type": "time", "value": 60}),
    ("criteria", {"type": "time", "value": 1}),
    ("criteria", {"type": "time", "value": 24 * 60 * 60}),
    ("criteria", {"type": "quiz", "min_score": 70}),
    ("criteria", {"type": "quiz", "min_score": 0}),
    ("criteria", {"type": "quiz", "min_score": 100}),
    ("criteria", {"type": "view"}),
    ("criteria", {"type": "manual"}),
    ("criteria", {"type": "submission"}),
    ("criteria", {"type": "external"}),
    # activity
    ("activity", {}),
    ("activity", {"questions": [_question(), _question(answer=0, explanation="Ohm, after Georg Ohm.")]}),
    ("activity", {"video_url": "https://videos.example.org/ohm.mp4"}),
    ("activity", {"video_url": "/static/videos/ohm.mp4"}),
    ("activity", {"simulation_url": "http://olabs.example/sim/1", "instructions": "Move the slider."}),
    ("activity", {"expected_answer": "5 ohm"}),
    ("quiz activity", {"questions": [_question()]}),
    # learning preferences
    ("preferences", {}),
    (
        "preferences",
        {"daily_goal_minutes": 30, "preferred_step_types": ["video", "quiz"], "captions": True,
         "reduced_motion": False},
    ),
    ("preferences", {"daily_goal_minutes": 0}),
    ("preferences", {"daily_goal_minutes": 600}),
    # steps sequence
    ("steps", []),
    ("steps", [STEP_ID, OTHER_STEP_ID]),
    ("steps", [STEP_ID.upper()]),
    ("steps", [STEP_ID.replace("-", "")]),
    # MARS-labs progress documents
    ("marslabs", {"subject_progress": {}}),
    (
        "marslabs",
        {"class": 12, "subject_progress": {"phy": {"completed_experiments": ["Ohm's Law"],
                                                   "completed_quizzes": ["Ohm's Law"]}}},
    ),
    ("marslabs", {"class": 1, "subject_progress": {"chem": {}, "math": {"completed_quizzes": []}}}),
    # MARS-labs clients sometimes sent the class as a string.
    ("marslabs", {"class": "12", "subject_progress": {}}),
    # Documents are kept verbatim: extra keys inside a subject are not an error.
    ("marslabs", {"subject_progress": {"phy": {"completed_experiments": [], "score": 5}}}),
]


BAD = [
    # --- validate_completion_criteria ---
    ("criteria", {"type": "bogus"}, [f"Unknown completion type 'bogus': use one of {TYPES}."], "unknown type"),
    ("criteria", {"value": 60}, [f"Completion criteria need a type: one of {TYPES}."], "missing type"),
    ("criteria", {"type": None}, [f"Completion criteria need a type: one of {TYPES}."], "null type"),
    ("criteria", {"type": ""}, [f"Completion criteria need a type: one of {TYPES}."], "empty type"),
    (
        "criteria", {"type": ["time"]},
        [f"Unknown completion type ['time']: use one of {TYPES}."], "list as type",
    ),
    ("criteria", {"type": "time", "value": -5}, ["Time cannot be negative: -5 seconds."], "negative time"),
    (
        "criteria", {"type": "time", "value": "60"},
        ["criteria.value: time must be a whole number of seconds, not '60'"], "time as string",
    ),
    (
        "criteria", {"type": "time", "value": 1.5},
        ["criteria.value: time must be a whole number of seconds, not 1.5"], "fractional time",
    ),
    (
        "criteria", {"type": "time", "value": 0},
        ["criteria.value: time must be at least 1 second (got 0)"], "zero time",
    ),
    (
        "criteria", {"type": "time", "value": 100_000},
        ["criteria.value: time cannot exceed 24 hours (got 100000 seconds)"], "time over a day",
    ),
    ("criteria", {"type": "time"}, ["criteria: is missing the 'value' field"], "time without value"),
    (
        "criteria", {"type": "quiz", "min_score": 101},
        ["criteria.min_score: the pass mark must be between 0 and 100, not 101"], "min_score above 100",
    ),
    (
        "criteria", {"type": "quiz", "min_score": -1},
        ["criteria.min_score: the pass mark must be between 0 and 100, not -1"], "negative min_score",
    ),
    (
        "criteria", {"type": "quiz", "min_score": "70"},
        ["criteria.min_score: the pass mark must be a whole number from 0 to 100, not '70'"], "min_score as string",
    ),
    ("criteria", {"type": "quiz"}, ["criteria: is missing the 'min_score' field"], "missing min_score"),
    ("criteria", {"type": "view", "extra": 1}, ["criteria: has an unknown field 'extra'"], "unknown extra field"),
    (
        "criteria", {"type": "time", "value": 60, "unit": "s"},
        ["criteria: has an unknown field 'unit'"], "unknown field beside time",
    ),
    (
        "criteria", [],
        ['Completion criteria must be an object such as {"type": "time", "value": 60}.'], "list not object",
    ),
    (
        "criteria", "time",
        ['Completion criteria must be an object such as {"type": "time", "value": 60}.'], "string not object",
    ),
    # --- validate_activity ---
    (
        "quiz activity", {},
        ["A quiz step needs at least one question with a correct answer marked."], "quiz without questions",
    ),
    (
        "quiz activity", {"video_url": "https://videos.example.org/ohm.mp4"},
        ["A quiz step needs at least one question with a correct answer marked."], "quiz with only a video",
    ),
    (
        "quiz activity", {"questions": []},
        ["activity.questions: a quiz needs at least one question"], "quiz with empty questions",
    ),
    (
        "activity", {"questions": []},
        ["activity.questions: a quiz needs at least one question"], "empty questions list",
    ),
    (
        "activity", {"questions": [_question(), {"text": "2 + 2?", "choices": ["3", "4"]}]},
        ["Question 2 has no correct answer marked."], "question missing answer",
    ),
    (
        "activity", {"questions": [_question(answer=2)]},
        ["Question 1: the answer is 2, but its 2 choices are numbered 0 to 1."], "answer index out of range",
    ),
    (
        "activity", {"questions": [_question(answer=-1)]},
        ["activity.questions[0].answer: must be the number of the correct choice, counting from 0, not -1"],
        "negative answer index",
    ),
    (
        "activity", {"questions": [_question(answer="ohm")]},
        ["activity.questions[0].answer: must be the number of the correct choice, counting from 0, not 'ohm'"],
        "answer given as text",
    ),
    (
        "activity", {"questions": [_question(choices=["ohm"], answer=0)]},
        ["activity.questions[0].choices: needs at least two choices"], "fewer than 2 choices",
    ),
    (
        "activity", {"questions": [_question(choices=["volt", ""])]},
        ["activity.questions[0].choices[1]: cannot be empty"], "empty choice",
    ),
    ("activity", {"questions": [_question(text="")]}, ["activity.questions[0].text: cannot be empty"], "empty text"),
    (
        "activity", {"questions": [_question(hint="Think of Georg.")]},
        ["activity.questions[0]: has an unknown field 'hint'"], "unknown question field",
    ),
    (
        "activity", {"questions": "What is an ohm?"},
        ["activity.questions: must be a list of questions"], "questions as text",
    ),
    (
        "activity", {"video_url": "javascript:alert(1)"},
        ["activity.video_url: must start with http://, https:// or / (got 'javascript:alert(1)')"],
        "javascript video url",
    ),
    (
        "activity", {"simulation_url": "ftp://olabs.example/sim"},
        ["activity.simulation_url: must start with http://, https:// or / (got 'ftp://olabs.example/sim')"],
        "ftp simulation url",
    ),
    ("activity", {"video_url": 5}, ["activity.video_url: must be a web address"], "number as url"),
    ("activity", {"colour": "red"}, ["activity: has an unknown field 'colour'"], "unknown activity field"),
    ("activity", [], ["activity: must be a JSON object"], "activity list"),
    # --- validate_learning_preferences ---
    ("preferences", {"theme": "dark"}, ["preferences: has an unknown preference 'theme'"], "unknown key"),
    (
        "preferences", {"daily_goal_minutes": "30"},
        ["preferences.daily_goal_minutes: the daily goal must be a whole number of minutes"], "goal as string",
    ),
    (
        "preferences", {"daily_goal_minutes": -1},
        ["preferences.daily_goal_minutes: the daily goal cannot be negative"], "negative goal",
    ),
    (
        "preferences", {"daily_goal_minutes": 601},
        ["preferences.daily_goal_minutes: the daily goal cannot exceed 600 minutes"], "goal over 600",
    ),
    ("preferences", {"captions": "yes"}, ["preferences.captions: must be true or false"], "captions as string"),
    (
        "preferences", {"preferred_step_types": ["dance"]},
        ["preferences.preferred_step_types[0]: 'dance' is not a step type"], "unknown step type",
    ),
    (
        "preferences", {"preferred_step_types": ["quiz", "quiz"]},
        ["preferences.preferred_step_types: lists a step type twice"], "step type twice",
    ),
    (
        "preferences", {"preferred_step_types": "quiz"},
        ["preferences.preferred_step_types: must be a list of step types"], "step types not a list",
    ),
    ("preferences", [], ["preferences: must be a JSON object"], "preferences list"),
    # --- validate_steps_sequence ---
    ("steps", [STEP_ID, STEP_ID], ["steps: lists the same step twice"], "duplicate id"),
    ("steps", [STEP_ID, STEP_ID.upper()], ["steps: lists the same step twice"], "duplicate id other case"),
    (
        "steps", [STEP_ID, STEP_ID.replace("-", "")],
        ["steps: lists the same step twice"], "duplicate id without hyphens",
    ),
    ("steps", [STEP_ID, "not-a-uuid"], ["steps[1]: 'not-a-uuid' is not a step id"], "non-uuid"),
    ("steps", [STEP_ID + "\n"], [f"steps[0]: '{STEP_ID}\\n' is not a step id"], "uuid with trailing newline"),
    ("steps", [42], ["steps[0]: must be a step id"], "number as id"),
    ("steps", STEP_ID, ["steps: must be a list of step ids"], "string not list"),
    # --- validate_marslabs_progress ---
    ("marslabs", {"class": 12}, ["progress_data: is missing the 'subject_progress' field"], "missing subject_progress"),
    (
        "marslabs", {"class": 13, "subject_progress": {}},
        ["progress_data.class: class must be from 1 to 12, not 13"], "class 13",
    ),
    (
        "marslabs", {"class": "13", "subject_progress": {}},
        ["progress_data.class: class must be from 1 to 12, not 13"], "class 13 as string",
    ),
    (
        "marslabs", {"class": 0, "subject_progress": {}},
        ["progress_data.class: class must be from 1 to 12, not 0"], "class 0",
    ),
    (
        "marslabs", {"class": "twelve", "subject_progress": {}},
        ["progress_data.class: class must be a whole number from 1 to 12, not 'twelve'"], "class in words",
    ),
    (
        "marslabs", {"subject_progress": {"phy": {"completed_experiments": "Ohm's Law"}}},
        ["progress_data.subject_progress.phy.completed_experiments: must be a list of titles"],
        "completed_experiments not a list",
    ),
    (
        "marslabs", {"subject_progress": {"phy": {"completed_quizzes": [3]}}},
        ["progress_data.subject_progress.phy.completed_quizzes[0]: must be a title"], "number as title",
    ),
    (
        "marslabs", {"subject_progress": {"phy": {"completed_quizzes": [""]}}},
        ["progress_data.subject_progress.phy.completed_quizzes[0]: is empty"], "empty title",
    ),
    (
        "marslabs", {"subject_progress": {"Physics!": {}}},
        ["progress_data.subject_progress: 'Physics!' is not a subject code (like phy, chem, math)"],
        "bad subject key",
    ),
    (
        "marslabs", {"subject_progress": {"phy": ["Ohm's Law"]}},
        ["progress_data.subject_progress.phy: must be an object with completed_experiments and completed_quizzes"],
        "subject as list",
    ),
    (
        "marslabs", {"subject_progress": []},
        ["progress_data.subject_progress: must be an object keyed by subject code"], "subject_progress list",
    ),
    ("marslabs", [], ["progress_data: must be a JSON object"], "document list"),
]


@pytest.mark.parametrize(("validator", "value"), GOOD, ids=[f"{name}:{value!r}"[:80] for name, value in GOOD])
def test_schema_accepts_good_value(validator, value):
    VALIDATORS[validator](value)


@pytest.mark.parametrize(
    ("validator", "value", "messages"),
    [row[:3] for row in BAD],
    ids=[f"{row[0]}:{row[3]}" for row in BAD],
)
def test_schema_rejects_bad_value_with_message(validator, value, messages):
    with pytest.raises(SchemaError) as excinfo:
        VALIDATORS[validator](value)

    assert excinfo.value.messages == messages


def test_schema_error_is_a_validation_error():
    # Forms and model clean() catch ValidationError; SchemaError must be one.
    with pytest.raises(ValidationError):
        validate_completion_criteria({"type": "bogus"})


def test_schema_reports_every_problem_at_once():
    with pytest.raises(SchemaError) as excinfo:
        validate_learning_preferences({"daily_goal_minutes": -1, "captions": "yes"})

    assert excinfo.value.messages == [
        "preferences.captions: must be true or false",
        "preferences.daily_goal_minutes: the daily goal cannot be negative",
    ]


def test_marslabs_class_as_string_kept_verbatim():
    document = {"class": "12", "subject_progress": {}}

    validate_marslabs_progress(document)

    assert document == {"class": "12", "subject_progress": {}}


# --- model clean() puts the message on the field a teacher edits -------------------------


@pytest.mark.django_db
def test_step_clean_bad_criteria_on_criteria_field():
    step = QuizStepFactory.build(
        chapter=ChapterFactory(), required_completion_criteria={"type": "quiz", "min_score": 101}
    )

    with pytest.raises(ValidationError) as excinfo:
        step.full_clean()

    assert excinfo.value.message_dict == {
        "required_completion_criteria": ["criteria.min_score: the pass mark must be between 0 and 100, not 101"],
    }


@pytest.mark.django_db
def test_step_clean_quiz_without_questions_on_activity_field():
    step = QuizStepFactory.build(chapter=ChapterFactory(), activity={})

    with pytest.raises(ValidationError) as excinfo:
        step.full_clean()

    assert excinfo.value.message_dict == {
        "activity": ["A quiz step needs at least one question with a correct answer marked."],
    }


@pytest.mark.django_db
def test_step_clean_bad_criteria_and_activity_both_reported():
    step = StepFactory.build(
        chapter=ChapterFactory(),
        required_completion_criteria={"type": "time", "value": -5},
        activity={"video_url": "javascript:alert(1)"},
    )

    with pytest.raises(ValidationError) as excinfo:
        step.full_clean()

    assert excinfo.value.message_dict == {
        "required_completion_criteria": ["Time cannot be negative: -5 seconds."],
        "activity": ["activity.video_url: must start with http://, https:// or / (got 'javascript:alert(1)')"],
    }


@pytest.mark.django_db
def test_step_clean_own_prerequisite_on_prerequisite_field():
    step = StepFactory()
    step.prerequisite_step = step

    with pytest.raises(ValidationError) as excinfo:
        step.full_clean()

    assert excinfo.value.message_dict == {"prerequisite_step": ["A step cannot be its own prerequisite."]}


@pytest.mark.django_db
def test_step_clean_good_quiz_step_passes():
    QuizStepFactory.build(chapter=ChapterFactory()).full_clean()


@pytest.mark.django_db
def test_profile_clean_bad_preferences_on_preferences_field():
    profile = UserFactory().profile
    profile.learning_preferences = {"theme": "dark"}

    with pytest.raises(ValidationError) as excinfo:
        profile.full_clean()

    assert excinfo.value.message_dict == {"learning_preferences": ["preferences: has an unknown preference 'theme'"]}


@pytest.mark.django_db
def test_profile_clean_good_preferences_pass():
    profile = UserFactory().profile
    profile.learning_preferences = {"daily_goal_minutes": 20, "captions": True}

    profile.full_clean()


@pytest.mark.django_db
def test_learning_path_clean_unknown_step_id_rejected():
    real = StepFactory()
    unknown = str(uuid.uuid4())
    path = LearningPath(user=UserFactory(), name="Revision", steps_sequence=[str(real.pk), unknown])

    with pytest.raises(ValidationError) as excinfo:
        path.full_clean()

    assert excinfo.value.message_dict == {"steps_sequence": [f"Unknown step ids: {unknown}"]}


@pytest.mark.django_db
def test_learning_path_clean_bad_shape_on_steps_field():
    path = LearningPath(user=UserFactory(), name="Revision", steps_sequence=["step-one"])

    with pytest.raises(ValidationError) as excinfo:
        path.full_clean()

    assert excinfo.value.message_dict == {"steps_sequence": ["steps[0]: 'step-one' is not a step id"]}


@pytest.mark.django_db
def test_learning_path_clean_real_steps_pass():
    steps = [StepFactory(), StepFactory()]
    path = LearningPath(user=UserFactory(), name="Revision", steps_sequence=[str(s.pk).upper() for s in steps])

    path.full_clean()


@pytest.mark.django_db
def test_progress_clean_bad_document_on_progress_data_field():
    document = Progress(user=UserFactory(), progress_data={"class": 13, "subject_progress": {}})

    with pytest.raises(ValidationError) as excinfo:
        document.full_clean()

    assert excinfo.value.message_dict == {"progress_data": ["progress_data.class: class must be from 1 to 12, not 13"]}


@pytest.mark.django_db
def test_progress_clean_good_document_passes():
    Progress(
        user=UserFactory(),
        progress_data={"class": 12, "subject_progress": {"phy": {"completed_experiments": ["Ohm's Law"]}}},
    ).full_clean()
