"""manage.py import_curriculum: native files through the importer, OLabs catalogues converted first."""

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from curriculum.importer import DEMO_CURRICULUM_PATH
from curriculum.models import Chapter, LearningStep, Subject
from tests.factories import ChapterFactory, SubjectFactory

pytestmark = pytest.mark.django_db


def run(*args, **options):
    out = StringIO()
    call_command("import_curriculum", *args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def counts():
    return (Subject.objects.count(), Chapter.objects.count(), LearningStep.objects.count())


def write(tmp_path, data, name="file.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


# --- native ----------------------------------------------------------------------


def test_native_import_creates_then_second_run_changes_nothing():
    out = run(str(DEMO_CURRICULUM_PATH))
    assert counts() == (3, 11, 49)
    assert "Chapters: 11 created, 0 updated, 0 unchanged" in out

    out = run(str(DEMO_CURRICULUM_PATH))

    assert counts() == (3, 11, 49)
    assert "Chapters: 0 created, 0 updated, 11 unchanged" in out
    assert out.rstrip().endswith("nothing to change.")


def test_native_dry_run_writes_nothing_and_says_what_it_would_do():
    out = run(str(DEMO_CURRICULUM_PATH), dry_run=True, verbosity=2)

    assert counts() == (0, 0, 0)
    assert "Create chapter 'Ohm's Law' in phy class 12." in out
    assert "Dry run: nothing was written." in out


def test_native_bad_file_changes_nothing_and_names_file_item_and_reason(tmp_path):
    data = json.loads(Path(DEMO_CURRICULUM_PATH).read_text(encoding="utf-8"))
    data["subjects"][0]["chapters"][1]["steps"][4]["criteria"]["min_score"] = 150
    path = write(tmp_path, data)

    with pytest.raises(CommandError) as raised:
        run(path)

    message = str(raised.value)
    assert path in message
    assert "subjects[0].chapters[1].steps[4] 'Quiz': criteria.min_score: the pass mark must be between 0 and 100" in (
        message
    )
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "Cannot read"), ("{not json", "is not valid JSON"), ("[1, 2]", "must be a JSON object")],
)
def test_native_unreadable_files_fail_with_one_error(tmp_path, content, expected):
    path = tmp_path / "curriculum.json"
    if content is not None:
        path.write_text(content)

    with pytest.raises(CommandError, match=expected):
        run(str(path))


