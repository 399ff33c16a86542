"""manage.py backup / restore (make backup, make restore FILE=...): the round trip brings the same progress
back, and a bad file is refused with a clear error and changes nothing.

Runs on whichever database DATABASE_URL names: the SQLite file test database (online backup API) or
PostgreSQL (pg_dump / pg_restore of the test database).
"""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from learners.models import User
from mars_labs.management import backups
from progress import engine
from progress.models import LearningProgress, ProgressEvent
from tests.factories import QuizStepFactory, StepFactory, TeacherFactory, UserFactory, make_chapter

pytestmark = pytest.mark.django_db(transaction=True)  # pg_dump and pg_restore are other sessions


@pytest.fixture
def progress():
    """Two learners part-way through a chapter: a completion, a quiz attempt, an override."""
    chapter = make_chapter(steps=0)
    reading = StepFactory(chapter=chapter, order_index=1, required_completion_criteria={"type": "manual"})
    quiz = QuizStepFactory(chapter=chapter, order_index=2)
    asha, ravi = UserFactory(username="asha", grade=12), UserFactory(username="ravi", grade=12)
    engine.open_step(learner=asha, step=reading)
    engine.mark_done(learner=asha, step=reading)
    engine.submit_quiz(learner=asha, step=quiz, answers={"0": 1, "1": 0})
    engine.force_complete(learner=ravi, step=reading, actor=TeacherFactory(), reason="did it on paper")
    return snapshot()


def snapshot():
    return {
        "progress": sorted(LearningProgress.objects.values_list(
            "user__username", "step__title", "status", "completion_percentage", "progress_data", "completed_at")),
        "events": sorted(ProgressEvent.objects.values_list("user__username", "step__title", "kind", "reason",
                                                           "created_at")),
        "users": sorted(User.objects.values_list("username", "password")),
    }


def backup(tmp_path, name=None):
    out = StringIO()
    if name:
        call_command("backup", output=str(tmp_path / name), stdout=out)
    else:
        call_command("backup", directory=str(tmp_path), stdout=out)
    return Path(out.getvalue().splitlines()[-1])


def restore(path):
    out = StringIO()
    call_command("restore", str(path), interactive=False, stdout=out)
    return out.getvalue()


def test_backup_wipe_restore_brings_the_same_progress_back(tmp_path, progress):
    assert len(progress["progress"]) == 3 and len(progress["events"]) >= 5

    path = backup(tmp_path)
    call_command("flush", interactive=False)
    assert snapshot() == {"progress": [], "events": [], "users": []}
    out = restore(path)

    assert snapshot() == progress
    assert f"Restored {connection.settings_dict['NAME']} from {path}" in out
    expected = ".sqlite3" if connection.vendor == "sqlite" else ".pgdump"
    assert path.parent == tmp_path and path.name.startswith("mars-") and path.suffix == expected
    assert backups.file_kind(path) == ("sqlite" if connection.vendor == "sqlite" else "postgresql")


def test_restore_undoes_changes_made_after_the_backup(tmp_path, progress):
    path = backup(tmp_path, "before.bak")
    learner = User.objects.get(username="ravi")
    engine.reset(learner=learner, step=LearningProgress.objects.filter(user=learner).get().step,
                 actor=TeacherFactory(), reason="oops")
    UserFactory(username="late")
    assert snapshot() != progress

    restore(path)

    assert snapshot() == progress


def test_backup_never_overwrites_a_file(tmp_path, progress):
    existing = tmp_path / "keep.bak"
    existing.write_text("precious")

    with pytest.raises(CommandError, match="already exists"):
        call_command("backup", output=str(existing), stdout=StringIO())

    assert existing.read_text() == "precious"


def test_two_backups_in_the_same_second_get_two_files(tmp_path, progress):
    first, second = backup(tmp_path), backup(tmp_path)
    assert first != second and first.exists() and second.exists()


def bad_files(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a backup\n")
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    wrong_kind = tmp_path / "other-kind.bak"
    if connection.vendor == "sqlite":
        wrong_kind.write_bytes(backups.PGDUMP_MAGIC + b"\x01\x0e" + b"\0" * 64)
    else:
        import sqlite3

        sqlite3.connect(wrong_kind).execute("CREATE TABLE t (x)").connection.commit()
    return [
        (tmp_path / "missing.sqlite3", "no such file"),
        (text, "not a MARS Labs backup"),
        (empty, "not a MARS Labs backup"),
        (wrong_kind, "backup, but this site's database is"),
    ]


def test_bad_files_are_refused_with_a_clear_error_and_change_nothing(tmp_path, progress):
    for path, message in bad_files(tmp_path):
        with pytest.raises(CommandError, match="Restore refused, nothing was changed: .*" + message):
            restore(path)
        with pytest.raises(CommandError, match="cannot be restored: .*" + message):
            call_command("restore", str(path), dry_run=True, stdout=StringIO())
        assert snapshot() == progress, path


def test_dry_run_checks_the_file_and_changes_nothing(tmp_path, progress):
    path = backup(tmp_path)
    UserFactory(username="after-the-backup")
    before = snapshot()
    out = StringIO()

    call_command("restore", str(path), dry_run=True, stdout=out)

    assert "Nothing was changed." in out.getvalue() and f"{path} is a good" in out.getvalue()
    assert snapshot() == before


def test_a_database_that_is_not_mars_labs_is_refused(tmp_path, progress):
    if connection.vendor == "sqlite":
        import sqlite3

        other = tmp_path / "other.sqlite3"
        sqlite3.connect(other).execute("CREATE TABLE notes (x)").connection.commit()
    else:
        other = tmp_path / "other.pgdump"
        other.write_bytes(backups.PGDUMP_MAGIC + b"garbage that pg_restore cannot read")

    with pytest.raises(CommandError, match="Restore refused, nothing was changed"):
        restore(other)

    assert snapshot() == progress


def test_a_truncated_backup_changes_nothing(tmp_path, progress):
    path = backup(tmp_path)
    data = path.read_bytes()
    truncated = tmp_path / f"truncated{path.suffix}"
    truncated.write_bytes(data[: len(data) - 40])  # the end of the last table's data
    if connection.vendor == "postgresql":
        # Its table of contents is intact, so the restore starts and fails part-way: the single
        # transaction must roll every table back.
        backups.check_pg_backup(truncated)
        message = "pg_restore failed"
    else:
        message = "is truncated"
    UserFactory(username="after-the-backup")
    before = snapshot()

    with pytest.raises(CommandError, match="Restore refused, nothing was changed: .*" + message):
        restore(truncated)

    assert snapshot() == before


def test_on_a_terminal_restore_asks_and_anything_but_yes_changes_nothing(tmp_path, progress, monkeypatch):
    path = backup(tmp_path)
    UserFactory(username="after-the-backup")
    before = snapshot()
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    questions = []
    monkeypatch.setattr("builtins.input", lambda prompt: questions.append(prompt) or "no")

    with pytest.raises(CommandError, match="Restore cancelled; nothing was changed"):
        call_command("restore", str(path), stdout=StringIO())

    assert snapshot() == before
    assert len(questions) == 1 and "replaces everything" in questions[0]
