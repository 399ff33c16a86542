"""The step page's POST endpoints (progress/views/learning.py): bad input, locks, other learners."""


import pytest
from django.test import Client
from django.urls import reverse

from curriculum.enums import StepType
from progress import engine
from progress.enums import EventKind, Status
from progress.models import LearningProgress, ProgressEvent
from tests.factories import (
    ChapterFactory,
    QuizStepFactory,
    StepFactory,
    TeacherFactory,
    UserFactory,
    make_chapter,
)

pytestmark = pytest.mark.django_db

ENDPOINTS = ["step-heartbeat", "step-complete", "step-quiz", "step-answer", "step-report"]




def url(name, step):
    return reverse(f"progress:{name}", args=[step.pk])


def row(user, step):
    return LearningProgress.objects.filter(user=user, step=step).first()


def timed_step(seconds=60, **kwargs):
    return StepFactory(
        chapter=ChapterFactory(), order_index=1, required_completion_criteria={"type": "time", "value": seconds},
        **kwargs,
    )


def quiz_step():
    return QuizStepFactory(chapter=ChapterFactory(), order_index=1)


def exercise_step(expected="4 ohm"):
    return StepFactory(
        chapter=ChapterFactory(), order_index=1, step_type=StepType.EXERCISE,
        required_completion_criteria={"type": "submission"}, activity={"expected_answer": expected},
    )


def locked_second_step(criteria=None):
    chapter = make_chapter(steps=1)
    return StepFactory(
        chapter=chapter, order_index=2, title="Procedure",
        required_completion_criteria=criteria or {"type": "manual"},
    )


# --- method and existence ---------------------------------------------------------


@pytest.mark.parametrize("name", ENDPOINTS)
def test_post_endpoint_get_is_405(learner_client, name):
    step = timed_step()

    assert learner_client.get(url(name, step)).status_code == 405


@pytest.mark.parametrize("name", ["step", *ENDPOINTS])
def test_unknown_step_id_is_404(learner_client, name):
    missing = reverse(f"progress:{name}", args=["2b1f7c3e-0000-4000-8000-000000000000"])
    response = learner_client.get(missing) if name == "step" else learner_client.post(missing, {"seconds": 5})

    assert response.status_code == 404


@pytest.mark.parametrize("name", ENDPOINTS)
def test_post_endpoint_for_another_grades_step_is_404(learner_client, learner, name):
    step = StepFactory(chapter=ChapterFactory(grade=11), order_index=1)

    response = learner_client.post(url(name, step), {"seconds": 5, "answer": "x", "q0": 0, "q1": 1})

    assert response.status_code == 404
    assert not LearningProgress.objects.filter(step=step).exists()


def test_heartbeat_anonymous_redirects_to_login(client):
    step = timed_step()

    response = client.post(url("step-heartbeat", step), {"seconds": 5})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- mark complete -------------------------------------------------------------------


def test_complete_locked_step_is_403_with_reason(learner_client, learner):
    step = locked_second_step()

    response = learner_client.post(url("step-complete", step))

    assert response.status_code == 403
    assert "finish &#x27;Step 1&#x27; first" in response.content.decode()
    assert row(learner, step) is None


def test_complete_manual_step_redirects_with_message(learner_client, learner):
    step = StepFactory(chapter=ChapterFactory(), order_index=1, required_completion_criteria={"type": "manual"})
    learner_client.get(step.get_absolute_url())

    response = learner_client.post(url("step-complete", step), follow=True)

    assert response.redirect_chain == [(step.get_absolute_url(), 302)]
    assert row(learner, step).status == Status.COMPLETED
    assert "Completed ✓" in response.content.decode()


def test_complete_time_step_not_met_is_409_with_reason(learner_client, learner, clock):
    step = timed_step(60)
    learner_client.get(step.get_absolute_url())
    clock.advance(20)
    learner_client.post(url("step-heartbeat", step), {"seconds": 20})

    response = learner_client.post(url("step-complete", step))

    assert response.status_code == 409
    assert "Not yet: 20 of 60 seconds" in response.content.decode()
    assert row(learner, step).status == Status.IN_PROGRESS


def test_complete_before_opening_is_409_and_writes_nothing(learner_client, learner):
    step = timed_step(60)

    response = learner_client.post(url("step-complete", step))

    assert response.status_code == 409
    assert row(learner, step) is None


