"""Every admin changelist costs the same number of queries with 3 rows or 30 (no N+1), for a teacher and an admin."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from progress.enums import EventKind, Status
from progress.models import LearningPath, LearningProgress, Progress, ProgressEvent
from tests.admin import make_classroom, make_superuser, make_teacher
from tests.factories import SubjectFactory, UserFactory, make_chapter

pytestmark = pytest.mark.django_db

# changelist -> the most queries it may take (session, user, permissions, counts, filters, rows).
BUDGET = {
    "curriculum_subject": 8,
    "curriculum_chapter": 10,
    "curriculum_learningstep": 10,
    "progress_learningprogress": 12,
    "progress_progressevent": 10,
    "progress_progress": 10,
    "progress_learningpath": 10,
    "learners_userprofile": 10,
    "learners_classroom": 10,
}
SUPERUSER_ONLY = {"learners_user": 8, "progress_pathrule": 8, "auth_group": 8}


def populate(teacher, size, tag):
    """``size`` of everything: subjects, chapters with steps, learners with progress, events, documents, paths."""
    learners = [UserFactory(username=f"{tag}-pupil{i}", grade=12) for i in range(size)]
    for i in range(size):
        make_classroom(teachers=[teacher], learners=learners, name=f"{tag} class {i}")
    subject = SubjectFactory(code=f"{tag}subj")
    steps = []
    for i in range(size):
        chapter = make_chapter(steps=2, subject=subject, title=f"{tag} chapter {i}", order_index=i + 1)
        steps.extend(chapter.steps.all())
    for i, learner in enumerate(learners):
        step = steps[i % len(steps)]
        LearningProgress.objects.create(user=learner, step=step, status=Status.IN_PROGRESS)
        ProgressEvent.objects.create(user=learner, step=step, kind=EventKind.STARTED, actor=teacher)
        Progress.objects.create(user=learner, progress_data={"subject_progress": {}},
                                unmatched=[{"subject": "phy", "list": "completed_quizzes", "title": "X"}])
        LearningPath.objects.create(user=learner, name=f"Path {i}", is_active=False)


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries), response


@pytest.mark.parametrize("who", ["teacher", "superuser"])
def test_changelists_do_not_grow_with_rows(client, django_assert_max_num_queries, who):
    teacher = make_teacher(username="tara")
    user = teacher if who == "teacher" else make_superuser()
    client.force_login(user)
    budget = {**BUDGET, **(SUPERUSER_ONLY if who == "superuser" else {})}
    counts = {}
    for size, tag in ((3, "small"), (30, "big")):
        populate(teacher, size, tag)
        for name, limit in budget.items():
            url = reverse(f"admin:{name}_changelist")
            with django_assert_max_num_queries(limit):
                n, response = count_queries(client, url)
            counts.setdefault(name, []).append(n)
            if name == "progress_learningprogress":
                # The rows really are there (not an empty page that happens to be cheap).
                assert response.context["cl"].result_count >= size
    grown = {name: pair for name, pair in counts.items() if pair[0] != pair[1]}
    assert not grown, f"query counts changed with size: {grown}"
    print(who, {name: pair[0] for name, pair in counts.items()})
