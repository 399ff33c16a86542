"""manage.py export_curriculum: the native format, round-tripping with import_curriculum."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from curriculum.exporter import export_curriculum
from curriculum.importer import DEMO_CURRICULUM_PATH, import_curriculum, load_curriculum_file
from curriculum.models import Chapter, LearningStep, Subject
from tests.factories import ChapterFactory, StepFactory, SubjectFactory

pytestmark = pytest.mark.django_db


def run(*args, **options):
    out, err = StringIO(), StringIO()
    call_command("export_curriculum", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def wipe_curriculum():
    LearningStep.objects.all().delete()
    Chapter.objects.all().delete()
    Subject.objects.all().delete()


def test_export_import_export_round_trips_to_identical_json(tmp_path):
    import_curriculum(load_curriculum_file(DEMO_CURRICULUM_PATH))
    # Prerequisites of both kinds, a grade-less chapter and an inactive one: every field the format has.
    phy = Subject.objects.get(code="phy")
    chapters = {c.title: c for c in Chapter.objects.filter(subject=phy)}
    chapters["Metre Bridge"].prerequisite_chapter = chapters["Ohm's Law"]
    chapters["Metre Bridge"].is_active = False
    chapters["Metre Bridge"].external_id = "olabs:1/2/3"
    chapters["Metre Bridge"].save()
    quiz = chapters["Metre Bridge"].steps.get(title="Quiz")
    quiz.prerequisite_step = chapters["Ohm's Law"].steps.get(title="Quiz")
    quiz.save()
    lab = chapters["Metre Bridge"].steps.get(title="Simulation")
    lab.prerequisite_step = chapters["Metre Bridge"].steps.get(title="Theory")
    lab.save()
    ChapterFactory(subject=phy, grade=None, title="Lab Safety", order_index=1, slug="lab-safety")
    first = tmp_path / "first.json"
    run(output=str(first))

    wipe_curriculum()
    call_command("import_curriculum", str(first), stdout=StringIO())
    second, _err = run()

    assert json.loads(second) == json.loads(first.read_text(encoding="utf-8"))
    assert second == first.read_text(encoding="utf-8")  # byte for byte
    assert Chapter.objects.get(title="Metre Bridge").prerequisite_chapter.title == "Ohm's Law"


def test_export_to_stdout_keeps_messages_on_stderr():
    import_curriculum(load_curriculum_file(DEMO_CURRICULUM_PATH))

    out, err = run()

    document = json.loads(out)
    assert document["format"] == "mars-labs-curriculum"
    assert [s["code"] for s in document["subjects"]] == ["phy", "chem", "math"]
    assert "Exported 3 subjects, 11 chapters and 49 steps." in err


def test_export_empty_database_is_a_valid_empty_curriculum():
    out, _err = run()

    assert json.loads(out)["subjects"] == []
    assert import_curriculum(json.loads(out)).changed is False


def test_export_leaves_out_cross_textbook_prerequisites_with_a_warning():
    subject = SubjectFactory(code="phy")
    eleven = ChapterFactory(subject=subject, grade=11, title="Current")
    twelve = ChapterFactory(subject=subject, grade=12, title="Ohm's Law", prerequisite_chapter=eleven)
    StepFactory(chapter=twelve, title="Theory", prerequisite_step=StepFactory(chapter=eleven, title="Read"))
    warnings = []

    document = export_curriculum(warnings=warnings)

    exported = {c["title"]: c for c in document["subjects"][0]["chapters"]}
    assert "prerequisite" not in exported["Ohm's Law"]
    assert "prerequisite_step" not in exported["Ohm's Law"]["steps"][0]
    assert len(warnings) == 2
    assert "phy class 11: 'Current'" in warnings[0]


def test_export_to_unwritable_path_fails_with_one_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot write .*missing"):
        run(output=str(tmp_path / "missing" / "out.json"))