def test_mark_complete_button_disabled_until_met_then_enabled(learner_client, learner):
    step = StepFactory(chapter=ChapterFactory(), order_index=1, required_completion_criteria={"type": "manual"})
    timed = timed_step(60)

    manual_html = learner_client.get(step.get_absolute_url()).content.decode()
    timed_html = learner_client.get(timed.get_absolute_url()).content.decode()

    assert "data-mark-complete>" in manual_html  # enabled: pressing it is the criterion
    assert "data-mark-complete disabled" in timed_html
    assert 'data-needed="60"' in timed_html and 'data-earned="0"' in timed_html


# --- heartbeats -----------------------------------------------------------------------


def test_heartbeat_answers_json_progress(learner_client, learner, clock):
    step = timed_step(60)
    learner_client.get(step.get_absolute_url())
    clock.advance(15)

    data = learner_client.post(url("step-heartbeat", step), {"seconds": "15"}).json()

    assert data == {
        "ok": True, "reason": "not yet: 15 of 60 seconds", "credited": 15, "active_seconds": 15,
        "needed": 60, "completed": False, "percentage": 25,
    }


def test_heartbeat_forged_10000_seconds_credits_at_most_elapsed(learner_client, learner, clock):
    step = timed_step(600)
    learner_client.get(step.get_absolute_url())
    clock.advance(12)

    response = learner_client.post(url("step-heartbeat", step), {"seconds": "10000"})

    data = response.json()
    assert response.status_code == 200
    assert data["credited"] <= 12
    assert data["active_seconds"] <= 12
    assert row(learner, step).progress_data["active_seconds"] <= 12


def test_heartbeat_completes_time_step(learner_client, learner, clock):
    step = timed_step(30)
    learner_client.get(step.get_absolute_url())
    clock.advance(15)
    learner_client.post(url("step-heartbeat", step), {"seconds": 15})
    clock.advance(15)

    data = learner_client.post(url("step-heartbeat", step), {"seconds": 15}).json()

    assert data["completed"] is True and data["percentage"] == 100
    assert row(learner, step).status == Status.COMPLETED


@pytest.mark.parametrize("seconds", ["abc", "", "nan", "inf", "-5", "1e9", "0x10"])
def test_heartbeat_bad_seconds_is_400(learner_client, learner, seconds):
    step = timed_step()
    learner_client.get(step.get_absolute_url())

    response = learner_client.post(url("step-heartbeat", step), {"seconds": seconds})

    assert response.status_code == 400
    assert response.json()["ok"] is False and response.json()["reason"]
    assert "active_seconds" not in row(learner, step).progress_data


def test_heartbeat_missing_seconds_is_400(learner_client, learner):
    step = timed_step()
    learner_client.get(step.get_absolute_url())

    assert learner_client.post(url("step-heartbeat", step)).status_code == 400


def test_heartbeat_on_a_step_locked_since_opening_is_403_json(learner_client, learner, clock):
    step = locked_second_step({"type": "time", "value": 60})
    first = step.chapter.steps.get(order_index=1)
    learner_client.get(first.get_absolute_url())  # view criterion: done, so the second step opens
    learner_client.get(step.get_absolute_url())
    engine.reset(learner=learner, step=first, actor=TeacherFactory(), reason="redo the reading")
    clock.advance(10)

    response = learner_client.post(url("step-heartbeat", step), {"seconds": 10})

    assert response.status_code == 403
    assert response.json() == {"ok": False, "reason": "locked: finish 'Step 1' first"}
    assert "active_seconds" not in row(learner, step).progress_data


def test_heartbeat_on_a_never_opened_locked_step_is_refused(learner_client, learner):
    step = locked_second_step({"type": "time", "value": 60})

    response = learner_client.post(url("step-heartbeat", step), {"seconds": 10})

    # The engine checks "is this the step being viewed" before the lock, so this is a 400.
    assert response.status_code in (400, 403)
    assert response.json()["ok"] is False
    assert row(learner, step) is None


def test_heartbeat_for_a_step_not_being_viewed_credits_nothing(learner_client, learner, clock):
    first, second = timed_step(60), timed_step(60)
    learner_client.get(first.get_absolute_url())
    learner_client.get(second.get_absolute_url())  # e.g. another tab
    clock.advance(15)

    response = learner_client.post(url("step-heartbeat", first), {"seconds": 15})

    assert response.status_code == 200  # a late beat from a tab left behind is not an error
    assert response.json()["credited"] == 0 and response.json()["stale"] is True
    assert "open it again" in response.json()["reason"]
    assert "active_seconds" not in row(learner, first).progress_data


