"""A scaled-down district: 200 learners in five classes of 40, a curriculum of 4 subjects x 10 chapters x 5 steps
(plus a retired chapter, another class's chapter and a grade-less one), random progress. The dashboard keeps its
query budget, and the class report's numbers equal a brute-force recomputation from the raw LearningProgress rows."""

import random
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from curriculum.models import Chapter, LearningStep
from progress import reports
from progress.enums import Status
from progress.models import LearningProgress
from tests.admin import make_classroom, make_teacher
from tests.factories import SubjectFactory, UserFactory, make_chapter

pytestmark = pytest.mark.django_db

LEARNERS, CLASS_SIZE, SUBJECTS, CHAPTERS, STEPS = 200, 40, 4, 10, 5
DONE = {Status.COMPLETED, Status.SKIPPED}


@pytest.fixture
def district():
    rng = random.Random(9)
    for s in range(SUBJECTS):
        subject = SubjectFactory(code=f"sub{s}", name=f"Subject {s}", order=s)
        previous = None
        for c in range(CHAPTERS):
            previous = make_chapter(steps=STEPS, subject=subject, order_index=c + 1, title=f"S{s} chapter {c}",
                                    prerequisite_chapter=previous if c % 3 == 2 else None)
    extra = SubjectFactory(code="extra", name="Extra", order=9)
    make_chapter(steps=3, subject=extra, order_index=1, title="Retired", is_active=False)
    make_chapter(steps=3, subject=extra, order_index=2, title="Class 11 only", grade=11)
    make_chapter(steps=2, subject=extra, order_index=3, title="Every class", grade=None)

    teacher = make_teacher(username="tara")
    learners = [UserFactory(username=f"pupil{n:03d}", grade=12) for n in range(LEARNERS)]
    classrooms = [make_classroom(teachers=[teacher], learners=learners[i:i + CLASS_SIZE], name=f"12-{i}")
                  for i in range(0, LEARNERS, CLASS_SIZE)]
    now = timezone.now()
    steps = list(LearningStep.objects.all())
    rows = []
    for learner in learners:
        share = rng.betavariate(0.7, 2.5)
        for step in steps:
            roll = rng.random()
            if roll < share * 0.9:
                rows.append(LearningProgress(user=learner, step=step, status=Status.COMPLETED,
                                             completion_percentage=100, started_at=now, completed_at=now))
            elif roll < share:
                rows.append(LearningProgress(user=learner, step=step, status=Status.SKIPPED, started_at=now))
            elif roll < share + 0.05:
                rows.append(LearningProgress(user=learner, step=step, status=Status.IN_PROGRESS,
                                             completion_percentage=rng.randint(0, 99), started_at=now,
                                             progress_data={"attempts": [{"score": 20}]}))
            elif roll < share + 0.07:
                rows.append(LearningProgress(user=learner, step=step, status=Status.NOT_STARTED))
    LearningProgress.objects.bulk_create(rows, batch_size=2000)
    return teacher, learners, classrooms


def brute_force(classroom):
    """``{learner_id: {chapter_id: (done, total)}}`` straight from the rows, no report code involved."""
    chapters = [c for c in Chapter.objects.all() if c.is_active and c.grade in (classroom.grade, None)]
    step_chapter = {s.pk: s.chapter_id for s in LearningStep.objects.all()}
    totals = {c.pk: sum(1 for ch in step_chapter.values() if ch == c.pk) for c in chapters}
    result = {}
    for learner in classroom.learners.all():
        done = dict.fromkeys(totals, 0)
        for row in LearningProgress.objects.filter(user=learner):
            chapter_id = step_chapter[row.step_id]
            if row.status in DONE and chapter_id in done:
                done[chapter_id] += 1
        result[learner.pk] = {pk: (done[pk], totals[pk]) for pk in totals}
    return result


def test_class_report_numbers_equal_a_brute_force_recomputation(district):
    _teacher, _learners, classrooms = district
    for classroom in classrooms:
        expected = brute_force(classroom)
        matrix = reports.class_matrix(classroom=classroom)

        assert {row.learner.pk for row in matrix.rows} == set(expected)
        assert {c.pk for c in matrix.chapters} == set(next(iter(expected.values())))
        for row in matrix.rows:
            want = expected[row.learner.pk]
            assert {cell.chapter.pk: (cell.done, cell.total) for cell in row.cells} == want
            done, total = sum(d for d, _t in want.values()), sum(t for _d, t in want.values())
            assert row.percentage == round(100 * done / total)
        for column in matrix.columns:
            cells = [expected[pk][column.chapter.pk] for pk in expected]
            assert column.done_by == sum(1 for d, t in cells if t and d >= t)
            assert column.average == round(sum(round(100 * d / t) for d, t in cells) / len(cells))


