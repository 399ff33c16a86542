"""manage.py import_marslabs: learners and progress documents from a MARS-labs SQLite database."""

import gc
import json
import sqlite3
import uuid
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection

from curriculum.enums import StepType
from learners.legacy import UsernameAllocator, parse_age, username_base
from learners.models import UserProfile
from progress import engine
from progress.enums import Status
from progress.models import LearningProgress, Progress, ProgressEvent
from tests.factories import ChapterFactory, StepFactory, UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()


def doc(experiments=(), quizzes=(), subject="phy", grade=12):
    return {"class": grade, "subject_progress": {
        subject: {"completed_experiments": list(experiments), "completed_quizzes": list(quizzes)}}}


def legacy_db(path, users, documents, *, user_table="User", progress_table="Progress"):
    """A MARS-labs database as the seed describes it; ``documents`` are (user_id, data or raw text)."""
    connection = sqlite3.connect(path)
    connection.executescript(f"""
        CREATE TABLE "{user_table}" (id INTEGER NOT NULL, first_name VARCHAR(50) NOT NULL,
            last_name VARCHAR(50) NOT NULL, age VARCHAR(4) NOT NULL, PRIMARY KEY (id));
        CREATE TABLE "{progress_table}" (id INTEGER NOT NULL, user_id INTEGER NOT NULL,
            progress_data JSON NOT NULL, PRIMARY KEY (id));
    """)
    with connection:
        connection.executemany(f'INSERT INTO "{user_table}" VALUES (?, ?, ?, ?)', users)
        connection.executemany(
            f'INSERT INTO "{progress_table}" (user_id, progress_data) VALUES (?, ?)',
            [(user_id, data if isinstance(data, str) else json.dumps(data)) for user_id, data in documents],
        )
    connection.close()
    return str(path)


USERS = [(1, "John", "Doe", "17"), (2, "John", "Doe", "abc"), (3, "Asha", "Verma", " 16 "), (4, "राहुल", "", "")]
DOCUMENTS = [
    (1, doc(["ohms law"], ["OHM'S LAW"])),
    (1, doc([], ["Newton's Laws"])),
    (2, doc(["Ohm's Law"], subject="bio")),
    (3, doc(["Ohms  Law"])),
]