# --- quiz -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answers, message",
    [
        ({"q0": "1"}, "Choose an answer to this question."),  # missing q1
        ({}, "Choose an answer to this question."),
        ({"q0": "1", "q1": "1", "q2": "0"}, "These answers match no question: q2."),  # extra
        ({"q0": "1", "q1": "7"}, "Select a valid choice."),  # no such choice
        ({"q0": "one", "q1": "1"}, "Select a valid choice."),
        ({"q0": "-1", "q1": "1"}, "Select a valid choice."),
    ],
)
def test_quiz_bad_answers_are_a_400_form_error_and_write_nothing(learner_client, learner, answers, message):
    step = quiz_step()
    learner_client.get(step.get_absolute_url())

    response = learner_client.post(url("step-quiz", step), answers)

    assert response.status_code == 400
    assert message in response.content.decode()
    progress = row(learner, step)
    assert "attempts" not in progress.progress_data
    assert not ProgressEvent.objects.filter(user=learner, step=step, kind=EventKind.ANSWERED).exists()


def test_quiz_bad_answers_before_opening_write_no_row(learner_client, learner):
    step = quiz_step()

    assert learner_client.post(url("step-quiz", step), {"q0": "1"}).status_code == 400
    assert row(learner, step) is None


def test_quiz_page_never_contains_the_answers_before_submission(learner_client):
    step = QuizStepFactory(
        chapter=ChapterFactory(), order_index=1,
        activity={"questions": [
            {"text": "Unit of resistance?", "choices": ["volt", "ohm", "ampere"], "answer": 1,
             "explanation": "SECRET-EXPLANATION: resistance is measured in ohms"},
        ]},
    )

    html = learner_client.get(step.get_absolute_url()).content.decode()

    assert "Unit of resistance?" in html and "volt" in html and "ohm" in html
    assert "SECRET-EXPLANATION" not in html
    assert '"answer"' not in html and "data-answer" not in html
    assert "checked" not in html and "is-right" not in html and "Right answer" not in html


def test_quiz_failed_attempt_shows_score_feedback_and_retry(learner_client, learner):
    step = QuizStepFactory(
        chapter=ChapterFactory(), order_index=1,
        activity={"questions": [
            {"text": "2 + 2 = ?", "choices": ["3", "4", "5"], "answer": 1, "explanation": "Count on your fingers."},
            {"text": "Unit of resistance?", "choices": ["volt", "ohm"], "answer": 1, "explanation": "Georg Ohm."},
        ]},
    )
    learner_client.get(step.get_absolute_url())

    response = learner_client.post(url("step-quiz", step), {"q0": "1", "q1": "0"}, follow=True)

    html = response.content.decode()
    assert response.redirect_chain == [(step.get_absolute_url() + "#quiz-result", 302)]
    assert "Your score: 50%" in html
    assert "Pass mark: 70%." in html
    assert "Score 50 &lt; 70" in html
    assert "Count on your fingers." in html and "Georg Ohm." in html
    assert html.count("✓</span> right") == 1 and html.count("✗</span> not right") == 1
    assert "Right answer:" not in html  # the missed one is not given away before the learner passes
    assert ">Retry</a>" in html
    assert row(learner, step).status == Status.IN_PROGRESS
    # The result is shown once: the next visit offers the quiz again.
    again = learner_client.get(step.get_absolute_url()).content.decode()
    assert "Your score" not in again and 'name="q0"' in again and "1 attempt so far." in again


def test_quiz_pass_completes_the_step(learner_client, learner):
    step = quiz_step()
    learner_client.get(step.get_absolute_url())

    response = learner_client.post(url("step-quiz", step), {"q0": "1", "q1": "1"}, follow=True)

    html = response.content.decode()
    assert "Your score: 100%" in html and "Completed" in html
    progress = row(learner, step)
    assert progress.status == Status.COMPLETED
    assert progress.progress_data["best_score"] == 100


def test_quiz_locked_is_403_and_writes_nothing(learner_client, learner):
    chapter = make_chapter(steps=1)
    step = QuizStepFactory(chapter=chapter, order_index=2)

    response = learner_client.post(url("step-quiz", step), {"q0": "1", "q1": "1"})

    assert response.status_code == 403
    assert row(learner, step) is None


