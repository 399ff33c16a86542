"""No IDOR (issue #10): B, B's learner token and the teacher of another class never read or change A's data,
whether they put A's id in a URL, a form field or a JSON body. Each attack uses a body that would work on
the attacker's own data, so a refusal is about *whose* data it is, not a malformed request.

The permission matrix (test_permission_matrix.py) walks every URL; these are the attacks spelled out.
"""

import json
import uuid

import pytest

from api.models import ApiEvent
from progress.enums import Status
from progress.models import LearningProgress, Progress
from tests.factories import UserFactory
from tests.security.conftest import A_LAST_NAME, A_USERNAME, client_for

pytestmark = pytest.mark.django_db

DOCUMENT = {"class": 12, "subject_progress": {"phy": {"completed_experiments": ["ohms law"], "completed_quizzes": []}}}


def post_json(client, path, body, method="post"):
    return getattr(client, method)(path, json.dumps(body), content_type="application/json")


def shows_a(response):
    return A_USERNAME.encode() in response.content or A_LAST_NAME.encode() in response.content


# --------------------------------------------------------------------------
# The JSON API: ids in URLs and bodies
# --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["student_b", "learner_token"])
def test_learner_reading_a_by_id_gets_the_same_404_as_for_an_unknown_id(world, role):
    client = client_for(role, world)
    unknown = 10**9
    for path in ("/api/v1/progress/{}", "/api/v1/learners/{}/progress", "/api/v1/users?Id={}"):
        theirs, nobody = client.get(path.format(world.a.pk)), client.get(path.format(unknown))

        assert theirs.status_code == nobody.status_code == 404, path
        assert theirs.json() == nobody.json(), path  # ids cannot be probed
        assert not shows_a(theirs)


@pytest.mark.parametrize("role", ["student_b", "learner_token"])
def test_learner_posting_a_document_for_a_changes_nothing(world, role):
    before = world.a_state()

    client = client_for(role, world)
    response = post_json(client, "/api/v1/progress", {"user_id": world.a.pk, "progress_data": DOCUMENT})
    replaced = post_json(client, f"/api/v1/progress/{world.a.pk}", {"progress_data": DOCUMENT}, "put")

    assert (response.status_code, replaced.status_code) == (404, 404)
    assert world.a_state() == before
    assert not Progress.objects.filter(user=world.b).exists()  # nor was it filed under B instead


@pytest.mark.parametrize("role", ["student_b", "learner_token"])
def test_learner_sending_an_event_for_a_is_refused(world, role):
    before = world.a_state()

    response = post_json(client_for(role, world), f"/api/v1/steps/{world.simulation.pk}/events",
                         {"id": str(uuid.uuid4()), "verb": "completed", "learner": world.a.pk})

    assert response.status_code == 403
    assert "your own events" in response.json()["message"]
    assert world.a_state() == before
    assert not ApiEvent.objects.filter(learner=world.b).exists()


def test_learner_token_reusing_as_event_id_already_used_for_a_reveals_nothing(world):
    """An event id A's simulation used: B replaying it must not get A's stored answer back."""
    response = post_json(client_for("learner_token", world), f"/api/v1/steps/{world.theory.pk}/events",
                         {"id": str(world.a_api_event.event_id), "verb": "started"})

    assert response.status_code == 409
    assert response.json() == {"message": "this event id was already used for a different event: use a new id"}
    assert ApiEvent.objects.filter(event_id=world.a_api_event.event_id).get().learner == world.a


def test_teacher_of_another_class_cannot_reach_a_through_the_api(world):
    """The admin and the reports scope teachers to their classes; the API with a browser session does too."""
    client = client_for("teacher_other", world)
    before = world.a_state()

    assert client.get(f"/api/v1/learners/{world.a.pk}/progress").status_code == 404
    assert client.get(f"/api/v1/progress/{world.a.pk}").status_code == 404
    assert client.get(f"/api/v1/users?Id={world.a.pk}").status_code == 404
    listing = client.get("/api/v1/users")
    assert listing.status_code == 200
    assert [u["id"] for u in listing.json()] == [world.b.pk]
    assert post_json(client, "/api/v1/progress", {"user_id": world.a.pk, "progress_data": DOCUMENT}).status_code == 404
    assert post_json(client, f"/api/v1/progress/{world.a.pk}", {"progress_data": DOCUMENT}, "put").status_code == 404
    assert world.a_state() == before


def test_teacher_of_as_class_reaches_a_through_the_api(world):
    client = client_for("teacher_a", world)

    assert client.get(f"/api/v1/learners/{world.a.pk}/progress").status_code == 200
    assert [u["id"] for u in client.get("/api/v1/users").json()] == [world.a.pk]
    assert post_json(client, "/api/v1/progress", {"user_id": world.a.pk, "progress_data": DOCUMENT}).status_code == 200
    assert Progress.objects.filter(user=world.a).count() == 2


def test_teachers_cannot_create_accounts_through_the_api_but_admins_can(world):
    body = {"first_name": "New", "last_name": "Pupil", "age": 15}
    count = UserFactory._meta.model.objects.count()

    assert post_json(client_for("teacher_a", world), "/api/v1/update", body).status_code == 403
    assert UserFactory._meta.model.objects.count() == count
    assert post_json(client_for("admin", world), "/api/v1/update", body).status_code == 200


def test_learner_token_reads_its_own_learner_only(world):
    response = client_for("learner_token", world).get("/api/v1/me/progress")

    assert response.status_code == 200
    assert response.json()["learner"]["id"] == world.b.pk
    assert not shows_a(response)


