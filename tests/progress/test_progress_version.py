"""progress/versions.py: every change to a learner's progress gives them a new progress version, in the
same transaction; a refused write or another learner's write leaves it alone.

Cached pages (the dashboard, the class report) are keyed by this version, so a write that forgot it
would show a learner an old page: each engine write is driven here and the version checked.
"""


import pytest
from django.db import transaction

from learners.models import UserProfile
from progress import engine, paths, versions
from progress.enums import Status
from progress.models import LearningProgress, ProgressEvent
from tests.factories import (
    ProgressFactory,
    QuizStepFactory,
    StepFactory,
    TeacherFactory,
    UserFactory,
    make_chapter,
)

pytestmark = pytest.mark.django_db

WRONG = {"0": 0, "1": 0}
RIGHT = {"0": 1, "1": 1}


def version(user):
    return UserProfile.objects.values_list("progress_version", flat=True).get(user=user)


@pytest.fixture
def learner():
    return UserFactory(grade=12)


@pytest.fixture
def other():
    return UserFactory(grade=12)


@pytest.fixture
def chapter():
    chapter = make_chapter(steps=0, grade=12)
    StepFactory(chapter=chapter, order_index=1, title="Read", required_completion_criteria={"type": "view"})
    StepFactory(chapter=chapter, order_index=2, title="Video",
                required_completion_criteria={"type": "time", "value": 600})
    StepFactory(chapter=chapter, order_index=3, title="Done", required_completion_criteria={"type": "manual"})
    StepFactory(chapter=chapter, order_index=4, title="Lab", required_completion_criteria={"type": "external"})
    StepFactory(chapter=chapter, order_index=5, title="Answer", required_completion_criteria={"type": "submission"},
                activity={"expected_answer": "42"})
    QuizStepFactory(chapter=chapter, order_index=6, title="Quiz")
    return chapter


def step(chapter, title):
    return chapter.steps.get(title=title)


def open_all(learner, chapter, *, upto):
    """Open (and so complete, for "Read") the steps before ``upto`` and mark the manual ones done."""
    for s in chapter.steps.order_by("order_index"):
        if s.title == upto:
            return
        engine.open_step(learner=learner, step=s)
        if s.title == "Video":
            engine.force_complete(learner=learner, step=s, actor=TeacherFactory(), reason="watched in class")
        elif s.title == "Done":
            engine.mark_done(learner=learner, step=s)
        elif s.title == "Lab":
            engine.report_external(learner=learner, step=s)
        elif s.title == "Answer":
            engine.submit_answer(learner=learner, step=s, answer="42")


def changes(learner, other, write):
    before, others_before = version(learner), version(other)
    write()
    assert version(other) == others_before, "another learner's version moved"
    return version(learner) != before


def test_a_new_learner_starts_at_zero(learner):
    assert version(learner) == 0


def test_new_versions_are_distinct_positive_bigints():
    values = {versions.new_version() for _ in range(1000)}
    assert len(values) == 1000
    assert all(0 < v < 2**63 for v in values)


def test_opening_a_step_changes_it(learner, other, chapter):
    assert changes(learner, other, lambda: engine.open_step(learner=learner, step=step(chapter, "Read")))


def test_opening_it_again_changes_nothing_and_keeps_it(learner, other, chapter):
    engine.open_step(learner=learner, step=step(chapter, "Read"))
    assert not changes(learner, other, lambda: engine.open_step(learner=learner, step=step(chapter, "Read")))


def test_a_locked_step_refused_keeps_it(learner, other, chapter):
    result = []
    assert not changes(learner, other, lambda: result.append(engine.mark_done(learner=learner,
                                                                              step=step(chapter, "Done"))))
    assert result[0].outcome == engine.Outcome.LOCKED


def test_a_heartbeat_that_credits_time_changes_it(learner, other, chapter, clock):
    open_all(learner, chapter, upto="Video")
    video = step(chapter, "Video")
    engine.open_step(learner=learner, step=video)
    clock.advance(20)
    result = []
    assert changes(learner, other, lambda: result.append(engine.record_active_time(learner=learner, step=video,
                                                                                    seconds=15)))
    assert result[0].details["credited"] == 15


