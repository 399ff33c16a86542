"""Progress in the admin: reset / excuse / mark complete with a reason, MARS-labs documents, list filters."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse

from progress.enums import EventKind, Status
from progress.models import LearningProgress, Progress, ProgressEvent
from tests.admin import make_classroom, make_teacher
from tests.factories import ProgressFactory, SubjectFactory, UserFactory, make_chapter

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:progress_learningprogress_changelist"


@pytest.fixture
def setup(client):
    teacher = make_teacher(username="tara")
    pupils = [UserFactory(username=f"p{i}", first_name=f"Pupil{i}") for i in range(3)]
    make_classroom(teachers=[teacher], learners=pupils)
    chapter = make_chapter(steps=2, title="Ohm", subject=SubjectFactory(code="phy"))
    step = chapter.steps.order_by("order_index").first()
    rows = [
        LearningProgress.objects.create(user=p, step=step, status=Status.IN_PROGRESS,
                                        progress_data={"criteria": {"type": "time", "value": 60},
                                                       "active_seconds": 12})
        for p in pupils
    ]
    client.force_login(teacher)
    return {"teacher": teacher, "pupils": pupils, "rows": rows, "step": step, "client": client}


def post_action(client, action, rows, follow=False, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [r.pk for r in rows], **extra}
    return client.post(reverse(CHANGELIST), data, follow=follow)


@pytest.mark.parametrize(("action", "status", "kind"), [
    ("reset_selected", Status.NOT_STARTED, EventKind.RESET),
    ("excuse_selected", Status.SKIPPED, EventKind.SKIPPED),
    ("complete_selected", Status.COMPLETED, EventKind.OVERRIDE),
])
def test_action_asks_for_a_reason_then_calls_the_engine_per_row(setup, action, status, kind):
    client, rows = setup["client"], setup["rows"][:2]

    page = post_action(client, action, rows)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="reason"' in html and "Pupil0" in html and "Pupil1" in html
    assert LearningProgress.objects.filter(status=status).count() == 0  # nothing yet

    blank = post_action(client, action, rows, apply="yes", reason="   ")
    assert "Write a reason" in blank.content.decode()
    assert LearningProgress.objects.filter(status=status).count() == 0

    done = post_action(client, action, rows, apply="yes", reason="Absent for a week", follow=True)
    assert LearningProgress.objects.filter(status=status).count() == 2
    events = ProgressEvent.objects.filter(kind=kind)
    assert events.count() == 2
    assert {e.actor for e in events} == {setup["teacher"]}
    assert {e.reason for e in events} == {"Absent for a week"}
    assert " 2 step" in done.content.decode()
    assert setup["rows"][2].__class__.objects.get(pk=setup["rows"][2].pk).status == Status.IN_PROGRESS


def test_rows_the_engine_leaves_alone_are_reported(setup):
    client, rows = setup["client"], setup["rows"]
    LearningProgress.objects.filter(pk=rows[0].pk).update(status=Status.SKIPPED)
    response = post_action(client, "excuse_selected", rows, apply="yes", reason="Trip", follow=True)
    html = response.content.decode()
    assert "Excused 2 steps." in html
    assert "1 row was not changed: already done" in html


def test_actions_hidden_without_the_custom_permission(client):
    helper = make_teacher()
    helper.groups.clear()
    helper.user_permissions.add(Permission.objects.get(codename="view_learningprogress"))
    pupil = UserFactory()
    make_classroom(teachers=[helper], learners=[pupil])
    client.force_login(helper)
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert "reset_selected" not in html and "excuse_selected" not in html


def test_changelist_columns_and_filters(setup):
    html = setup["client"].get(reverse(CHANGELIST)).content.decode()
    for text in ("Pupil0", "phy: Ohm", "◐ In progress", "By classroom", "By subject", "By chapter", "By status"):
        assert text in html, text
    filtered = setup["client"].get(reverse(CHANGELIST), {"status__exact": "completed"}).content.decode()
    assert "Pupil0" not in filtered


def test_change_page_shows_evidence_and_history(setup):
    row = setup["rows"][0]
    ProgressEvent.objects.create(user=row.user, step=row.step, kind=EventKind.STARTED)
    html = setup["client"].get(reverse("admin:progress_learningprogress_change", args=[row.pk])).content.decode()
    assert "12 s of active time" in html
    assert "Started" in html


def test_marslabs_documents_show_unmatched_entries_and_reapply(client):
    teacher = make_teacher()
    pupil = UserFactory(username="legacy")
    make_classroom(teachers=[teacher], learners=[pupil])
    subject = SubjectFactory(code="phy")
    chapter = make_chapter(steps=0, subject=subject, title="Ohms Law")
    from tests.factories import StepFactory
    StepFactory(chapter=chapter, step_type="interactive", order_index=1, required_completion_criteria={"type": "view"})
    document = ProgressFactory(user=pupil, progress_data={
        "class": 12, "subject_progress": {"phy": {"completed_experiments": ["Ohm's Law", "Metre Bridge"]}},
    })
    client.force_login(teacher)
    changelist = reverse("admin:progress_progress_changelist")

    client.post(changelist, {"action": "reapply_selected", ACTION_CHECKBOX_NAME: [document.pk]}, follow=True)
    document.refresh_from_db()
    assert document.applied_at is not None
    assert [e["title"] for e in document.unmatched] == ["Metre Bridge"]
    assert LearningProgress.objects.get(user=pupil).status == Status.COMPLETED

    page = client.get(reverse("admin:progress_progress_change", args=[document.pk])).content.decode()
    assert "Metre Bridge" in page and "no chapter with this title" in page
    listed = client.get(changelist, {"unmatched": "yes"}).content.decode()
    assert f"/{document.pk}/change/" in listed

    # The teacher fixes the curriculum, then re-applies: nothing is left unmatched.
    bridge = make_chapter(steps=0, subject=subject, title="Metre Bridge", order_index=50)
    StepFactory(chapter=bridge, step_type="interactive", order_index=1)
    response = client.post(changelist, {"action": "reapply_selected", ACTION_CHECKBOX_NAME: [document.pk]},
                           follow=True)
    document.refresh_from_db()
    assert document.unmatched == []
    assert "0 entries still unmatched" in response.content.decode()
    assert Progress.objects.count() == 1