def test_failure_exits_with_status_1_from_the_command_line(tmp_path):
    missing = tmp_path / "nowhere.json"
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "mars_labs.settings_test",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}

    result = subprocess.run(
        [sys.executable, "manage.py", "import_curriculum", str(missing)],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr.strip() == f"CommandError: Cannot read {missing}: No such file or directory"


# --- OLabs -----------------------------------------------------------------------

MESSY_CATALOGUE = {
    "1": {"name": "Physics", "branches": {
        "5": {"name": "Class 12", "simulations": {
            "10": {"name": "Ohm's law", "count": "1"},
            "2": {"name": "Metre Bridge", "count": "4"},
            "11": {"name": "Ohm's Law", "count": "1"},  # the same name again in this class
            "12": {"name": "N/A", "count": "1"},
            "13": ["not", "a", "simulation"],
            "14": {"count": "1"},  # no name
            "N/A": {"name": "Unknown lab", "count": "1"},
        }},
        "6": {"name": "Electricity and Magnetism", "simulations": {  # a topic, not a class
            "20": {"name": "Magnetic Field of a Coil", "count": "2"},
        }},
        "7": {"name": "N/A", "simulations": {"30": {"name": "Lost", "count": "1"}}},
        "8": "broken branch",
        "9": {"name": "Class 11"},  # no simulations key
    }},
    "4": {"name": "physics ", "branches": {  # the same subject under another id
        "5": {"name": "Class 12", "simulations": {"40": {"name": "Ohms Law", "count": "1"}}},
    }},
    "2": {"name": "Chemistry", "branches": {"1": {"name": "Class 9", "simulations": {
        "1": {"name": "Separation of Mixtures", "count": "N/A"},
    }}}},
    "3": {"name": "भौतिकी प्रयोग", "branches": {"1": {"name": "कक्षा 10", "simulations": {
        "7": {"name": "ओम का नियम", "count": "1"},
        "8": {"name": "ओम का नियम", "count": "1"},
    }}}},
    "N/A": {"name": "Mystery", "branches": {"1": {"name": "Class 8", "simulations": {"1": {"name": "X"}}}}},
    "6": {"branches": {}},  # no name
    "7": 42,
    "8": {"name": "English", "branches": ["not", "an", "object"]},
}


def olabs(tmp_path, catalogue=MESSY_CATALOGUE, **options):
    return run(write(tmp_path, catalogue, "olabs.json"), format="olabs", **options)


def test_olabs_messy_catalogue_imports_what_it_can_and_reports_the_rest(tmp_path):
    out = olabs(tmp_path)

    assert dict(Subject.objects.values_list("code", "name")) == {
        "phy": "Physics", "chem": "Chemistry", "olabs-3": "भौतिकी प्रयोग",
    }
    phy12 = dict(Chapter.objects.filter(subject__code="phy", grade=12).values_list("external_id", "title"))
    # Id order decides who keeps the plain title: sim 2, 10, 11 of subject 1, then subject 4's sim 40.
    assert phy12 == {
        "olabs:1/5/2": "Metre Bridge",
        "olabs:1/5/10": "Ohm's law",
        "olabs:1/5/11": "Ohm's Law (2)",
        "olabs:4/5/40": "Ohms Law (3)",
    }
    topic = Chapter.objects.get(external_id="olabs:1/6/20")
    assert topic.grade is None
    assert "Electricity and Magnetism" in topic.description
    hindi = Chapter.objects.filter(subject__code="olabs-3").order_by("external_id")
    assert [(c.title, c.grade, c.slug) for c in hindi] == [
        ("ओम का नियम", None, "olabs-3-1-7"),
        ("ओम का नियम (2)", None, "olabs-3-1-8"),
    ]
    skipped = [line.strip() for line in out.splitlines() if "skipped" in line]
    for fragment in (
        "olabs 1/5/12: skipped: the simulation has no name ('N/A')",
        "olabs 1/5/13: skipped: the simulation is list, not an object",
        "olabs 1/5/14: skipped: the simulation has no name (None)",
        "olabs 1/5/N/A: skipped: the simulation id is unknown ('N/A')",
        "olabs 1/7: skipped with its 1 simulations: the branch has no name ('N/A')",
        "olabs 1/8: skipped: the branch is str, not an object",
        "olabs 1/9 'Class 11': skipped: \"simulations\" is missing",
        "olabs N/A: skipped with its 1 simulations: the subject id is unknown",
        "olabs 6: skipped with its 0 simulations: the subject has no name (None)",
        "olabs 7: skipped: the subject is int, not an object",
        "olabs 8 'English': skipped: \"branches\" is list, not an object",
    ):
        assert any(fragment in line for line in skipped), fragment
    assert "OLabs: 8 new simulations, 0 already imported (left as they are), 11 items skipped." in out


def test_olabs_chapter_has_the_five_olabs_steps(tmp_path):
    olabs(tmp_path)

    chapter = Chapter.objects.get(external_id="olabs:1/5/10")
    steps = list(chapter.steps.order_by("order_index").values_list("title", "step_type",
                                                                    "required_completion_criteria"))
    assert steps == [
        ("Theory", "reading", {"type": "time", "value": 60}),
        ("Procedure", "reading", {"type": "time", "value": 45}),
        ("Animation", "video", {"type": "view"}),
        ("Simulation", "interactive", {"type": "external"}),
        ("Viva Voce", "quiz", {"type": "external"}),
    ]
    simulation = chapter.steps.get(title="Simulation")
    assert "https://www.olabs.edu.in/?sub=1&brch=5&sim=10&cnt=1" in simulation.activity["instructions"]
    call_command("check_curriculum", stdout=StringIO())  # sound: warnings only (Viva Voce has no questions yet)


def test_olabs_second_run_changes_nothing_and_keeps_teacher_edits(tmp_path):
    olabs(tmp_path)
    before = counts()
    viva = LearningStep.objects.get(chapter__external_id="olabs:1/5/10", title="Viva Voce")
    viva.required_completion_criteria = {"type": "quiz", "min_score": 60}
    viva.activity = {"questions": [{"text": "V = ?", "choices": ["IR", "I/R"], "answer": 0}]}
    viva.save()
    Chapter.objects.filter(external_id="olabs:1/5/2").update(title="Metre Bridge (Wheatstone)")

    out = olabs(tmp_path)

    assert counts() == before
    viva.refresh_from_db()
    assert viva.required_completion_criteria == {"type": "quiz", "min_score": 60}
    assert Chapter.objects.get(external_id="olabs:1/5/2").title == "Metre Bridge (Wheatstone)"
    assert "OLabs: 0 new simulations, 8 already imported (left as they are)" in out


def test_olabs_new_simulations_go_after_existing_chapters_without_taking_their_titles(tmp_path):
    physics = SubjectFactory(code="phy", name="Physics", order=1)
    ChapterFactory(subject=physics, grade=12, title="Ohm's Law", order_index=1, slug="ohms-law")
    catalogue = {"1": {"name": "Physics", "branches": {"5": {"name": "Class 12", "simulations": {
        "10": {"name": "Ohm’s law", "count": "1"}}}}}}

    olabs(tmp_path, catalogue)

    new = Chapter.objects.get(external_id="olabs:1/5/10")
    assert (new.title, new.order_index, new.slug) == ("Ohm’s law (2)", 2, "ohms-law-class-12")
    assert Chapter.objects.get(slug="ohms-law").external_id is None  # the existing chapter is not taken over
    assert Subject.objects.get(code="phy").order == 1


def test_olabs_dry_run_writes_nothing(tmp_path):
    out = olabs(tmp_path, dry_run=True)

    assert counts() == (0, 0, 0)
    assert "Dry run: nothing was written." in out


def test_olabs_top_level_not_an_object_fails_with_one_error(tmp_path):
    with pytest.raises(CommandError, match="olabs.json: an OLabs catalogue is a JSON object"):
        olabs(tmp_path, ["Physics"])
    assert counts() == (0, 0, 0)
