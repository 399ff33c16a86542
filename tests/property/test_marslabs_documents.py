"""MARS-labs progress documents from clients and legacy databases: stored and applied, or refused whole.

Entry points: POST /api/v1/progress and PUT /api/v1/progress/<id> (lab token:
trusted; learner token: the learner's own, untrusted claim), and
``manage.py import_marslabs`` on a legacy SQLite file. Properties: never a
5xx or a traceback; a refused document (400 / CommandError) changes nothing;
an accepted one is stored verbatim, and applying it only ever completes steps.
"""

import json
import sqlite3
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from hypothesis import event, given
from hypothesis import strategies as st

from api.enums import TokenScope
from api.models import ApiToken
from curriculum.enums import StepType
from mars_labs.schemas import SchemaError, validate_marslabs_progress
from progress.enums import Status
from progress.models import LearningProgress, Progress
from tests.api.conftest import Api
from tests.factories import ChapterFactory, QuizStepFactory, StepFactory, SubjectFactory, UserFactory

from .conftest import FINITE_JSON, TEXT, fuzz_settings, rolled_back, snapshot

pytestmark = pytest.mark.django_db

TITLES = st.one_of(
    st.sampled_from(["Ohm's Law", "ohms law", "OHM’S  LAW", "Ohm's Law\n", "Metre Bridge", "", " "]), TEXT
)
LISTS = st.one_of(
    st.fixed_dictionaries({}, optional={
        "completed_experiments": st.one_of(st.lists(TITLES, max_size=3), FINITE_JSON),
        "completed_quizzes": st.one_of(st.lists(TITLES, max_size=3), FINITE_JSON),
        "score": FINITE_JSON,
    }),
    FINITE_JSON,
)
SUBJECT_KEYS = st.one_of(st.sampled_from(["phy", "physics", "PHY", "chem", "phy\n", "p", "a" * 33]), TEXT)
CLASSES = st.one_of(
    st.sampled_from([12, "12", "012", 12.0, 0, 13, "²", "١٢", "12\n", "9" * 5000, True, None, -1, 2**70]),
    FINITE_JSON,
)
# Documents a client could well send (the titles may still match nothing)...
PLAUSIBLE = st.fixed_dictionaries(
    {"subject_progress": st.dictionaries(
        st.sampled_from(["phy", "physics", "chem"]),
        st.fixed_dictionaries({}, optional={"completed_experiments": st.lists(TITLES, max_size=3),
                                            "completed_quizzes": st.lists(TITLES, max_size=3)}),
        max_size=2,
    )},
    optional={"class": st.sampled_from([12, "12", 11, 1])},
)
# ... and anything else.
DOCUMENTS = st.one_of(
    PLAUSIBLE,
    st.fixed_dictionaries(
        {"subject_progress": st.one_of(st.dictionaries(SUBJECT_KEYS, LISTS, max_size=3), FINITE_JSON)},
        optional={"class": CLASSES, "name": FINITE_JSON},
    ),
    FINITE_JSON,
)


@pytest.fixture
def world(db):
    """Physics 12 "Ohm's Law" (theory, simulation, quiz), a learner, a lab token and the learner's token."""
    chapter = ChapterFactory(subject=SubjectFactory(code="phy", name="Physics"), grade=12, title="Ohm's Law")
    StepFactory(chapter=chapter, order_index=1, title="Theory")
    StepFactory(chapter=chapter, order_index=2, title="Simulation", step_type=StepType.INTERACTIVE,
                required_completion_criteria={"type": "external"})
    QuizStepFactory(chapter=chapter, order_index=3, title="Quiz")
    learner = UserFactory(username="asha", grade=None)
    Progress.objects.create(user=learner, progress_data={"subject_progress": {}})  # for PUT
    return {
        "learner": learner,
        "lab": ApiToken.issue(name="olabs", scope=TokenScope.LAB)[1],
        "own": ApiToken.issue(name="asha-phone", scope=TokenScope.LEARNER, user=learner)[1],
    }


def valid(document):
    try:
        validate_marslabs_progress(document)
    except SchemaError:
        return False
    return True


def done_steps():
    return dict(LearningProgress.objects.filter(status=Status.COMPLETED).values_list("pk", "completed_at"))


