"""Recompute after a criteria change: engine.recompute and its admin preview / apply page.

Semantics (engine.recompute docstring): in-progress rows judged by an older rule take the current one and
complete when they meet it; completed, skipped and not-started rows are never touched.
"""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from progress import engine
from progress.engine import Outcome
from progress.enums import EventKind, Status
from progress.models import LearningProgress, ProgressEvent
from tests.admin import make_classroom, make_teacher
from tests.factories import StepFactory, UserFactory

pytestmark = pytest.mark.django_db

OLD = {"type": "time", "value": 120}
NEW = {"type": "time", "value": 60}


def row(step, status, seconds=0, criteria=OLD, percentage=0, **kwargs):
    return LearningProgress.objects.create(
        user=UserFactory(**kwargs), step=step, status=status, completion_percentage=percentage,
        completed_at=step.created_at if status == Status.COMPLETED else None,
        progress_data={"criteria": criteria, "active_seconds": seconds},
    )


@pytest.fixture
def step_with_learners():
    step = StepFactory(required_completion_criteria=OLD)
    rows = {
        "meets_new": row(step, Status.IN_PROGRESS, seconds=90, percentage=75, username="meets"),
        "short": row(step, Status.IN_PROGRESS, seconds=30, percentage=25, username="short"),
        "current": row(step, Status.IN_PROGRESS, seconds=10, criteria=NEW, username="current"),
        "completed": row(step, Status.COMPLETED, seconds=120, percentage=100, username="done"),
        "skipped": row(step, Status.SKIPPED, username="skipped"),
        "not_started": row(step, Status.NOT_STARTED, criteria=None, username="fresh"),
    }
    step.required_completion_criteria = NEW
    step.save()
    return step, rows


def test_dry_run_lists_who_would_change_and_writes_nothing(step_with_learners):
    step, rows = step_with_learners
    result = engine.recompute(step=step, actor=None, reason="", dry_run=True)
    assert result.outcome == Outcome.UNCHANGED
    changes = {c.learner.username: c for c in result.details["changes"]}
    assert set(changes) == {"meets", "short"}
    assert (changes["meets"].old_status, changes["meets"].new_status) == (Status.IN_PROGRESS, Status.COMPLETED)
    assert not changes["short"].status_changes
    assert changes["short"].verdict == "not yet: 30 of 60 seconds"
    assert LearningProgress.objects.get(pk=rows["meets_new"].pk).status == Status.IN_PROGRESS
    assert not ProgressEvent.objects.exists()


def test_apply_completes_those_meeting_the_new_rule_and_logs_an_override(step_with_learners):
    step, rows = step_with_learners
    teacher = make_teacher()
    result = engine.recompute(step=step, actor=teacher, reason="Reading was too long", dry_run=False)
    assert result.outcome == Outcome.CHANGED
    fresh = {k: LearningProgress.objects.get(pk=r.pk) for k, r in rows.items()}
    assert fresh["meets_new"].status == Status.COMPLETED and fresh["meets_new"].completed_at
    assert fresh["meets_new"].completion_percentage == 100
    assert fresh["short"].status == Status.IN_PROGRESS
    assert fresh["short"].progress_data["criteria"] == NEW
    assert fresh["short"].completion_percentage == 50  # 30 of 60 s: up from 25 %
    for untouched in ("current", "completed", "skipped", "not_started"):
        assert fresh[untouched].progress_data == rows[untouched].progress_data, untouched
        assert fresh[untouched].status == rows[untouched].status
    events = ProgressEvent.objects.filter(kind=EventKind.OVERRIDE)
    assert events.count() == 2
    assert {e.actor for e in events} == {teacher} and {e.reason for e in events} == {"Reading was too long"}
    completed = events.get(user=rows["meets_new"].user)
    assert completed.data["status"] == {"from": "in_progress", "to": "completed"}
    assert completed.data["criteria"] == {"from": OLD, "to": NEW}
    # Running it again finds nothing left to do.
    assert engine.recompute(step=step, actor=teacher, reason="again", dry_run=False).outcome == Outcome.UNCHANGED


def test_a_stricter_rule_never_lowers_the_percentage(step_with_learners):
    step, rows = step_with_learners
    step.required_completion_criteria = {"type": "time", "value": 600}
    step.save()
    engine.recompute(step=step, actor=make_teacher(), reason="More reading", dry_run=False)
    assert LearningProgress.objects.get(pk=rows["meets_new"].pk).completion_percentage == 75


def test_apply_needs_a_reason_and_a_teacher(step_with_learners):
    step, _rows = step_with_learners
    assert engine.recompute(step=step, actor=make_teacher(), reason=" ", dry_run=False).outcome == Outcome.INVALID
    assert engine.recompute(step=step, actor=UserFactory(), reason="x", dry_run=False).outcome == Outcome.DENIED
    assert not ProgressEvent.objects.exists()


def test_admin_preview_then_apply_for_the_teachers_own_learners(client, step_with_learners):
    step, rows = step_with_learners
    teacher = make_teacher()
    make_classroom(teachers=[teacher], learners=[rows["meets_new"].user, rows["completed"].user])
    client.force_login(teacher)

    redirect = client.post(reverse("admin:curriculum_learningstep_changelist"),
                           {"action": "recompute_selected", ACTION_CHECKBOX_NAME: [step.pk]})
    url = reverse("admin:curriculum_learningstep_recompute") + f"?ids={step.pk}"
    assert redirect["Location"] == url

    preview = client.get(url).content.decode()
    assert "meets" in preview and "In progress → Completed" in preview
    assert "120 s of active time → 60 s of active time" in preview
    assert "short" not in preview  # not in this teacher's classes
    assert LearningProgress.objects.get(pk=rows["meets_new"].pk).status == Status.IN_PROGRESS

    no_reason = client.post(url, {"ids": str(step.pk), "reason": ""}).content.decode()
    assert "Write a reason" in no_reason

    done = client.post(url, {"ids": str(step.pk), "reason": "Shorter reading"}, follow=True).content.decode()
    assert "1 learner now judged by the new criteria, 1 of them completed by it" in done
    assert LearningProgress.objects.get(pk=rows["meets_new"].pk).status == Status.COMPLETED
    assert LearningProgress.objects.get(pk=rows["short"].pk).progress_data["criteria"] == OLD  # not theirs


def test_recompute_page_needs_the_override_permission(client, step_with_learners):
    step, _rows = step_with_learners
    helper = make_teacher()
    helper.groups.clear()
    client.force_login(helper)
    url = reverse("admin:curriculum_learningstep_recompute") + f"?ids={step.pk}"
    assert client.get(url).status_code == 403
