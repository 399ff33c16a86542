"""Quiz submissions and heartbeats, through the step page's POST endpoints and the engine.

Quiz: any form a browser (or a forger) can post answers 302 (graded, one
attempt more) or 400 (a form error; nothing written), never a 5xx; the engine
itself takes any JSON-ish answers and either grades them or refuses them
without writing. Heartbeats: any posted ``seconds``/``watched`` answers 200 or
400 (nothing written); credited time never exceeds what was claimed, the wall
clock since the previous beat, or HEARTBEAT_MAX_SECONDS.
"""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from hypothesis import event, given
from hypothesis import strategies as st

from curriculum.enums import StepType
from progress import engine
from progress.engine import Outcome
from progress.models import LearningProgress
from tests.factories import ChapterFactory, QuizStepFactory, StepFactory

from .conftest import JSON, NUMBERS, SCALARS, TEXT, fuzz_settings, rolled_back, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def quiz(learner):
    """A two-question quiz (pass mark 70), the first step of a class-12 chapter, opened by the learner."""
    step = QuizStepFactory(chapter=ChapterFactory(grade=12), order_index=1)
    engine.open_step(learner=learner, step=step)
    return step


def attempts(learner, step):
    row = LearningProgress.objects.filter(user=learner, step=step).first()
    return len(row.progress_data.get("attempts", [])) if row else 0


FIELD_NAMES = st.sampled_from(["q0", "q1", "q2", "q01", "q-1", "q", "Q0", "q0 ", "q²", "answer", "q99999999999999999"])
FIELD_VALUES = st.one_of(st.sampled_from(["0", "1", "2", "-1", "1.0", " 1", "²", "", "9" * 50]), TEXT)
# Mostly complete answers, so the grading path is exercised as often as the refusals.
QUIZ_POSTS = st.one_of(
    st.fixed_dictionaries({"q0": st.sampled_from(["0", "1", "2"]), "q1": st.sampled_from(["0", "1"])}),
    st.fixed_dictionaries({"q0": FIELD_VALUES, "q1": FIELD_VALUES}),
    st.dictionaries(FIELD_NAMES, st.one_of(FIELD_VALUES, st.lists(FIELD_VALUES, max_size=3)), max_size=4),
)


@fuzz_settings(40)
@given(data=QUIZ_POSTS)
def test_quiz_post_grades_or_refuses_without_writing(learner_client, learner, quiz, data):
    url = f"/steps/{quiz.pk}/quiz"
    with rolled_back():
        before, tries = snapshot(), attempts(learner, quiz)
        response = learner_client.post(url, data)
        event(f"quiz answered {response.status_code}")
        assert response.status_code in (302, 400), response.status_code
        if response.status_code == 400:
            assert response.context["quiz_form"].errors
            assert snapshot() == before
        else:
            assert attempts(learner, quiz) == tries + 1
            assert response["Location"].endswith("#quiz-result")
            assert learner_client.get(response["Location"]).status_code == 200


ANSWERS = st.one_of(
    st.fixed_dictionaries({"0": st.integers(0, 2), "1": st.integers(0, 1)}),
    st.dictionaries(st.one_of(st.sampled_from(["0", "1", "2", 0, 1, "²", "01", " 1", True]), TEXT),
                    st.one_of(st.integers(-1, 3), NUMBERS, SCALARS), max_size=3),
    JSON,
)


@fuzz_settings(100)
@given(answers=ANSWERS)
def test_engine_grades_quiz_answers_or_refuses_them_without_writing(learner, quiz, answers):
    with rolled_back():
        before, tries = snapshot(), attempts(learner, quiz)
        result = engine.submit_quiz(learner=learner, step=quiz, answers=answers)
        event(str(result.outcome))
        assert result.outcome in (Outcome.CHANGED, Outcome.INVALID)
        assert result.reason
        if result.outcome == Outcome.INVALID:
            assert snapshot() == before
        else:
            assert attempts(learner, quiz) == tries + 1
            assert 0 <= result.details["score"] <= 100
            # What was graded is what the learner meant: whole choice numbers, one per question.
            assert set(map(int, answers)) == {0, 1}
            assert all(float(v) == int(v) for v in answers.values())