@pytest.mark.parametrize("title, write", [
    ("Done", lambda learner, s: engine.mark_done(learner=learner, step=s)),
    ("Lab", lambda learner, s: engine.report_external(learner=learner, step=s, score=80)),
    ("Answer", lambda learner, s: engine.submit_answer(learner=learner, step=s, answer="41")),
    ("Answer", lambda learner, s: engine.submit_answer(learner=learner, step=s, answer="42")),
    ("Quiz", lambda learner, s: engine.submit_quiz(learner=learner, step=s, answers=WRONG)),
    ("Quiz", lambda learner, s: engine.submit_quiz(learner=learner, step=s, answers=RIGHT)),
])
def test_each_learner_write_changes_it(learner, other, chapter, title, write):
    open_all(learner, chapter, upto=title)
    target = step(chapter, title)
    engine.open_step(learner=learner, step=target)
    outcome = []
    assert changes(learner, other, lambda: outcome.append(write(learner, target))), outcome[0]
    assert ProgressEvent.objects.filter(user=learner, step=target).exists()


@pytest.mark.parametrize("action", ["skip_step", "reset", "force_complete"])
def test_each_teacher_action_changes_it(learner, other, chapter, action):
    open_all(learner, chapter, upto="Done")
    engine.open_step(learner=learner, step=step(chapter, "Done"))
    teacher = TeacherFactory()
    result = []
    assert changes(learner, other, lambda: result.append(getattr(engine, action)(
        learner=learner, step=step(chapter, "Done"), actor=teacher, reason="agreed with the parents")))
    assert result[0].ok, result[0].reason


def test_a_teacher_action_without_a_reason_keeps_it(learner, other, chapter):
    engine.open_step(learner=learner, step=step(chapter, "Read"))
    assert not changes(learner, other, lambda: engine.reset(learner=learner, step=step(chapter, "Read"),
                                                            actor=TeacherFactory(), reason=""))


def test_recompute_changes_it_for_the_learners_it_changed(learner, other, chapter):
    open_all(learner, chapter, upto="Video")
    video = step(chapter, "Video")
    engine.open_step(learner=learner, step=video)
    video.required_completion_criteria = {"type": "view"}
    video.save()
    assert changes(learner, other, lambda: engine.recompute(step=video, actor=TeacherFactory(), reason="view only",
                                                            dry_run=False))
    assert LearningProgress.objects.get(user=learner, step=video).status == Status.COMPLETED


def test_a_trusted_import_changes_it(learner, other, ohms_law):
    document = ProgressFactory(user=learner, progress_data={
        "class": 12, "subject_progress": {"phy": {"completed_experiments": ["ohms law"], "completed_quizzes": []}},
    })
    report = []
    assert changes(learner, other, lambda: report.append(engine.apply_marslabs_document(document=document)))
    assert report[0].completed >= 1


def test_a_failed_quiz_path_and_rebuilding_a_path_change_it(learner, other, chapter):
    assert changes(learner, other, lambda: paths.ensure_active_paths(learner=learner))
    profile = UserProfile.objects.get(user=learner)
    profile.background_level = "advanced"
    profile.save()
    assert changes(learner, other, lambda: paths.rebuild_main_path(learner=learner))


def test_an_orm_save_of_a_row_changes_it(learner, other, chapter):
    """The admin, a shell, anything that saves a row through the ORM."""
    row = LearningProgress.objects.create(user=learner, step=step(chapter, "Read"))
    row.status = Status.IN_PROGRESS
    assert changes(learner, other, row.save)
    assert changes(learner, other, row.delete)


def test_a_rolled_back_write_leaves_the_old_version(learner, other, chapter):
    before = version(learner)
    with pytest.raises(RuntimeError), transaction.atomic():
        engine.open_step(learner=learner, step=step(chapter, "Read"))
        assert version(learner) != before  # inside: changed with the write...
        raise RuntimeError("the caller failed after the write")
    assert version(learner) == before  # ...and undone with it


def test_bump_handles_more_learners_than_one_statement_takes(learner, other):
    extra = [UserFactory().pk for _ in range(3)]
    versions._CHUNK, old = 2, versions._CHUNK
    try:
        value = versions.bump([learner.pk, other.pk, *extra])
    finally:
        versions._CHUNK = old
    assert set(UserProfile.objects.filter(user__in=[learner.pk, other.pk, *extra])
               .values_list("progress_version", flat=True)) == {value}


def test_time_itself_changes_nothing(learner, chapter, clock):
    engine.open_step(learner=learner, step=step(chapter, "Read"))
    before = version(learner)
    clock.advance(2 * 24 * 3600)
    assert version(learner) == before