def run(path, **options):
    out = StringIO()
    call_command("import_marslabs", path, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def test_import_creates_learners_with_profiles_and_applies_documents(tmp_path, ohms_law):
    out = run(legacy_db(tmp_path / "mars.db", USERS, DOCUMENTS))

    learners = {u.legacy_id: u for u in User.objects.filter(legacy_id__isnull=False)}
    assert {k: (u.username, u.first_name, u.age) for k, u in learners.items()} == {
        1: ("john.doe", "John", 17), 2: ("john.doe2", "John", None), 3: ("asha.verma", "Asha", 16),
        4: ("learner4", "राहुल", None),
    }
    assert not any(u.has_usable_password() for u in learners.values())
    assert UserProfile.objects.filter(user__in=learners.values()).count() == 4
    assert learners[1].profile.grade == 12  # filled from the document's class
    assert Progress.objects.count() == 4
    done = set(LearningProgress.objects.filter(status=Status.COMPLETED).values_list("user__legacy_id", "step__title"))
    assert done == {(1, "Simulation"), (1, "Quiz"), (3, "Simulation")}
    assert "User 2 (John Doe): age 'abc' is not a number of years; left empty" in out
    assert "john.doe (MARS-labs 1): phy completed_quizzes 'Newton's Laws' (no chapter with this title)" in out
    assert "john.doe2 (MARS-labs 2): bio completed_experiments 'Ohm's Law' (no subject with code 'bio')" in out
    assert ("Learners: 4 created, 0 already imported, 0 skipped. Documents: 4 stored, 0 already stored, 0 skipped. "
            "Steps completed: 3.") in out


def test_second_run_duplicates_nothing(tmp_path, ohms_law):
    path = legacy_db(tmp_path / "mars.db", USERS, DOCUMENTS + [(3, doc(["Ohms  Law"]))])  # a verbatim repeat
    run(path)
    counts = (User.objects.count(), Progress.objects.count(), LearningProgress.objects.count(),
              ProgressEvent.objects.count())

    out = run(path)

    assert (User.objects.count(), Progress.objects.count(), LearningProgress.objects.count(),
            ProgressEvent.objects.count()) == counts
    assert Progress.objects.filter(user__legacy_id=3).count() == 2  # the repeat is kept, once
    assert "Learners: 0 created, 4 already imported, 0 skipped. Documents: 0 stored, 5 already stored" in out


def test_new_documents_for_known_learners_are_added_on_a_later_run(tmp_path, ohms_law):
    run(legacy_db(tmp_path / "one.db", USERS[:1], DOCUMENTS[:1]))

    run(legacy_db(tmp_path / "two.db", USERS[:1], DOCUMENTS[:2]))

    assert User.objects.filter(legacy_id__isnull=False).count() == 1
    assert Progress.objects.count() == 2


def test_usernames_avoid_existing_accounts(tmp_path, ohms_law):
    UserFactory(username="John.Doe")

    run(legacy_db(tmp_path / "mars.db", USERS[:1], []))

    assert User.objects.get(legacy_id=1).username == "john.doe2"


def test_dry_run_writes_nothing_but_reports(tmp_path, ohms_law):
    out = run(legacy_db(tmp_path / "mars.db", USERS, DOCUMENTS), dry_run=True)

    assert not User.objects.filter(legacy_id__isnull=False).exists()
    assert (Progress.objects.count(), LearningProgress.objects.count(), UserProfile.objects.count()) == (0, 0, 0)
    assert "Learners: 4 created" in out
    assert "Dry run: nothing was written." in out


def test_table_name_case_does_not_matter(tmp_path, ohms_law):
    run(legacy_db(tmp_path / "mars.db", USERS, DOCUMENTS, user_table="user", progress_table="PROGRESS"))

    assert User.objects.filter(legacy_id__isnull=False).count() == 4


def test_bad_rows_are_skipped_with_reasons(tmp_path, ohms_law):
    documents = [(1, "{not json"), (1, json.dumps(["a", "list"])), (9, doc(["Ohm's Law"])),
                 (1, {"subject_progress": {"phy": {"completed_experiments": "ohms law"}}})]

    out = run(legacy_db(tmp_path / "mars.db", USERS[:1], documents))

    assert Progress.objects.count() == 0
    assert "Progress 1 (user 1): skipped: progress_data is not JSON" in out
    assert "Progress 2 (user 1): skipped: not a MARS-labs progress document: it is list, not an object" in out
    assert "Progress 3: skipped: there is no user 9 in the file" in out
    assert "subject_progress.phy.completed_experiments is not a list of titles" in out
    assert "Documents: 0 stored, 0 already stored, 4 skipped." in out


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.write_text("this is not a database, just text " * 50), "is not a SQLite database"),
        (lambda p: sqlite3.connect(p).execute("CREATE TABLE other (id INTEGER)").connection.commit(),
         "is not a MARS-labs database: it has no User table (tables found: other)"),
        (lambda p: sqlite3.connect(p).executescript(
            "CREATE TABLE User (id INTEGER, name TEXT); CREATE TABLE Progress (id INTEGER)"),
         "the User table has no first_name, last_name, age column"),
    ],
)
def test_unusable_files_fail_with_one_error_naming_the_file(tmp_path, make, expected):
    path = tmp_path / "mars.db"
    make(path)

    with pytest.raises(CommandError) as raised:
        run(str(path))

    assert str(path) in str(raised.value)
    assert expected in str(raised.value)
    assert not User.objects.exists()


def test_queries_do_not_grow_with_the_number_of_learners(tmp_path, ohms_law, django_assert_max_num_queries):
    def database(name, n):
        users = [(i, f"First{i}", "Last", "15") for i in range(1, n + 1)]
        return legacy_db(tmp_path / name, users, [(i, doc(["Ohm's Law"], ["Ohm's Law"])) for i in range(1, n + 1)])

    small, large = database("small.db", 3), database("large.db", 60)
    with django_assert_max_num_queries(40):
        run(small)
    with django_assert_max_num_queries(40):
        run(large)
    assert LearningProgress.objects.filter(status=Status.COMPLETED).count() == 120


def test_username_helpers():
    assert username_base("Mary Ann", "D'Souza", 5) == "mary-ann.dsouza"
    assert username_base("José", "", 6) == "jose"
    assert username_base("प्रिया", "", 7) == "learner7"
    allocator = UsernameAllocator(["john.doe"])
    assert [allocator.allocate("john.doe") for _ in range(3)] == ["john.doe2", "john.doe3", "john.doe4"]
    assert [parse_age(t) for t in ("17", " 9 ", "17 years", "", "abc", "0", "200")] == [
        (17, True), (9, True), (17, True), (None, True), (None, False), (None, False), (None, False)]