# --- heartbeats -----------------------------------------------------------------------------


@pytest.fixture
def reading(learner):
    """A reading step needing 10 minutes of active time, opened by the learner."""
    step = StepFactory(chapter=ChapterFactory(grade=12), order_index=1, step_type=StepType.READING,
                       required_completion_criteria={"type": "time", "value": 600})
    engine.open_step(learner=learner, step=step)
    return step


SECONDS_TEXT = st.one_of(
    st.sampled_from(["15", "15.0", "0", "-1", "86400", "86401", "1e400", "nan", "inf", "-0", "²", "١٥", "0x10",
                     " 15 ", "15\n", "", "1_000", "9" * 400]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    TEXT,
)
WATCHED_TEXT = st.one_of(st.sampled_from(["", "0", "50", "100", "101", "-1", "50.5", "²"]), TEXT)


def active_seconds(learner, step):
    return LearningProgress.objects.get(user=learner, step=step).progress_data.get("active_seconds", 0)


@fuzz_settings(50)
@given(seconds=SECONDS_TEXT, watched=st.one_of(st.none(), WATCHED_TEXT))
def test_heartbeat_post_credits_at_most_the_claim_or_refuses_without_writing(
    learner_client, learner, reading, seconds, watched
):
    data = {"seconds": seconds} if watched is None else {"seconds": seconds, "watched": watched}
    with rolled_back():
        before, had = snapshot(), active_seconds(learner, reading)
        response = learner_client.post(f"/steps/{reading.pk}/heartbeat", data)
        event(f"heartbeat answered {response.status_code}")
        assert response.status_code in (200, 400), response.status_code
        body = response.json()
        if response.status_code == 400:
            assert body["ok"] is False and body["reason"]
            assert snapshot() == before
        else:
            assert 0 <= body["credited"] <= min(float(seconds), django_settings.HEARTBEAT_MAX_SECONDS)
            assert active_seconds(learner, reading) == pytest.approx(had + body["credited"])


BEATS = st.lists(
    st.tuples(
        st.one_of(st.floats(0, 120), st.sampled_from([0, 0.05, 15, 15.04, 3600])),  # wall-clock gap before it
        st.one_of(st.floats(0, 86400), st.sampled_from([15, 14.9, 15.1, 10_000])),  # seconds claimed
    ),
    max_size=12,
)
BAD_CLAIMS = st.one_of(st.sampled_from([-1, 86401, float("nan"), float("inf"), 10**400, "abc", None, [1]]), JSON)


@fuzz_settings(40)
@given(beats=BEATS, bad=BAD_CLAIMS)
def test_heartbeats_never_credit_more_than_the_wall_clock(learner, reading, beats, bad):
    """However the beats are timed or what they claim, credit <= elapsed time; bad claims write nothing."""
    with rolled_back():
        now = timezone.now()
        engine.open_step(learner=learner, step=reading, now=now)
        start, credited = now, 0.0
        for gap, claimed in beats:
            now += timedelta(seconds=gap)
            result = engine.record_active_time(learner=learner, step=reading, seconds=claimed, now=now)
            credit = result.details.get("credited", 0)
            assert 0 <= credit <= min(claimed, gap, django_settings.HEARTBEAT_MAX_SECONDS) + 1e-9
            credited += credit
        assert active_seconds(learner, reading) <= (now - start).total_seconds() + 1e-6
        assert active_seconds(learner, reading) == pytest.approx(credited, abs=0.11)

        before = snapshot()
        result = engine.record_active_time(learner=learner, step=reading, seconds=bad, now=now + timedelta(seconds=5))
        try:
            valid_claim = 0 <= float(bad) <= 86400
        except (TypeError, ValueError, OverflowError):
            valid_claim = False
        if not valid_claim:
            assert result.outcome == Outcome.INVALID and result.reason
            assert snapshot() == before
