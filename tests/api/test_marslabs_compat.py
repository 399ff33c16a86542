"""The MARS-labs-compatible endpoints: paths, fields, messages and status codes as MARS-labs had them."""

import pytest

from progress.enums import Status
from progress.models import LearningProgress, Progress, ProgressEvent
from tests.factories import ClassroomFactory, ProgressFactory, UserFactory

pytestmark = pytest.mark.django_db

DOCUMENT = {"class": 12, "subject_progress": {"phy": {"completed_experiments": ["ohms law", "Lenz law"],
                                                      "completed_quizzes": []}}}


def counts():
    return (Progress.objects.count(), LearningProgress.objects.count(), ProgressEvent.objects.count())


# --- POST /progress -----------------------------------------------------------


def test_post_progress_stores_verbatim_applies_and_keeps_unmatched(lab_api, learner, steps):
    response = lab_api.post("/api/v1/progress", {"user_id": learner.pk, "progress_data": DOCUMENT})

    assert response.status_code == 200  # MARS-labs: jsonify(...) without a status
    document = Progress.objects.get()
    assert response.json() == {"message": "Progress added successfully", "id": document.pk}
    assert document.progress_data == DOCUMENT
    assert [u["title"] for u in document.unmatched] == ["Lenz law"]
    assert document.applied_at is not None
    row = LearningProgress.objects.get(user=learner, step=steps["Simulation"])
    assert row.status == Status.COMPLETED


def test_post_progress_by_learner_cannot_jump_locks(learner_api, learner, steps):
    """A learner's document about themselves is a claim, not an import: locks and criteria still hold."""
    response = learner_api.post("/api/v1/progress", {"user_id": learner.pk, "progress_data": DOCUMENT})

    assert response.status_code == 200
    document = Progress.objects.get()
    assert document.progress_data == DOCUMENT  # kept verbatim all the same
    assert not LearningProgress.objects.filter(user=learner, status=Status.COMPLETED).exists()
    reasons = sorted(entry["reason"] for entry in document.unmatched)
    assert reasons == ["locked: finish 'Theory' first", "no chapter with this title"]


def test_post_progress_by_teacher_session_records_the_teacher(client, teacher, learner, steps):
    classroom = ClassroomFactory()  # a teacher reaches the learners of the classes they teach
    classroom.teachers.add(teacher)
    classroom.learners.add(learner)
    client.force_login(teacher)
    response = client.post("/api/v1/progress", {"user_id": learner.pk, "progress_data": DOCUMENT},
                           content_type="application/json")

    assert response.status_code == 200
    assert ProgressEvent.objects.get(user=learner, kind="completed").actor == teacher


@pytest.mark.parametrize("body", [
    {"progress_data": DOCUMENT},
    {"user_id": 1},
    {"user_id": 0, "progress_data": DOCUMENT},
    {"user_id": 1, "progress_data": {}},
])
def test_post_progress_missing_fields_answers_marslabs_message(lab_api, learner, body):
    response = lab_api.post("/api/v1/progress", body)

    assert response.status_code == 400
    assert response.json() == {"message": "User ID and progress data are required"}
    assert counts() == (0, 0, 0)


def test_post_progress_invalid_document_answers_the_schema_messages(lab_api, learner):
    bad = {"class": 15, "subject_progress": {"phy": {"completed_experiments": "ohms law"}}}

    response = lab_api.post("/api/v1/progress", {"user_id": learner.pk, "progress_data": bad})

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "progress_data.class: class must be from 1 to 12, not 15" in errors
    assert any("completed_experiments: must be a list of titles" in e for e in errors)
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize("grade", ["²", "١٢", "12\n"])
def test_post_progress_class_must_be_ascii_digits(lab_api, learner, grade):
    response = lab_api.post("/api/v1/progress", {"user_id": learner.pk,
                                                 "progress_data": {"class": grade, "subject_progress": {}}})

    assert response.status_code == 400
    assert counts() == (0, 0, 0)


def test_post_progress_class_as_digit_string_is_accepted_as_marslabs_sent_it(lab_api, learner):
    data = {"class": "12", "subject_progress": {}}

    response = lab_api.post("/api/v1/progress", {"user_id": learner.pk, "progress_data": data})

    assert response.status_code == 200
    assert Progress.objects.get().progress_data == data


def test_post_progress_subject_code_with_trailing_newline_is_refused(lab_api, learner):
    data = {"subject_progress": {"phy\n": {"completed_experiments": []}}}

    response = lab_api.post("/api/v1/progress", {"user_id": learner.pk, "progress_data": data})

    assert response.status_code == 400
    assert counts() == (0, 0, 0)


