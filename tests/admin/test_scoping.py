"""A teacher sees only learners in their classrooms, everywhere in the admin; a superuser sees everyone."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from progress.enums import EventKind, Status
from progress.models import LearningProgress, ProgressEvent
from tests.admin import make_classroom, make_superuser, make_teacher
from tests.factories import LearningPathFactory, ProgressFactory, UserFactory, make_chapter

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """Tara teaches Mine (mina); Omar teaches Other (otto). Each learner has a row in every progress table."""
    tara, omar = make_teacher(username="tara"), make_teacher(username="omar")
    mina = UserFactory(username="mina", first_name="Mina", last_name="Mine")
    otto = UserFactory(username="otto", first_name="Otto", last_name="Other")
    mine = make_classroom(name="Mine", teachers=[tara], learners=[mina])
    other = make_classroom(name="Other", teachers=[omar], learners=[otto])
    step = make_chapter(steps=1).steps.get()
    rows = {}
    for learner in (mina, otto):
        rows[learner.username] = {
            "learningprogress": LearningProgress.objects.create(
                user=learner, step=step, status=Status.IN_PROGRESS, progress_data={"criteria": {"type": "view"}}),
            "progressevent": ProgressEvent.objects.create(user=learner, step=step, kind=EventKind.STARTED),
            "progress": ProgressFactory(user=learner),
            "learningpath": LearningPathFactory(user=learner, name=f"Path of {learner.username}", is_active=False),
            "userprofile": learner.profile,
        }
    rows["mina"]["classroom"], rows["otto"]["classroom"] = mine, other
    return {"tara": tara, "omar": omar, "mina": mina, "otto": otto, "rows": rows, "step": step}


ADMIN_MODELS = [
    ("progress", "learningprogress"),
    ("progress", "progressevent"),
    ("progress", "progress"),
    ("progress", "learningpath"),
    ("learners", "userprofile"),
    ("learners", "classroom"),
]


@pytest.mark.parametrize(("app", "model"), ADMIN_MODELS)
def test_changelist_lists_only_the_teachers_learners(client, world, app, model):
    client.force_login(world["tara"])
    response = client.get(reverse(f"admin:{app}_{model}_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    mine, theirs = world["rows"]["mina"][model], world["rows"]["otto"][model]
    assert f"/{mine.pk}/change/" in html
    assert f"/{theirs.pk}/change/" not in html
    assert "Otto" not in html and "otto" not in html


@pytest.mark.parametrize(("app", "model"), ADMIN_MODELS)
def test_guessing_the_url_of_another_classs_row_gives_404(client, world, app, model):
    client.force_login(world["tara"])
    theirs = world["rows"]["otto"][model]
    for view in ("change", "history", "delete"):
        response = client.get(reverse(f"admin:{app}_{model}_{view}", args=[theirs.pk]))
        assert response.status_code in (403, 404), view
        assert b"Otto" not in response.content
    mine = world["rows"]["mina"][model]
    assert client.get(reverse(f"admin:{app}_{model}_change", args=[mine.pk])).status_code == 200


@pytest.mark.parametrize(("app", "model"), ADMIN_MODELS)
def test_superuser_sees_every_learner(client, world, app, model):
    client.force_login(make_superuser())
    html = client.get(reverse(f"admin:{app}_{model}_changelist")).content.decode()
    assert f"/{world['rows']['mina'][model].pk}/change/" in html
    assert f"/{world['rows']['otto'][model].pk}/change/" in html


def test_teacher_has_no_user_management(client, world):
    client.force_login(world["tara"])
    assert client.get(reverse("admin:learners_user_changelist")).status_code == 403
    assert client.get(reverse("admin:learners_user_change", args=[world["otto"].pk])).status_code == 403
    assert client.get(reverse("admin:auth_group_changelist")).status_code == 403
    index = client.get(reverse("admin:index")).content.decode()
    assert "/admin/learners/user/" not in index and "/admin/auth/group/" not in index
    assert reverse("reports:index") in index  # the Reports box


def test_teacher_cannot_edit_progress_rows_or_events_directly(client, world):
    client.force_login(world["tara"])
    row = world["rows"]["mina"]["learningprogress"]
    response = client.post(reverse("admin:progress_learningprogress_change", args=[row.pk]), {"status": "completed"})
    assert response.status_code == 403
    assert client.get(reverse("admin:progress_learningprogress_add")).status_code == 403
    assert client.get(reverse("admin:progress_progressevent_add")).status_code == 403


def test_classroom_filter_offers_only_the_teachers_classrooms(client, world):
    client.force_login(world["tara"])
    url = reverse("admin:progress_learningprogress_changelist")
    html = client.get(url).content.decode()
    assert "?classroom=" in html and ">Mine<" in html and ">Other<" not in html
    other = world["rows"]["otto"]["classroom"]
    assert "Mina" not in client.get(url, {"classroom": other.pk}).content.decode()  # a forged id: nothing


def test_an_action_cannot_reach_another_classs_row_by_forged_id(client, world):
    client.force_login(world["tara"])
    theirs = world["rows"]["otto"]["learningprogress"]
    client.post(reverse("admin:progress_learningprogress_changelist"), {
        "action": "reset_selected", ACTION_CHECKBOX_NAME: [theirs.pk], "apply": "yes", "reason": "sneaky",
    })
    theirs.refresh_from_db()
    assert theirs.status == Status.IN_PROGRESS
    assert not ProgressEvent.objects.filter(kind=EventKind.RESET).exists()


def test_learner_cannot_open_the_admin(client, world):
    client.force_login(world["mina"])
    response = client.get(reverse("admin:progress_learningprogress_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_malformed_ids_in_filters_and_recompute_are_harmless(client, world):
    client.force_login(world["tara"])
    response = client.get(reverse("admin:progress_learningprogress_changelist"), {"chapter": "not-a-uuid"})
    assert response.status_code == 200 and "Mina" not in response.content.decode()
    response = client.get(reverse("admin:curriculum_learningstep_recompute"), {"ids": "nope,"}, follow=True)
    assert "Choose the steps to recompute" in response.content.decode()