def test_class_report_per_subject_equals_a_brute_force_recomputation(district):
    """One subject at a time: its chapters' cells, and the overall column still over every subject."""
    _teacher, _learners, classrooms = district
    subject_of = {c.pk: c.subject.code for c in Chapter.objects.select_related("subject")}
    for classroom in classrooms[:2]:
        expected = brute_force(classroom)
        codes = sorted({subject_of[pk] for pk in next(iter(expected.values()))})
        for code in codes:
            matrix = reports.class_matrix(classroom=classroom, subject=code)
            assert matrix.subject.code == code
            assert {c.pk for c in matrix.chapters} == {pk for pk in subject_of if subject_of[pk] == code
                                                       and pk in next(iter(expected.values()))}
            for row in matrix.rows:
                want = expected[row.learner.pk]
                assert {cell.chapter.pk: (cell.done, cell.total) for cell in row.cells} == {
                    pk: v for pk, v in want.items() if subject_of[pk] == code
                }
                done, total = sum(d for d, _t in want.values()), sum(t for _d, t in want.values())
                assert (row.done, row.total, row.percentage) == (done, total, round(100 * done / total))
                mine = [v for pk, v in want.items() if subject_of[pk] == code]
                assert row.subject_percentage == round(100 * sum(d for d, _t in mine) / sum(t for _d, t in mine))


def test_class_report_page_and_csv_keep_their_query_budget(district, django_assert_max_num_queries):
    teacher, _learners, classrooms = district
    client = Client()
    client.force_login(teacher)
    url = reverse("reports:matrix", args=[classrooms[0].pk])
    client.get(url)  # the curriculum is read into its cache once
    with django_assert_max_num_queries(8):
        response = client.get(url)
    assert response.status_code == 200
    assert response.content.decode().count("<tr data-learner=") == CLASS_SIZE
    with django_assert_max_num_queries(7):
        response = client.get(reverse("reports:matrix-csv", args=[classrooms[0].pk]))
        body = b"".join(response.streaming_content).decode("utf-8-sig")  # streamed: read inside the budget
    assert body.count("\n") == CLASS_SIZE + 1


def test_dashboard_query_count_and_numbers_at_district_scale(district, django_assert_max_num_queries):
    _teacher, learners, classrooms = district
    expected = brute_force(classrooms[0])
    subject_of = {c.pk: c.subject.name for c in Chapter.objects.select_related("subject")}
    for learner in learners[:5]:  # all in the first class
        client = Client()
        client.force_login(learner)
        client.get(reverse("progress:home"))  # builds the learner's path
        # Session, user, profile, paths, progress rows, activity: no curriculum query.
        with django_assert_max_num_queries(6):
            response = client.get(reverse("progress:home"))
        assert response.status_code == 200
        by_subject = {}
        for chapter_id, (done, total) in expected[learner.pk].items():
            was = by_subject.get(subject_of[chapter_id], (0, 0))
            by_subject[subject_of[chapter_id]] = (was[0] + done, was[1] + total)
        assert {card.subject.name: (card.rollup.steps_done, card.rollup.steps_total)
                for card in response.context["dashboard"].subjects} == by_subject


def test_api_progress_summary_equals_the_sql_roll_ups(district):
    from api.views import progress_summary
    from progress import engine

    _teacher, learners, _classrooms = district
    for learner in learners[:10]:
        summary = progress_summary(learner)
        rollups = engine.subject_rollups(learner=learner)
        chapters = {c.pk: c for c in engine.chapter_rollups(learner=learner, chapters=Chapter.objects.for_grade(12))}

        assert [s["code"] for s in summary["subjects"]] == [r.subject.code for r in rollups]
        assert summary["percentage"] == engine.overall_percentage(rollups)
        for subject, rollup in zip(summary["subjects"], rollups, strict=True):
            assert (subject["steps_done"], subject["steps_total"], subject["chapters_done"],
                    subject["chapters_total"]) == (rollup.steps_done, rollup.steps_total, rollup.chapters_done,
                                                   rollup.chapters_total)
            for chapter in subject["chapters"]:
                sql = chapters[uuid.UUID(chapter["id"])]
                assert (chapter["steps_done"], chapter["steps_total"]) == (sql.steps_done, sql.steps_total)
