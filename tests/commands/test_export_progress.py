"""manage.py export_progress: csv, json and MARS-labs documents, by classroom and subject."""

import csv
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from progress import engine
from tests.factories import ClassroomFactory, SubjectFactory, TeacherFactory, UserFactory, make_chapter

pytestmark = pytest.mark.django_db


@pytest.fixture
def school():
    """Two learners in class 12-A (one with progress in physics and maths), one outside it, one teacher."""
    physics = make_chapter(steps=2, subject=SubjectFactory(code="phy", order=1), title="Ohm's Law")
    maths = make_chapter(steps=1, subject=SubjectFactory(code="math", order=2), title="Sets")
    asha, ravi, other = (UserFactory(username=n, grade=12) for n in ("asha", "ravi", "zoe"))
    teacher = TeacherFactory(username="tara")
    room = ClassroomFactory(name="12-A")
    room.learners.add(asha, ravi)
    room.teachers.add(teacher)
    for step in physics.steps.order_by("order_index"):
        engine.open_step(learner=asha, step=step)
    engine.open_step(learner=asha, step=maths.steps.get())
    engine.open_step(learner=other, step=physics.steps.get(order_index=1))
    return {"physics": physics, "room": room}


def run(**options):
    out, err = StringIO(), StringIO()
    call_command("export_progress", stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_csv_has_a_row_per_learner_and_step(school):
    out, err = run(classroom="12-A")

    rows = list(csv.DictReader(StringIO(out)))
    assert [(r["username"], r["subject"], r["class"], r["chapter"], r["step"], r["status"], r["percentage"])
            for r in rows] == [
        ("asha", "phy", "12", "Ohm's Law", "Step 1", "completed", "100"),
        ("asha", "phy", "12", "Ohm's Law", "Step 2", "completed", "100"),
        ("asha", "math", "12", "Sets", "Step 1", "completed", "100"),
    ]
    assert rows[0]["started"] and rows[0]["completed"]
    assert err.strip() == "Exported 3 rows as csv."


def test_json_filtered_by_subject_to_a_file(school, tmp_path):
    path = tmp_path / "progress.json"

    out, _err = run(format="json", subject="phy", output=str(path))

    rows = json.loads(path.read_text(encoding="utf-8"))
    assert {(r["username"], r["step"]) for r in rows} == {("asha", "Step 1"), ("asha", "Step 2"), ("zoe", "Step 1")}
    assert rows[0]["class"] == 12
    assert out.strip() == f"Exported 3 rows as json to {path}."


def test_marslabs_documents_per_learner_in_the_seed_shape(school):
    out, _err = run(format="marslabs", classroom="12-A", subject="phy")

    documents = json.loads(out)
    assert [d["username"] for d in documents] == ["asha", "ravi"]  # learners only, no teacher
    asha = documents[0]
    assert asha["progress_data"]["class"] == 12
    assert list(asha["progress_data"]["subject_progress"]) in (["phy"], [])
    full = engine.marslabs_document_for(learner=school["room"].learners.get(username="asha"))
    assert asha["progress_data"]["subject_progress"]["phy"] == full["subject_progress"]["phy"]


def test_empty_export_is_valid(school):
    out, _err = run(format="json", subject="math", classroom="12-A")

    assert json.loads(out) == [{
        "username": "asha", "subject": "math", "class": 12, "chapter": "Sets", "step": "Step 1",
        "status": "completed", "percentage": 100, "started": json.loads(out)[0]["started"],
        "completed": json.loads(out)[0]["completed"],
    }]
    out, _err = run(format="marslabs", classroom="12-A", subject="math")
    assert len(json.loads(out)) == 2


@pytest.mark.parametrize(
    ("options", "expected"),
    [({"classroom": "12-Z"}, "There is no classroom named '12-Z' (classrooms: 12-A)."),
     ({"subject": "bio"}, "There is no subject with the code 'bio' (subjects: phy, math).")],
)
def test_unknown_classroom_or_subject_fails_with_one_error(school, options, expected):
    with pytest.raises(CommandError) as raised:
        run(**options)

    assert str(raised.value) == expected


def test_csv_export_reads_in_bounded_queries(school, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        run(classroom="12-A")
