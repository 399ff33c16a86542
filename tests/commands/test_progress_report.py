"""manage.py progress_report: a learner × subject table matching the dashboard's roll-ups."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from curriculum.models import Chapter
from progress import engine
from tests.factories import ChapterFactory, ClassroomFactory, StepFactory, SubjectFactory, UserFactory, make_chapter

pytestmark = pytest.mark.django_db


def run(**options):
    out = StringIO()
    call_command("progress_report", stdout=out, stderr=StringIO(), no_color=True, **options)
    return out.getvalue()


def build_class(n, room_name="12-A"):
    physics, maths = SubjectFactory(code="phy", order=1), SubjectFactory(code="math", order=2)
    ohm = Chapter.objects.filter(title="Ohm's Law").first() or make_chapter(steps=4, subject=physics, title="Ohm's Law")
    if not Chapter.objects.filter(title="Sets").exists():
        make_chapter(steps=2, subject=maths, title="Sets")
        safety = ChapterFactory(subject=physics, grade=None, title="Safety", order_index=99)
        StepFactory(chapter=safety, order_index=1, title="Rules")
    room = ClassroomFactory(name=room_name)
    learners = [UserFactory(username=f"{room_name}-{i:02d}", first_name="L", last_name=str(i), grade=12)
                for i in range(n)]
    room.learners.add(*learners)
    for i, learner in enumerate(learners):
        for step in ohm.steps.order_by("order_index")[: i % 5]:
            engine.open_step(learner=learner, step=step)
    return room, learners


def test_table_matches_engine_subject_rollups():
    _room, learners = build_class(5)

    out = run(classroom="12-A")

    lines = out.splitlines()
    assert lines[0] == "12-A (class 12)"
    assert lines[1].split() == ["learner", "name", "class", "phy", "math", "overall"]
    for learner, line in zip(learners, lines[3:], strict=False):
        rollups = {r.subject.code: r.percentage for r in engine.subject_rollups(learner=learner)}
        cells = line.split()
        assert cells[0] == learner.username
        assert cells[4:6] == [f"{rollups['phy']}%", f"{rollups['math']}%"]
        assert cells[6] == f"{engine.overall_percentage(engine.subject_rollups(learner=learner))}%"
    assert lines[-1] == "1 classrooms, 5 learners."


def test_report_costs_the_same_queries_for_small_and_large_classes(django_assert_max_num_queries):
    build_class(3)
    with django_assert_max_num_queries(5):
        run(classroom="12-A")
    build_class(40, room_name="12-B")
    with django_assert_max_num_queries(5):
        run(classroom="12-B")


def test_every_classroom_without_option_and_empty_classroom():
    build_class(2)
    ClassroomFactory(name="11-C", grade=11)

    out = run()

    assert "11-C (class 11)\n  No learners in this classroom." in out
    assert out.strip().endswith("2 classrooms, 2 learners.")


def test_unknown_classroom_fails():
    ClassroomFactory(name="12-A")
    with pytest.raises(CommandError, match=r"There is no classroom named '9-Z' \(classrooms: 12-A\)"):
        run(classroom="9-Z")