def test_post_progress_for_another_learner_with_learner_token_is_404(learner_api, other_learner):
    response = learner_api.post("/api/v1/progress", {"user_id": other_learner.pk, "progress_data": DOCUMENT})

    assert response.status_code == 404
    assert response.json() == {"message": "User not found"}
    assert counts() == (0, 0, 0)


def test_post_progress_for_unknown_user_is_404(lab_api):
    response = lab_api.post("/api/v1/progress", {"user_id": 987654, "progress_data": DOCUMENT})

    assert response.status_code == 404
    assert counts() == (0, 0, 0)


def test_post_progress_user_id_must_be_a_number(lab_api, learner):
    response = lab_api.post("/api/v1/progress", {"user_id": str(learner.pk), "progress_data": DOCUMENT})

    assert response.status_code == 400
    assert counts() == (0, 0, 0)


# --- GET /progress/<user_id> ---------------------------------------------------


def test_get_progress_lists_documents_as_received(lab_api, learner):
    first = ProgressFactory(user=learner, progress_data=DOCUMENT)
    second = ProgressFactory(user=learner, progress_data={"class": "12", "subject_progress": {}, "note": "kept"})

    response = lab_api.get(f"/api/v1/progress/{learner.pk}")

    assert response.status_code == 200
    assert response.json() == [
        {"id": first.pk, "user_id": learner.pk, "progress_data": DOCUMENT},
        {"id": second.pk, "user_id": learner.pk, "progress_data": {"class": "12", "subject_progress": {},
                                                                     "note": "kept"}},
    ]


def test_get_progress_none_found_is_404_with_marslabs_message(lab_api, learner):
    response = lab_api.get(f"/api/v1/progress/{learner.pk}")

    assert response.status_code == 404
    assert response.json() == {"message": "No progress data found for the user"}


@pytest.mark.parametrize("user_id", ["abc", "0", "-3", "99999999999999999999999"])
def test_get_progress_malformed_id_is_the_same_json_404(lab_api, user_id):
    response = lab_api.get(f"/api/v1/progress/{user_id}")

    assert response.status_code == 404
    assert response.json() == {"message": "No progress data found for the user"}


def test_get_progress_of_another_learner_looks_like_none_found(learner_api, other_learner):
    ProgressFactory(user=other_learner)

    response = learner_api.get(f"/api/v1/progress/{other_learner.pk}")

    assert response.status_code == 404
    assert response.json() == {"message": "No progress data found for the user"}


def test_get_own_progress_with_learner_token(learner_api, learner):
    ProgressFactory(user=learner)

    assert learner_api.get(f"/api/v1/progress/{learner.pk}").status_code == 200


# --- PUT /progress/<user_id> -----------------------------------------------------


def test_put_progress_replaces_the_first_document_and_applies_it(lab_api, learner, steps):
    first = ProgressFactory(user=learner, progress_data={"subject_progress": {}})
    second = ProgressFactory(user=learner, progress_data={"subject_progress": {}, "v": 2})

    response = lab_api.put(f"/api/v1/progress/{learner.pk}", {"progress_data": DOCUMENT})

    assert response.status_code == 200
    assert response.json() == {"message": "Progress updated successfully"}
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.progress_data == DOCUMENT
    assert second.progress_data == {"subject_progress": {}, "v": 2}
    assert [u["title"] for u in first.unmatched] == ["Lenz law"]
    assert LearningProgress.objects.get(user=learner, step=steps["Simulation"]).status == Status.COMPLETED


def test_put_progress_without_data_is_400_with_marslabs_message(lab_api, learner):
    ProgressFactory(user=learner)

    response = lab_api.put(f"/api/v1/progress/{learner.pk}", {"progress": DOCUMENT})

    assert response.status_code == 400
    assert response.json() == {"message": "Progress data is required"}


def test_put_progress_with_no_document_is_404(lab_api, learner):
    response = lab_api.put(f"/api/v1/progress/{learner.pk}", {"progress_data": DOCUMENT})

    assert response.status_code == 404
    assert response.json() == {"message": "No progress data found for the user"}
    assert counts() == (0, 0, 0)


def test_put_progress_invalid_document_writes_nothing(lab_api, learner):
    document = ProgressFactory(user=learner, progress_data={"subject_progress": {}})

    response = lab_api.put(f"/api/v1/progress/{learner.pk}", {"progress_data": {"class": 12}})

    assert response.status_code == 400
    assert "missing the 'subject_progress' field" in response.json()["message"]
    document.refresh_from_db()
    assert document.progress_data == {"subject_progress": {}}


