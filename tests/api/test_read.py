"""GET /api/v1/me/progress and /api/v1/learners/<id>/progress: roll-ups and the MARS-labs shape."""

from unittest import mock

import pytest

from api import views
from progress import engine
from tests.factories import ClassroomFactory, StepFactory, make_chapter

pytestmark = pytest.mark.django_db


def test_me_progress_gives_subject_and_chapter_percentages(learner_api, learner, steps):
    engine.open_step(learner=learner, step=steps["Theory"])

    response = learner_api.get("/api/v1/me/progress")

    assert response.status_code == 200
    body = response.json()
    assert body["learner"] == {"id": learner.pk, "username": "asha", "first": "Asha", "last": "Verma", "class": 12}
    assert body["percentage"] == 33
    [physics] = body["subjects"]
    assert (physics["code"], physics["percentage"], physics["steps_done"], physics["steps_total"]) == ("phy", 33, 1, 3)
    assert physics["chapters"] == [{"id": str(steps["Theory"].chapter_id), "slug": "ohms-law-class-12",
                                    "title": "Ohm's Law", "steps_done": 1, "steps_total": 3, "percentage": 33}]


def test_me_progress_with_a_lab_token_is_403(lab_api):
    response = lab_api.get("/api/v1/me/progress")

    assert response.status_code == 403
    assert "learners/<id>/progress" in response.json()["message"]


def test_learner_progress_in_marslabs_format(lab_api, learner, steps):
    for step in steps.values():
        engine.force_complete(learner=learner, step=step, actor=None, reason="done at school")

    response = lab_api.get(f"/api/v1/learners/{learner.pk}/progress", {"format": "marslabs"})

    assert response.status_code == 200
    assert response.json() == {"class": 12, "subject_progress": {
        "phy": {"completed_experiments": ["Ohm's Law"], "completed_quizzes": ["Ohm's Law"]}}}


def test_learner_progress_default_is_the_summary(learner_api, learner, steps):
    response = learner_api.get(f"/api/v1/learners/{learner.pk}/progress")

    assert response.status_code == 200
    assert response.json()["subjects"][0]["steps_total"] == 3


def test_learner_progress_for_self_staff_and_lab_only(client, learner_api, lab_api, teacher, learner, other_learner):
    assert learner_api.get(f"/api/v1/learners/{other_learner.pk}/progress").status_code == 404
    assert lab_api.get(f"/api/v1/learners/{other_learner.pk}/progress").status_code == 200
    client.force_login(teacher)
    # A teacher reaches the learners of the classes they teach (tests/security/test_idor.py: no one else).
    assert client.get(f"/api/v1/learners/{other_learner.pk}/progress").status_code == 404
    classroom = ClassroomFactory()
    classroom.teachers.add(teacher)
    classroom.learners.add(other_learner)
    assert client.get(f"/api/v1/learners/{other_learner.pk}/progress").status_code == 200


@pytest.mark.parametrize("chapters", [1, 6])
def test_me_progress_query_count_does_not_grow_with_the_curriculum(
    learner_api, learner, chapters, django_assert_max_num_queries
):
    for _ in range(chapters):
        chapter = make_chapter(steps=4)
        engine.open_step(learner=learner, step=chapter.steps.first())
    StepFactory(chapter=chapter, order_index=9)

    learner_api.get("/api/v1/me/progress")  # reads the new curriculum into its cache (chapters, steps)
    # token lookup + grade + steps done per chapter (+ the token's last-used touch); was 6 before the cache
    with django_assert_max_num_queries(4):
        response = learner_api.get("/api/v1/me/progress")

    assert response.status_code == 200
    assert sum(len(s["chapters"]) for s in response.json()["subjects"]) == chapters


def summary(api, path="/api/v1/me/progress"):
    response = api.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def test_a_repeated_summary_is_served_from_the_cache(learner_api, learner, steps):
    engine.open_step(learner=learner, step=steps["Theory"])
    with mock.patch("api.views.progress_summary", wraps=views.progress_summary) as drawn:
        first = summary(learner_api)
        second = summary(learner_api)

    assert drawn.call_count == 1
    assert second == first and first["percentage"] == 33


def test_a_stored_summary_shows_a_completion_at_once(learner_api, lab_api, learner, steps):
    assert summary(learner_api)["subjects"][0]["steps_done"] == 0
    engine.open_step(learner=learner, step=steps["Theory"])  # the engine gives the learner a new version

    assert summary(learner_api)["subjects"][0]["steps_done"] == 1
    assert summary(lab_api, f"/api/v1/learners/{learner.pk}/progress")["subjects"][0]["steps_done"] == 1


def test_a_stored_summary_shows_a_new_name_and_class(learner_api, learner, steps):
    summary(learner_api)
    learner.first_name = "Asha Rani"
    learner.save()
    assert summary(learner_api)["learner"]["first"] == "Asha Rani"

    learner.profile.grade = 11  # the steps are class 12's: nothing left to show
    learner.profile.save()
    body = summary(learner_api)
    assert body["learner"]["class"] == 11 and body["subjects"] == [] and body["percentage"] == 0


def test_a_stored_summary_shows_a_curriculum_change(learner_api, learner, steps):
    assert summary(learner_api)["subjects"][0]["steps_total"] == 3
    StepFactory(chapter=steps["Theory"].chapter, order_index=9)  # saved as the admin does: a new curriculum

    assert summary(learner_api)["subjects"][0]["steps_total"] == 4


def test_stored_summaries_belong_to_their_learner(lab_api, learner, other_learner, steps):
    engine.open_step(learner=learner, step=steps["Theory"])
    mine = summary(lab_api, f"/api/v1/learners/{learner.pk}/progress")
    theirs = summary(lab_api, f"/api/v1/learners/{other_learner.pk}/progress")

    assert mine["learner"]["id"] == learner.pk and theirs["learner"]["id"] == other_learner.pk
    assert mine["percentage"] == 33 and theirs["percentage"] == 0