@fuzz_settings(80)
@given(document=DOCUMENTS, method=st.sampled_from(["post", "put"]), who=st.sampled_from(["lab", "own"]))
def test_api_stores_a_valid_document_verbatim_and_refuses_the_rest_whole(client, world, document, method, who):
    learner = world["learner"]
    api = Api(client, world[who])
    with rolled_back():
        before, completed_before = snapshot(), done_steps()
        if method == "post":
            response = api.post("/api/v1/progress", {"user_id": learner.pk, "progress_data": document})
        else:
            response = api.put(f"/api/v1/progress/{learner.pk}", {"progress_data": document})
        event(f"{method} answered {response.status_code}")
        assert response.status_code in (200, 400), response.content
        assert response["Content-Type"] == "application/json"
        if response.status_code == 400:
            assert response.json()["message"]
            assert snapshot() == before
            return
        # MARS-labs' own test: a falsy document is "missing" and refused, so only real ones got here.
        assert valid(document)
        if method == "post":
            stored = Progress.objects.get(pk=response.json()["id"])
        else:  # PUT replaces the learner's first document
            stored = Progress.objects.filter(user=learner).order_by("id").first()
        assert stored.progress_data == document
        assert stored.applied_at is not None
        # Applying completes steps; it never takes a completion away.
        completed_after = done_steps()
        assert all(completed_after.get(pk) == at for pk, at in completed_before.items())


@fuzz_settings(80)
@given(document=DOCUMENTS)
def test_api_answer_matches_the_shared_validator(client, world, document):
    """The API and the model/admin/importer validator agree on which documents are acceptable."""
    learner = world["learner"]
    with rolled_back():
        response = Api(client, world["lab"]).post("/api/v1/progress", {"user_id": learner.pk,
                                                                       "progress_data": document})
        assert response.status_code == (200 if document and valid(document) else 400), response.content


# --- legacy databases -------------------------------------------------------------------

RAW_DOCUMENTS = st.one_of(
    DOCUMENTS.map(json.dumps),
    st.sampled_from(["", "{", "null", "[]", '"text"', "NaN", '{"class": "²", "subject_progress": {}}',
                     '{"subject_progress": {"phy": {"completed_experiments": "Ohm\'s Law"}}}']),
    st.text(max_size=40),
)
AGES = st.one_of(st.sampled_from(["17", " 16 ", "abc", "", "²", "9" * 5000, "-3", "17 years"]), st.text(max_size=8))


def legacy_db(path, users, documents):
    connection = sqlite3.connect(path)
    connection.executescript("""
        CREATE TABLE "User" (id INTEGER NOT NULL, first_name VARCHAR(50) NOT NULL,
            last_name VARCHAR(50) NOT NULL, age VARCHAR(4) NOT NULL, PRIMARY KEY (id));
        CREATE TABLE "Progress" (id INTEGER NOT NULL, user_id INTEGER NOT NULL,
            progress_data JSON NOT NULL, PRIMARY KEY (id));
    """)
    with connection:
        connection.executemany('INSERT INTO "User" VALUES (?, ?, ?, ?)', users)
        connection.executemany('INSERT INTO "Progress" (user_id, progress_data) VALUES (?, ?)', documents)
    connection.close()
    return str(path)


NAMES = st.one_of(st.sampled_from(["John", "राहुल", "", "O'Brien", "a" * 60]), st.text(max_size=12))


@fuzz_settings(40)
@given(
    users=st.lists(st.tuples(NAMES, NAMES, AGES), min_size=1, max_size=3),
    documents=st.lists(st.tuples(st.integers(1, 4), RAW_DOCUMENTS), max_size=4),
)
def test_import_marslabs_applies_what_it_can_and_never_crashes(world, tmp_path_factory, users, documents):
    path = legacy_db(tmp_path_factory.mktemp("legacy") / "mars.db",
                     [(i, *user) for i, user in enumerate(users, start=1)], documents)
    with rolled_back():
        before, completed_before = snapshot(), done_steps()
        try:
            call_command("import_marslabs", path, stdout=StringIO(), stderr=StringIO())
        except CommandError as error:
            event("refused")
            assert str(error).strip()
            assert snapshot() == before
            return
        event("imported")
        assert all(done_steps().get(pk) == at for pk, at in completed_before.items())