def test_put_progress_of_another_learner_is_404_and_writes_nothing(learner_api, other_learner):
    document = ProgressFactory(user=other_learner, progress_data={"subject_progress": {}})

    response = learner_api.put(f"/api/v1/progress/{other_learner.pk}", {"progress_data": DOCUMENT})

    assert response.status_code == 404
    document.refresh_from_db()
    assert document.progress_data == {"subject_progress": {}}


# --- GET /users, POST /update ------------------------------------------------------


def test_list_users_gives_learners_in_marslabs_shape(lab_api, learner, teacher):
    learner.age = 16
    learner.save()

    response = lab_api.get("/api/v1/users")

    assert response.status_code == 200
    assert response.json() == [{"id": learner.pk, "first": "Asha", "last": "Verma", "age": "16"}]


def test_get_one_user_by_id(lab_api, learner):
    response = lab_api.get("/api/v1/users", {"Id": learner.pk})

    assert response.status_code == 200
    assert response.json() == {"id": learner.pk, "first": "Asha", "last": "Verma", "age": None}


@pytest.mark.parametrize("wanted", ["424242", "abc", ""])
def test_get_unknown_user_is_404_with_marslabs_message(lab_api, learner, wanted):
    response = lab_api.get("/api/v1/users", {"Id": wanted})

    assert response.status_code == 404
    assert response.json() == {"message": "Unable to detect the user!"}


def test_learner_may_read_themselves_but_not_list_or_read_others(learner_api, learner, other_learner):
    assert learner_api.get("/api/v1/users", {"Id": learner.pk}).status_code == 200
    assert learner_api.get("/api/v1/users", {"Id": other_learner.pk}).status_code == 404
    response = learner_api.get("/api/v1/users")
    assert response.status_code == 403
    assert "message" in response.json()


def test_staff_session_lists_users(client, teacher, learner):
    client.force_login(teacher)

    assert client.get("/api/v1/users").status_code == 200


def test_update_creates_a_learner_with_unusable_password(lab_api):
    response = lab_api.post("/api/v1/update", {"first_name": "Meera", "last_name": "Iyer", "age": "16"})

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Success"
    user = UserFactory._meta.model.objects.get(pk=body["id"])
    assert (user.username, user.first_name, user.last_name, user.age) == ("meera.iyer", "Meera", "Iyer", 16)
    assert not user.has_usable_password()
    assert user.profile is not None


def test_update_derives_unique_usernames(lab_api):
    ids = [lab_api.post("/api/v1/update", {"first_name": "Meera", "last_name": "Iyer", "age": 16}).json()["id"]
           for _ in range(3)]

    names = list(UserFactory._meta.model.objects.filter(pk__in=ids).order_by("pk").values_list("username", flat=True))
    assert names == ["meera.iyer", "meera.iyer2", "meera.iyer3"]


def test_update_with_names_that_slugify_to_nothing(lab_api):
    response = lab_api.post("/api/v1/update", {"first_name": "!!", "last_name": "??", "age": 9})

    assert response.status_code == 200
    assert UserFactory._meta.model.objects.get(pk=response.json()["id"]).username == "learner"


def test_update_with_id_is_already_registered(lab_api):
    response = lab_api.post("/api/v1/update", {"id": 3, "first_name": "A", "last_name": "B", "age": 5})

    assert response.status_code == 400
    assert response.json() == {"message": "User already registered"}


@pytest.mark.parametrize("body", [
    {"first_name": "A", "last_name": "B"},
    {"first_name": "A", "last_name": "B", "age": "sixteen"},
    {"first_name": "A", "last_name": "B", "age": 121},
    {"first_name": "A", "last_name": "B", "age": True},
    {"first_name": "", "last_name": "B", "age": 5},
    {"first_name": 5, "last_name": "B", "age": 5},
    {"first_name": "A" * 151, "last_name": "B", "age": 5},
])
def test_update_bad_fields_are_400_and_create_nobody(lab_api, body):
    before = UserFactory._meta.model.objects.count()

    response = lab_api.post("/api/v1/update", body)

    assert response.status_code == 400
    assert "message" in response.json()
    assert UserFactory._meta.model.objects.count() == before


def test_update_is_for_staff_and_lab_tokens_only(learner_api):
    response = learner_api.post("/api/v1/update", {"first_name": "A", "last_name": "B", "age": 5})

    assert response.status_code == 403
    assert UserFactory._meta.model.objects.count() == 1