# --- exercise answers and simulation reports ----------------------------------------------


def test_answer_right_completes_and_wrong_says_not_quite(learner_client, learner):
    step = exercise_step("4 ohm")
    learner_client.get(step.get_absolute_url())

    wrong = learner_client.post(url("step-answer", step), {"answer": "5 volt"}, follow=True)
    assert "Not quite" in wrong.content.decode()
    assert row(learner, step).status == Status.IN_PROGRESS

    right = learner_client.post(url("step-answer", step), {"answer": "4 Ohm."}, follow=True)
    assert right.redirect_chain[-1] == (step.get_absolute_url(), 302)
    assert row(learner, step).status == Status.COMPLETED


@pytest.mark.parametrize("answer", ["", "   ", "x" * 5001])
def test_answer_invalid_is_400_and_writes_nothing(learner_client, learner, answer):
    step = exercise_step()
    learner_client.get(step.get_absolute_url())

    response = learner_client.post(url("step-answer", step), {"answer": answer})

    assert response.status_code == 400
    assert "submissions" not in row(learner, step).progress_data


def test_report_completes_external_step(learner_client, learner):
    step = StepFactory(
        chapter=ChapterFactory(), order_index=1, step_type=StepType.INTERACTIVE,
        required_completion_criteria={"type": "external"}, activity={"simulation_url": "https://sim.example.org/x"},
    )
    learner_client.get(step.get_absolute_url())

    response = learner_client.post(url("step-report", step), {"score": "100"})

    assert response.status_code == 302
    progress = row(learner, step)
    assert progress.status == Status.COMPLETED
    assert "best_score" not in progress.progress_data  # a score from the learner's browser is not taken


def test_report_locked_is_403(learner_client, learner):
    step = locked_second_step({"type": "external"})

    assert learner_client.post(url("step-report", step)).status_code == 403
    assert row(learner, step) is None


# --- one learner never reaches another's progress -----------------------------------------


def test_other_learners_posts_never_touch_my_row(client, learner):
    other = UserFactory(username="bela", grade=12)
    step = exercise_step("4 ohm")
    client.force_login(learner)
    client.get(step.get_absolute_url())
    client.post(url("step-answer", step), {"answer": "my secret working: 5 volt"})
    mine_before = row(learner, step)

    client.force_login(other)
    client.get(step.get_absolute_url())
    client.post(url("step-answer", step), {"answer": "4 ohm"})
    client.post(url("step-complete", step))
    client.post(url("step-heartbeat", step), {"seconds": 15})
    html = client.get(step.get_absolute_url()).content.decode()

    mine_after = row(learner, step)
    assert mine_after.status == Status.IN_PROGRESS
    assert mine_after.progress_data == mine_before.progress_data
    assert mine_after.updated_at == mine_before.updated_at
    assert row(other, step).status == Status.COMPLETED
    assert "my secret working" not in html


def test_other_learner_cannot_see_my_quiz_result(client, learner):
    other = UserFactory(username="bela", grade=12)
    step = quiz_step()
    client.force_login(learner)
    client.get(step.get_absolute_url())
    client.post(url("step-quiz", step), {"q0": "0", "q1": "0"})

    client.force_login(other)
    html = client.get(step.get_absolute_url()).content.decode()

    assert "Your score" not in html and "attempt so far" not in html
    assert row(other, step).progress_data.get("attempts") is None


# --- teachers preview ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ENDPOINTS)
def test_teacher_posts_are_refused_and_record_nothing(client, name):
    teacher = TeacherFactory()
    client.force_login(teacher)
    step = StepFactory(chapter=ChapterFactory(grade=7), order_index=1, required_completion_criteria={"type": "manual"})

    response = client.post(url(name, step), {"seconds": 5, "answer": "x", "q0": "0"})

    assert response.status_code == 403
    assert not LearningProgress.objects.filter(user=teacher).exists()


def test_heartbeat_with_the_pages_csrf_token_passes_csrf_checks(learner, clock):
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    step = timed_step(60)
    html = client.get(step.get_absolute_url()).content.decode()
    token = html.split('data-csrf-token="', 1)[1].split('"', 1)[0]
    clock.advance(15)

    assert client.post(url("step-heartbeat", step), {"seconds": 15}).status_code == 403  # no token
    response = client.post(url("step-heartbeat", step), {"seconds": 15}, headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.json()["active_seconds"] == 15