def test_reapply_matches_titles_whose_chapter_was_added_later(tmp_path, ohms_law):
    path = legacy_db(tmp_path / "mars.db", USERS[:1], [(1, doc(["Metre Bridge"]))])
    out = run(path)
    assert "phy completed_experiments 'Metre Bridge' (no chapter with this title)" in out
    bridge = ChapterFactory(subject=ohms_law.subject, grade=12, title="Metre Bridge")
    StepFactory(chapter=bridge, order_index=1, title="Simulation", step_type=StepType.INTERACTIVE,
                required_completion_criteria={"type": "external"})

    out = run(path, reapply=True)

    assert LearningProgress.objects.filter(step__chapter=bridge, status=Status.COMPLETED).count() == 1
    assert Progress.objects.get().unmatched == []
    assert "Steps completed: 1." in out


def _stored(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_bulk_written_rows_are_what_the_orm_writes(tmp_path, ohms_law):
    """Users, profiles and documents go in by multi-row INSERT (SQLite) or COPY (PostgreSQL), not the ORM:
    what is stored must be what the ORM (and the profile signal) would store."""
    data = {"class": 12, "subject_progress": {"phy": {"completed_experiments": ["Ohm’s law ✓ \t\\ \"x\""],
                                                      "completed_quizzes": []}}}
    run(legacy_db(tmp_path / "mars.db", [(1, "Zoë\tAnn", "D'Souza \\", "17")], [(1, data)]))
    learner = User.objects.get(legacy_id=1)
    twin = Progress.objects.create(user=learner, progress_data=data)  # through the ORM, for comparison

    imported_text, twin_text = (row[0] for row in _stored(
        "SELECT progress_data FROM progress_progress WHERE user_id = %s ORDER BY id", [learner.pk]))
    assert imported_text == twin_text  # the same JSON text (SQLite) / jsonb value (PostgreSQL)
    assert Progress.objects.exclude(pk=twin.pk).get().progress_data == data
    assert (learner.first_name, learner.last_name, learner.age, learner.email, learner.is_active) == (
        "Zoë Ann", "D'Souza \\", 17, "", True)  # legacy names: whitespace runs become one space
    profile, fresh = UserProfile.objects.get(user=learner), UserFactory(grade=None).profile  # fresh: signal-made
    assert isinstance(profile.pk, uuid.UUID) and profile.pk.version == 4
    fields = ["background_level", "preferred_language", "learning_preferences", "viewing_step_id",
              "last_heartbeat_at"]
    assert [getattr(profile, f) for f in fields] == [getattr(fresh, f) for f in fields]
    assert profile.grade == 12  # filled from the document's class


def test_cycle_collection_is_off_during_the_import_and_back_on_after(tmp_path, ohms_law, monkeypatch):
    seen = []
    apply = engine.apply_marslabs_documents
    monkeypatch.setattr(engine, "apply_marslabs_documents", lambda **kw: seen.append(gc.isenabled()) or apply(**kw))

    run(legacy_db(tmp_path / "mars.db", USERS, DOCUMENTS))
    with pytest.raises(CommandError):
        run(str(tmp_path / "missing.db"))

    assert seen == [False]
    assert gc.isenabled()


def test_grades_come_from_the_documents_class_as_the_engine_fills_them(tmp_path, ohms_law):
    """One class across a learner's documents: that grade (set when the profile is made). Classes that
    disagree: the engine's rule (the grade met first in the batch), as before. No usable class: none."""
    users = [(1, "A", "A", ""), (2, "B", "B", ""), (3, "C", "C", ""), (4, "D", "D", "")]
    documents = [(1, doc(grade=12)), (2, doc(grade=11)), (2, doc(grade=12)), (3, doc(grade="9")),
                 (3, {"subject_progress": {}}), (4, doc(grade=13))]

    run(legacy_db(tmp_path / "mars.db", users, documents))

    grades = dict(UserProfile.objects.filter(user__legacy_id__isnull=False).values_list("user__legacy_id", "grade"))
    assert grades == {1: 12, 2: 12, 3: 9, 4: None}
