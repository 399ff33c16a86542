import pytest

from curriculum.integrity import all_prerequisite_cycles, describe_cycle, prerequisite_cycle
from curriculum.models import Chapter, LearningStep
from tests.factories import ChapterFactory, StepFactory

pytestmark = pytest.mark.django_db


def test_prerequisite_cycle_named_for_chapters():
    mole = ChapterFactory(title="Mole Concept")
    titration = ChapterFactory(title="Titration", prerequisite_chapter=mole)

    cycle = prerequisite_cycle(Chapter, mole.pk, titration.pk)

    assert cycle == ["Mole Concept", "Titration", "Mole Concept"]
    assert describe_cycle(cycle) == "prerequisites form a loop: Mole Concept → Titration → Mole Concept"


def test_prerequisite_without_loop_accepted():
    a, b = ChapterFactory(title="A"), ChapterFactory(title="B")

    assert prerequisite_cycle(Chapter, b.pk, a.pk) is None
    assert prerequisite_cycle(Chapter, b.pk, None) is None


def test_step_cycle_across_chapters_found():
    one = StepFactory(title="One")
    two = StepFactory(title="Two", prerequisite_step=one)
    three = StepFactory(title="Three", prerequisite_step=two)

    assert prerequisite_cycle(LearningStep, one.pk, three.pk) == ["One", "Three", "Two", "One"]


def test_all_prerequisite_cycles_reports_each_loop_once():
    a, b = ChapterFactory(title="A"), ChapterFactory(title="B")
    Chapter.objects.filter(pk=a.pk).update(prerequisite_chapter=b)
    Chapter.objects.filter(pk=b.pk).update(prerequisite_chapter=a)
    ChapterFactory(title="C", prerequisite_chapter=a)

    cycles = all_prerequisite_cycles(Chapter)

    assert len(cycles) == 1
    assert sorted(cycles[0][:2]) == ["A", "B"]