# --------------------------------------------------------------------------
# Pages: ids in form fields
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "data", "status"), [
    ("complete", {}, 409),  # the simulation step is judged by the simulation, for B as for anyone
    ("heartbeat", {"seconds": 5}, 200),
    ("report", {}, 302),
])
def test_b_posting_to_a_step_with_as_id_in_the_form_writes_only_bs_own_row(world, suffix, data, status):
    """Step pages take the learner from the session; a smuggled user/learner field is ignored."""
    client = client_for("student_b", world)
    client.get(world.theory.get_absolute_url())  # done on opening ("view"): the next step opens for B
    client.get(world.simulation.get_absolute_url())
    before = world.a_state()

    response = client.post(f"/steps/{world.simulation.pk}/{suffix}",
                           {**data, "user": world.a.pk, "learner": world.a.pk, "user_id": world.a.pk})

    assert response.status_code == status
    assert world.a_state() == before
    if suffix == "report":
        assert LearningProgress.objects.get(user=world.b, step=world.simulation).status == Status.COMPLETED


def test_b_submitting_a_quiz_with_as_id_changes_only_b(world):
    client = client_for("student_b", world)
    before = world.a_state()

    client.post(f"/steps/{world.quiz.pk}/quiz", {"q0": "1", "q1": "1", "user": world.a.pk, "learner": world.a.pk})

    assert world.a_state() == before
    assert not LearningProgress.objects.filter(user=world.a, step=world.quiz).exists()


def test_b_skipping_as_path_step_skips_nothing_of_as(world):
    before = world.a_state()

    client_for("student_b", world).post(f"/path/skip/{world.quiz.pk}", {"user": world.a.pk})

    assert world.a_state() == before


def test_b_saving_the_profile_with_as_id_changes_bs_profile_only(world):
    before = world.a_state()

    response = client_for("student_b", world).post("/profile/", {
        "grade": 11, "background_level": "advanced", "preferred_language": "en",
        "user": world.a.pk, "id": world.a.profile.pk, "pk": world.a.profile.pk,
    })

    assert response.status_code == 302
    assert world.a_state() == before
    world.b.profile.refresh_from_db()
    assert (world.b.profile.grade, world.b.profile.background_level) == (11, "advanced")


def test_b_cannot_open_as_report_page_or_act_on_a(world):
    client = client_for("student_b", world)
    before = world.a_state()

    assert client.get(f"/reports/learners/{world.a.pk}/").status_code == 403
    response = client.post("/reports/actions/step/", {"learner": world.a.pk, "step": world.simulation.pk,
                                                      "action": "complete", "reason": "mine now"})
    assert response.status_code == 403
    assert world.a_state() == before


# --------------------------------------------------------------------------
# The teacher of another class: reports and admin
# --------------------------------------------------------------------------


def test_teacher_of_another_class_cannot_act_on_a_from_the_reports(world):
    client = client_for("teacher_other", world)
    before = world.a_state()

    for action in ("reset", "excuse", "complete"):
        response = client.post("/reports/actions/step/", {"learner": world.a.pk, "step": world.simulation.pk,
                                                          "action": action, "reason": "not my pupil"})
        assert response.status_code == 404, action
    assert world.a_state() == before


@pytest.mark.parametrize("action", ["reset_selected", "excuse_selected", "complete_selected"])
def test_teacher_of_another_class_admin_actions_on_as_rows_change_nothing(world, action):
    client = client_for("teacher_other", world)
    before = world.a_state()

    client.post("/admin/progress/learningprogress/", {
        "action": action, "_selected_action": [world.a_progress.pk], "apply": "1", "reason": "not my pupil"})

    assert world.a_state() == before


def test_teacher_of_as_class_admin_action_does_change_a(world):
    """The control for the test above: the same POST from A's own teacher works."""
    client_for("teacher_a", world).post("/admin/progress/learningprogress/", {
        "action": "complete_selected", "_selected_action": [world.a_progress.pk], "apply": "1", "reason": "lab work"})

    world.a_progress.refresh_from_db()
    assert world.a_progress.status == Status.COMPLETED


def test_teacher_of_another_class_recompute_leaves_a_alone(world):
    """Recompute re-judges the step's learners by new criteria: only the teacher's own learners."""
    world.simulation.required_completion_criteria = {"type": "view"}  # A has opened it: the new rule completes A
    world.simulation.save()
    before = world.a_state()
    data = {"ids": str(world.simulation.pk), "reason": "criteria fixed"}

    other = client_for("teacher_other", world)
    preview = other.get(f"/admin/curriculum/learningstep/recompute/?ids={world.simulation.pk}")
    other.post("/admin/curriculum/learningstep/recompute/", data)

    assert not shows_a(preview)
    assert world.a_state() == before
    client_for("teacher_a", world).post("/admin/curriculum/learningstep/recompute/", data)
    world.a_progress.refresh_from_db()
    assert world.a_progress.status == Status.COMPLETED


@pytest.mark.parametrize("model", ["userprofile", "learningpath", "progress", "learningprogress"])
def test_teacher_of_another_class_posting_to_as_admin_rows_is_404(world, model):
    client = client_for("teacher_other", world)
    obj = world.admin_objects[f"{'learners' if model == 'userprofile' else 'progress'}.{model}"]
    app = "learners" if model == "userprofile" else "progress"
    before = world.a_state()

    for view, data in (("change", {"grade": 1}), ("delete", {"post": "yes"})):
        response = client.post(f"/admin/{app}/{model}/{obj.pk}/{view}/", data)
        assert response.status_code == 404, view
    assert world.a_state() == before
