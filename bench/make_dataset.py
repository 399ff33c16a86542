#!/usr/bin/env python
"""A district-sized MARS Labs database for bench/run.py: curriculum, classes, learners and their progress.

    .venv/bin/python bench/make_dataset.py --learners 10000 --subjects 16 --chapters 50 --steps 5
    .venv/bin/python bench/make_dataset.py --learners 300 --database-url postgres://postgres@127.0.0.1:5432/mars_bench

The database is created afresh (SQLite: the file, default bench/data/district.sqlite3; PostgreSQL:
the named database is dropped and created) and migrated. Then, in bulk:

- a curriculum of SUBJECTS subjects x CHAPTERS chapters (class 12) x STEPS steps. A chapter's steps
  follow the demo curriculum's pattern: reading (60 s of active time), video (opened; optional for
  intermediate learners), simulation (reported by the lab), exercise (an answer checked against the
  expected one), and last a 4-question quiz (pass mark 70). Every third chapter needs the previous one;
- classrooms of 40 learners, each with a teacher (staff, in the "Teachers" group);
- learners (class 12; 85 % beginners, 12 % intermediate, 3 % advanced) whose progress is skewed: the
  share of the curriculum a learner has done is drawn from Beta(0.5, 3.5) (mean 12.5 %, median 7 %;
  a few learners past 60 %). In each subject a learner has completed a *prefix* of the subject's
  steps in curriculum order (so nothing violates sequential unlocking) and has the next step in
  progress (a video is completed by opening it, so a video next is simply not started yet);
- the rows the engine would have written: LearningProgress with the criteria snapshot, active
  seconds, quiz attempts ({answers, score, at}, best score; about one quiz in five passed at the
  second attempt), submissions, simulation reports, the engine's own reason and percentage
  (computed by ``engine.evaluate``); completed_at set iff completed; ProgressEvents: STARTED, TIME
  (one per heartbeat of at most HEARTBEAT_MAX_SECONDS), ANSWERED (per attempt, answer or report),
  COMPLETED (exactly one per completed row), and a PATH event per path;
- each learner's main LearningPath as ``progress.paths.plan_main_path`` would build it (the same
  rules, steps, notes and omissions; built once per kind of learner, not once per learner).

Bulk loading: PostgreSQL uses COPY (psycopg 3, text format, foreign-key triggers off for the
load); SQLite uses executemany in one transaction with journal_mode=OFF and synchronous=OFF for the
load only (then WAL / NORMAL again). Secondary indexes of the big tables are dropped before and
recreated after the load; ANALYZE runs at the end. It prints the row counts and the elapsed time.
"""

import argparse
import io
import json
import math
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402

DEFAULT_SQLITE = _common.ROOT / "bench" / "data" / "district.sqlite3"
CLASS_SIZE = 40
GRADE = 12
QUIZ_QUESTIONS = 4
PASS_MARK = 70
EXPECTED_ANSWER = "9.8 m/s2"
# Shares of background levels among learners (the rest are beginners).
INTERMEDIATE_SHARE, ADVANCED_SHARE = 0.12, 0.03
BATCH = 20_000

SUBJECT_NAMES = [
    ("phy", "Physics"), ("chem", "Chemistry"), ("math", "Mathematics"), ("bio", "Biology"),
    ("eng", "English"), ("hist", "History"), ("geo", "Geography"), ("cs", "Computer Science"),
    ("eco", "Economics"), ("acc", "Accountancy"), ("bst", "Business Studies"), ("pol", "Political Science"),
    ("psy", "Psychology"), ("soc", "Sociology"), ("art", "Fine Arts"), ("pe", "Physical Education"),
]


# ------------------------------------------------------------------------------------------
# Curriculum
# ------------------------------------------------------------------------------------------


def step_template(n_steps):
    """(step_type, criteria, activity, optional_for_intermediate) for each position of a chapter."""
    reading = ("reading", {"type": "time", "value": 60}, {}, False)
    video = ("video", {"type": "view"}, {"video_url": "https://videos.example.org/lesson.mp4"}, True)
    simulation = ("interactive", {"type": "external"}, {"simulation_url": "https://labs.example.org/sim/"}, False)
    exercise = ("exercise", {"type": "submission"}, {"expected_answer": EXPECTED_ANSWER}, False)
    questions = [
        {"text": f"Question {n + 1}?", "choices": ["A", "B", "C", "D"], "answer": n % 4,
         "explanation": "Because."}
        for n in range(QUIZ_QUESTIONS)
    ]
    quiz = ("quiz", {"type": "quiz", "min_score": PASS_MARK}, {"questions": questions}, False)
    body = [reading, video, simulation, exercise]
    return [body[i % len(body)] for i in range(n_steps - 1)] + [quiz]


def make_curriculum(*, subjects, chapters, steps):
    """Subjects, chapters and steps through the ORM (a few thousand rows); returns the in-memory curriculum.

    Returns ``[(subject, [(chapter, [step, ...]), ...]), ...]`` in curriculum order.
    """
    from curriculum.models import Chapter, LearningStep, Subject

    if subjects > len(SUBJECT_NAMES):
        names = SUBJECT_NAMES + [(f"s{n}", f"Subject {n}") for n in range(len(SUBJECT_NAMES), subjects)]
    else:
        names = SUBJECT_NAMES[:subjects]
    subject_rows = Subject.objects.bulk_create(
        [Subject(code=code, name=name, order=n) for n, (code, name) in enumerate(names)]
    )
    template = step_template(steps)
    curriculum, chapter_rows, step_rows = [], [], []
    for subject in subject_rows:
        textbook, previous = [], None
        for n in range(chapters):
            title = f"{subject.name} {n + 1}"
            chapter = Chapter(
                id=uuid.uuid4(), subject=subject, grade=GRADE, title=title,
                slug=f"{subject.code}-{n + 1}-class-{GRADE}", description=f"Chapter {n + 1} of {subject.name}.",
                order_index=n + 1, prerequisite_chapter=previous if n % 3 == 2 else None,
            )
            chapter_rows.append(chapter)
            chapter_steps = []
            for i, (step_type, criteria, activity, optional) in enumerate(template):
                step = LearningStep(
                    id=uuid.uuid4(), chapter=chapter, title=f"{step_type.capitalize()} {i + 1}",
                    content=f"## {title}\n\nStep {i + 1}: read, watch, try and check.\n",
                    step_type=step_type, order_index=i + 1, required_completion_criteria=criteria,
                    activity=activity, optional_for_intermediate=optional,
                )
                step_rows.append(step)
                chapter_steps.append(step)
            textbook.append((chapter, chapter_steps))
            previous = chapter
        curriculum.append((subject, textbook))
    Chapter.objects.bulk_create(chapter_rows, batch_size=500)
    LearningStep.objects.bulk_create(step_rows, batch_size=500)
    return curriculum


# ------------------------------------------------------------------------------------------
# Paths (mirrors progress.paths.plan_main_path; tests/bench compares the two)
# ------------------------------------------------------------------------------------------


def plan_path(*, curriculum, rule, level_label, attempted_quizzes):
    """``(path_type, name, description, steps, step_notes, omitted)`` as plan_main_path builds it.

    ``attempted_quizzes``: ids (str) of quiz steps the learner has attempted (their chapter loses its test-out).
    """
    from django.utils.translation import gettext as _

    from progress.enums import PathType
    from progress.paths import optional_note

    personalized = rule.leave_out_optional or rule.test_out
    path_type = PathType.PERSONALIZED if personalized else PathType.DEFAULT
    name = _("Your path for class %(grade)s") % {"grade": GRADE}
    description = (
        _("Personalized for %(level)s learners.") % {"level": level_label}
        if personalized else _("Every step of your class, in order.")
    )
    steps, notes, omitted = [], {}, {}
    test_out_note = _("test out: pass this quiz first to skip the rest of the chapter")
    skipped_note = _("skipped if you test out")
    optional = optional_note()
    for _subject, textbook in curriculum:
        for _chapter, chapter_steps in textbook:
            quiz = next((s for s in chapter_steps if s.step_type == "quiz"), None)
            ordered = chapter_steps
            if quiz is not None and str(quiz.pk) in attempted_quizzes:
                quiz = None
            if rule.test_out and quiz is not None:
                ordered = [quiz, *[s for s in chapter_steps if s is not quiz]]
                notes[str(quiz.pk)] = {"test_out": True, "note": test_out_note}
                for step in chapter_steps:
                    if step is not quiz and str(step.pk) not in notes:
                        notes[str(step.pk)] = {"note": skipped_note, "skippable_if": "tested out"}
            for step in ordered:
                if rule.leave_out_optional and step.optional_for_intermediate:
                    omitted[str(step.pk)] = optional
                    notes[str(step.pk)] = {"note": optional, "skippable": True}
                    continue
                steps.append(str(step.pk))
    return path_type, name, description, steps, notes, omitted


# ------------------------------------------------------------------------------------------
# Writing rows in bulk
# ------------------------------------------------------------------------------------------


class Loader:
    """Inserts tuples into a table: COPY on PostgreSQL, executemany on SQLite. Values are already final:

    str, int, float, bool or None; timestamps come from ``ts`` and UUIDs from ``uid``.
    """

    def __init__(self, connection, *, tune):
        self.connection = connection
        self.postgres = connection.vendor == "postgresql"
        self.tune = tune
        self.counts = {}
        self.seconds = {}  # per table: time spent inserting (the rest of the load is generating rows)
        self.saved_indexes = []

    # Values -------------------------------------------------------------------------------

    def ts(self, moment):
        """A timestamp as the backend stores it (SQLite: naive UTC text; PostgreSQL: timestamptz text)."""
        if self.postgres:
            return moment.isoformat()
        return moment.replace(tzinfo=None).isoformat(" ")

    @staticmethod
    def uid():
        return uuid.uuid4().hex

    # Tuning -------------------------------------------------------------------------------

    def settings_for_load(self):
        """SQLite, for the load only (outside any transaction): no journal, no syncs, a big page cache."""
        if self.postgres or not self.tune:
            return
        with self.connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=OFF")
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB: random UUID keys touch every page
            # Checked by construction (and by tests/bench): no per-row foreign-key lookups or JSON_VALID parses.
            cursor.execute("PRAGMA foreign_keys=OFF")
            cursor.execute("PRAGMA ignore_check_constraints=ON")

    def begin(self, tables):
        """Drop the tables' secondary indexes (kept to recreate) and set the load-only PRAGMAs."""
        with self.connection.cursor() as cursor:
            if self.postgres:
                if self.tune:
                    # Foreign-key checks are triggers: off for this session's load (the rows are consistent
                    # by construction; tests/bench checks them).
                    cursor.execute("SET session_replication_role = replica")
                for table in tables:
                    cursor.execute(
                        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
                        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
                        "WHERE t.relname = %s AND NOT x.indisprimary AND NOT EXISTS "
                        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
                        [table],
                    )
                    for name, definition in cursor.fetchall():
                        self.saved_indexes.append(definition)
                        cursor.execute(f'DROP INDEX "{name}"')
                    # Unique constraints too (one row per learner and step): rebuilt in one sort afterwards.
                    cursor.execute(
                        "SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                        "JOIN pg_class t ON t.oid = c.conrelid WHERE t.relname = %s AND c.contype = 'u'",
                        [table],
                    )
                    for name, definition in cursor.fetchall():
                        self.saved_indexes.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
                        cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
                if self.tune:
                    cursor.execute("SET maintenance_work_mem = '512MB'")
                    cursor.execute("SET synchronous_commit = off")
            else:
                for table in tables:
                    cursor.execute(
                        "SELECT name, sql FROM sqlite_master "
                        "WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
                        [table],
                    )
                    for name, definition in cursor.fetchall():
                        self.saved_indexes.append(definition)
                        cursor.execute(f'DROP INDEX "{name}"')

    def end(self):
        """Recreate the dropped indexes, restore the settings, ANALYZE."""
        with self.connection.cursor() as cursor:
            if self.postgres:
                # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: check the queued rows now
                # (CREATE INDEX refuses to run with checks pending), then defer again as Django expects.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            for definition in self.saved_indexes:
                cursor.execute(definition)
            self.saved_indexes = []
            if self.postgres and self.tune:
                cursor.execute("SET session_replication_role = DEFAULT")

    def analyze(self):
        with self.connection.cursor() as cursor:
            cursor.execute("ANALYZE")
            if not self.postgres and self.tune:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA ignore_check_constraints=OFF")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA foreign_key_check")
                problems = cursor.fetchall()
                if problems:
                    raise RuntimeError(f"foreign keys broken after the load: {problems[:5]}")

    # Inserting ------------------------------------------------------------------------------

    def insert(self, table, columns, rows):
        """Insert a list of tuples (in batches of BATCH); returns how many. The writer thread does the writing."""
        for start in range(0, len(rows), BATCH):
            self._queue.put((table, columns, rows[start:start + BATCH]))
        self.counts[table] = self.counts.get(table, 0) + len(rows)
        return len(rows)

    def start_writer(self):
        """A thread that writes queued batches while this one generates the next rows.

        The database does its share of the work (parsing, constraints, index pages) while Python
        builds rows; only the writer uses the connection until ``stop_writer``.
        """
        import queue
        import threading

        self._queue = queue.Queue(maxsize=4)
        self._error = None
        # django.db.connection is per thread: hand the writer this thread's open DB-API connection.
        self.connection.ensure_connection()
        self._raw = self.connection.connection

        def work():
            while True:
                item = self._queue.get()
                if item is None:
                    return
                if self._error is None:
                    try:
                        self._write(*item)
                    except BaseException as exc:  # noqa: BLE001 - re-raised by stop_writer
                        self._error = exc

        self._thread = threading.Thread(target=work, name="dataset-writer", daemon=True)
        self._thread.start()

    def stop_writer(self):
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _write(self, table, columns, batch):
        started = time.monotonic()
        self._write_rows(table, columns, batch)
        self.seconds[table] = self.seconds.get(table, 0.0) + time.monotonic() - started

    def _write_rows(self, table, columns, batch):
        names = ", ".join(f'"{c}"' for c in columns)
        if self.postgres:
            buffer = io.StringIO()
            for row in batch:
                buffer.write("\t".join(_copy_text(v) for v in row))
                buffer.write("\n")
            # The raw psycopg connection: Django's wrapper belongs to the thread that opened it.
            with self._raw.cursor() as cursor, cursor.copy(
                f'COPY "{table}" ({names}) FROM STDIN'
            ) as copy:
                copy.write(buffer.getvalue())
        else:
            marks = ", ".join("?" for _ in columns)
            # sqlite3 directly (no per-row conversion by Django); Django opens it with check_same_thread=False.
            self._raw.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', batch)


def _copy_text(value):
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        return value
    return str(value)


# ------------------------------------------------------------------------------------------
# Learners and their progress
# ------------------------------------------------------------------------------------------


class Evaluator:
    """``engine.evaluate`` memoised on what it reads (the criteria and the few progress_data keys)."""

    def __init__(self):
        self.cache = {}

    def __call__(self, criteria_json, criteria, data):
        from types import SimpleNamespace

        from progress import engine

        key = (criteria_json, data.get("active_seconds"), data.get("best_score"), data.get("marked_done"),
               data.get("accepted_answer") is not None, bool(data.get("submissions")),
               data.get("external_completed"))
        if key not in self.cache:
            progress = SimpleNamespace(progress_data={**data, "criteria": criteria})
            step = SimpleNamespace(required_completion_criteria=criteria)
            self.cache[key] = engine.evaluate(progress=progress, step=step)
        return self.cache[key]


def _met_data(kind, criteria):
    """progress_data that meets ``criteria`` (for the completed row's reason)."""
    return {"time": {"active_seconds": criteria.get("value")}, "quiz": {"best_score": 100},
            "manual": {"marked_done": True}, "submission": {"accepted_answer": EXPECTED_ANSWER},
            "external": {"external_completed": True}}.get(kind, {})


def learner_fraction(rng):
    """How much of the curriculum a learner has done: skewed, most early, a few far ahead."""
    return rng.betavariate(0.5, 3.5)


def build_dataset(*, learners, subjects, chapters, steps, seed=1, now=None, tune=True, out=print):
    """Create everything in the current (migrated, empty) database; returns the row counts.

    ``tune``: PRAGMAs / session settings for the load (off inside a test's transaction).
    """
    from django.conf import settings
    from django.contrib.auth.models import Group
    from django.db import connection, transaction
    from django.utils.translation import gettext as _

    from learners.enums import BackgroundLevel
    from learners.models import Classroom, User, UserProfile
    from learners.roles import apply_teacher_role
    from progress.enums import PathType
    from progress.models import PathRule

    rng = random.Random(seed)
    random_bits = random.Random(seed + 1)
    uuid_from = lambda: uuid.UUID(int=random_bits.getrandbits(128), version=4).hex  # noqa: E731
    now = now or datetime.now(UTC)
    beat = settings.HEARTBEAT_MAX_SECONDS
    evaluate = Evaluator()
    started, cpu_started = time.monotonic(), time.process_time()

    # Curriculum, roles, teachers, classrooms, learners: the ORM (thousands of rows, not millions).
    with transaction.atomic():
        curriculum = make_curriculum(subjects=subjects, chapters=chapters, steps=steps)
        apply_teacher_role()
        teachers_group = Group.objects.get(name="Teachers")
        n_classes = max(1, math.ceil(learners / CLASS_SIZE))
        teachers = User.objects.bulk_create([
            User(username=f"teacher{n + 1:04d}", first_name="Teacher", last_name=f"{n + 1:04d}", is_staff=True,
                 password="!bench-no-password", email=f"teacher{n + 1:04d}@school.example")
            for n in range(n_classes)
        ])
        teachers_group.user_set.add(*teachers)
        # Every user gets a profile (learners/signals.py does it on save; bulk_create sends no signal).
        UserProfile.objects.bulk_create([UserProfile(user=t) for t in teachers])
        levels = []
        for _n in range(learners):
            draw = rng.random()
            levels.append(BackgroundLevel.ADVANCED if draw < ADVANCED_SHARE
                          else BackgroundLevel.INTERMEDIATE if draw < ADVANCED_SHARE + INTERMEDIATE_SHARE
                          else BackgroundLevel.BEGINNER)
        users = User.objects.bulk_create([
            User(username=f"learner{n + 1:06d}", first_name=f"Learner{n + 1}", last_name=f"L{(n * 7919) % 9973}",
                 password="!bench-no-password", age=16 + n % 3)
            for n in range(learners)
        ], batch_size=2000)
        _make_profiles(users, levels)
        classrooms = Classroom.objects.bulk_create([
            Classroom(name=f"Class {GRADE} - {n + 1:04d}", grade=GRADE) for n in range(n_classes)
        ])
        Classroom.teachers.through.objects.bulk_create([
            Classroom.teachers.through(classroom_id=c.pk, user_id=t.pk)
            for c, t in zip(classrooms, teachers, strict=True)
        ])
        Classroom.learners.through.objects.bulk_create([
            Classroom.learners.through(classroom_id=classrooms[n // CLASS_SIZE].pk, user_id=u.pk)
            for n, u in enumerate(users)
        ], batch_size=5000)
    out(f"curriculum, {learners} learners, {n_classes} classrooms and teachers: {time.monotonic() - started:.1f} s")

    rules = {r.background_level: r for r in PathRule.objects.all()}
    loader = Loader(connection, tune=tune)
    subject_steps = [[s for _c, chapter_steps in textbook for s in chapter_steps] for _s, textbook in curriculum]
    # Main paths are the same for every learner of a level, except advanced learners' test-outs.
    shared_paths = {}

    def path_for(level, attempted):
        rule = rules.get(level) or PathRule(background_level=level)
        key = (level, frozenset(attempted) if rule.test_out else None)
        if key not in shared_paths:
            plan = plan_path(curriculum=curriculum, rule=rule, level_label=BackgroundLevel(level).label,
                             attempted_quizzes=attempted if rule.test_out else set())
            path_type, name, description, sequence, notes, omitted = plan
            shared_paths[key] = (path_type, name, description, json.dumps(sequence), json.dumps(notes),
                                 json.dumps(omitted), len(sequence), len(omitted))
            if len(shared_paths) > 64:  # advanced learners rarely share: do not keep theirs
                shared_paths.pop(next(iter(shared_paths)))
        return shared_paths[key]

    progress_rows, event_rows, path_rows, profile_updates = [], [], [], []
    postgres = loader.postgres
    # Times are naive UTC datetimes here; stored as text the way each backend keeps them.
    base = now.astimezone(UTC).replace(tzinfo=None)
    if postgres:
        def ts(moment):
            return moment.isoformat() + "+00:00"
    else:
        def ts(moment):
            return moment.isoformat(" ")

    def iso(moment):  # what the engine writes into JSON: now.isoformat() of an aware UTC datetime
        return moment.isoformat() + "+00:00"

    # Per step, what never changes: hex id, criteria JSON, and the completed row's JSON when it is constant.
    info = {}
    for subject_list in subject_steps:
        for step in subject_list:
            criteria = step.required_completion_criteria
            cj = json.dumps(criteria)
            kind = criteria["type"]
            done_reason = evaluate(cj, criteria, _met_data(kind, criteria))[2]
            info[step.pk] = (step.pk.hex, kind, criteria, cj, done_reason, str(step.pk), step)

    def add_completed(user_id, meta, t, attempted):
        step_hex, kind, criteria, cj, done_reason, step_key, step = meta
        events = event_rows
        events.append((user_id, step_hex, "started", None, "", "{}", ts(t)))
        completion_data = "{}"
        end = t
        if kind == "time":
            seconds = 0.0
            while seconds < criteria["value"]:
                credit = float(min(beat, criteria["value"] - seconds))
                seconds += credit
                events.append((user_id, step_hex, "time", None, "", f'{{"seconds": {credit}}}',
                               ts(t + timedelta(seconds=seconds))))
            end = t + timedelta(seconds=seconds)
            data = f'{{"criteria": {cj}, "active_seconds": {round(seconds, 1)}, "reason": {json.dumps(done_reason)}}}'
        elif kind == "view":
            data = f'{{"criteria": {cj}, "reason": {json.dumps(done_reason)}}}'
        elif kind == "external":
            end = t + timedelta(minutes=10)
            report = f'{{"completed": true, "at": "{iso(end)}"}}'
            data = (f'{{"criteria": {cj}, "external_report_count": 1, "external_reports": [{report}], '
                    f'"external_completed": true, "reason": {json.dumps(done_reason)}}}')
            events.append((user_id, step_hex, "answered", None, "",
                           f'{{"external": true, "completed": true, "at": "{iso(end)}"}}', ts(end)))
        elif kind == "submission":
            end = t + timedelta(minutes=2)
            data = json.dumps({"criteria": criteria,
                               "submissions": [{"answer": EXPECTED_ANSWER, "right": True, "at": iso(end)}],
                               "accepted_answer": EXPECTED_ANSWER, "reason": done_reason})
            events.append((user_id, step_hex, "answered", None, "", '{"right": true}', ts(end)))
        else:  # quiz
            attempts = []
            if rng.random() < 0.2:
                end += timedelta(minutes=3)
                attempts.append(_attempt(step, rng.choice((0, 1, 2)), end))
            end += timedelta(minutes=3)
            attempts.append(_attempt(step, rng.choice((3, 4, 4)), end))
            for n, (attempt, at) in enumerate(attempts, 1):
                events.append((user_id, step_hex, "answered", None, "",
                               f'{{"score": {attempt["score"]}, "attempt": {n}}}', ts(at)))
            best = max(a["score"] for a, _at in attempts)
            data_dict = {"criteria": criteria, "attempts": [a for a, _at in attempts], "best_score": best}
            data_dict["reason"] = evaluate(cj, criteria, data_dict)[2]
            data = json.dumps(data_dict)
            completion_data = f'{{"score": {attempts[-1][0]["score"]}}}'
            attempted.add(step_key)
        events.append((user_id, step_hex, "completed", None, "", completion_data, ts(end)))
        progress_rows.append((uuid_from(), user_id, step_hex, "completed", 100, ts(t), ts(end), data, ts(t), ts(end)))

    def add_in_progress(user_id, meta, t, attempted):
        step_hex, kind, criteria, cj, done_reason, step_key, step = meta
        event_rows.append((user_id, step_hex, "started", None, "", "{}", ts(t)))
        data = {"criteria": criteria}
        end = t
        if kind == "time":
            beats = rng.randrange(0, math.ceil(criteria["value"] / beat))
            seconds = 0.0
            for _n in range(beats):
                seconds += float(beat)
                end = t + timedelta(seconds=seconds)
                event_rows.append((user_id, step_hex, "time", None, "", f'{{"seconds": {float(beat)}}}', ts(end)))
            if beats:
                data["active_seconds"] = round(seconds, 1)
        elif kind == "quiz" and rng.random() < 0.4:
            end = t + timedelta(minutes=3)
            attempt, _at = _attempt(step, rng.choice((0, 1, 2)), end)
            data["attempts"] = [attempt]
            data["best_score"] = attempt["score"]
            event_rows.append((user_id, step_hex, "answered", None, "",
                               f'{{"score": {attempt["score"]}, "attempt": 1}}', ts(end)))
            attempted.add(step_key)
        met, percentage, reason = evaluate(cj, criteria, data)
        assert not met, (criteria, data)
        data["reason"] = reason
        progress_rows.append((uuid_from(), user_id, step_hex, "in_progress", percentage, ts(t), None, json.dumps(data),
                              ts(t), ts(end)))

    def _attempt(step, right, at):
        questions = step.activity["questions"]
        answers = {str(i): q["answer"] if i < right else (q["answer"] + 1) % len(q["choices"])
                   for i, q in enumerate(questions)}
        return {"answers": answers, "score": round(100 * right / len(questions)), "at": iso(at)}, at

    subject_infos = [[info[s.pk] for s in subject_list] for subject_list in subject_steps]
    progress_columns = ["id", "user_id", "step_id", "status", "completion_percentage", "started_at", "completed_at",
                        "progress_data", "created_at", "updated_at"]
    event_columns = ["user_id", "step_id", "kind", "actor_id", "reason", "data", "created_at"]
    path_columns = ["id", "user_id", "name", "description", "path_type", "steps_sequence", "step_notes", "omitted",
                    "chapter_id", "is_active", "ended_at", "created_at", "updated_at"]

    load_started = time.monotonic()
    loader.settings_for_load()
    with transaction.atomic():
        loader.begin(["progress_learningprogress", "progress_progressevent", "progress_learningpath"])
        loader.start_writer()
        for user, level in zip(users, levels, strict=True):
            user_id, attempted = user.pk, set()
            fraction = learner_fraction(rng)
            last_active = base - timedelta(hours=rng.expovariate(1 / 60))  # mean 2.5 days ago
            first_activity = last_active
            viewing = None
            for metas in subject_infos:
                share = min(1.0, fraction * rng.uniform(0.5, 1.5))
                done = round(share * len(metas))
                if done == 0 and rng.random() > 0.5:
                    continue  # not started this subject at all
                spacing = timedelta(minutes=rng.uniform(30, 240))
                t = last_active - spacing * (done + 1)
                first_activity = min(first_activity, t)
                for meta in metas[:done]:
                    add_completed(user_id, meta, t, attempted)
                    t += spacing
                if done < len(metas) and metas[done][1] != "view":  # opening a video step completes it
                    add_in_progress(user_id, metas[done], t, attempted)
                    if viewing is None or t > viewing[1]:
                        viewing = (metas[done][0], t)
            path_type, name, description, sequence, notes, omitted, n_steps, n_omitted = path_for(level, attempted)
            path_id, path_at = uuid_from(), first_activity - timedelta(minutes=1)
            path_rows.append((path_id, user_id, name, description, path_type, sequence, notes, omitted, None, True,
                              None, ts(path_at), ts(path_at)))
            summary = _("%(type)s path: %(before)d → %(after)d steps, %(omitted)d left out") % {
                "type": PathType(path_type).label, "before": 0, "after": n_steps, "omitted": n_omitted,
            }
            event_rows.append((user_id, None, "path", None, summary,
                               json.dumps({"path": str(uuid.UUID(path_id)), "steps": n_steps}), ts(path_at)))
            if viewing is not None:
                profile_updates.append((viewing[0], ts(viewing[1] + timedelta(seconds=30)), user_id))
            if len(event_rows) >= BATCH * 5:
                _flush(loader, progress_columns, progress_rows, event_columns, event_rows, path_columns, path_rows)
        _flush(loader, progress_columns, progress_rows, event_columns, event_rows, path_columns, path_rows)
        loader.stop_writer()
        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE learners_userprofile SET viewing_step_id = %s, last_heartbeat_at = %s WHERE user_id = %s",
                profile_updates,
            )
        out(f"progress rows generated and inserted: {time.monotonic() - load_started:.1f} s (inserting: "
            + ", ".join(f"{table} {seconds:.1f} s" for table, seconds in loader.seconds.items()) + ")")
        index_started = time.monotonic()
        loader.end()
        out(f"indexes recreated: {time.monotonic() - index_started:.1f} s")
    analyze_started = time.monotonic()
    loader.analyze()
    out(f"ANALYZE: {time.monotonic() - analyze_started:.1f} s")
    counts = count_rows()
    counts["elapsed_s"] = round(time.monotonic() - started, 1)
    counts["cpu_s_this_process"] = round(time.process_time() - cpu_started, 1)
    return counts


def _flush(loader, progress_columns, progress_rows, event_columns, event_rows, path_columns, path_rows):
    """Hand the rows so far to the writer (copies of the lists) and start new ones."""
    loader.insert("progress_learningprogress", progress_columns, progress_rows[:])
    loader.insert("progress_progressevent", event_columns, event_rows[:])
    loader.insert("progress_learningpath", path_columns, path_rows[:])
    progress_rows.clear()
    event_rows.clear()
    path_rows.clear()


def _make_profiles(users, levels):
    """Profiles for bulk-created users (bulk_create sends no post_save): class 12, the learner's level."""
    from learners.models import UserProfile

    UserProfile.objects.bulk_create(
        [UserProfile(user=u, grade=GRADE, background_level=level) for u, level in zip(users, levels, strict=True)],
        batch_size=2000,
    )


def count_rows():
    from django.db.models import Count

    from curriculum.models import Chapter, LearningStep, Subject
    from learners.models import Classroom, User
    from progress.models import LearningPath, LearningProgress, ProgressEvent

    by_kind = dict(ProgressEvent.objects.order_by().values_list("kind").annotate(n=Count("id")))
    return {
        "subjects": Subject.objects.count(),
        "chapters": Chapter.objects.count(),
        "steps": LearningStep.objects.count(),
        "learners": User.objects.filter(is_staff=False).count(),
        "teachers": User.objects.filter(is_staff=True).count(),
        "classrooms": Classroom.objects.count(),
        "learning_progress": LearningProgress.objects.count(),
        "progress_events": sum(by_kind.values()),
        "events_by_kind": by_kind,
        "learning_paths": LearningPath.objects.count(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None,
                        help=f"Default: sqlite:///{DEFAULT_SQLITE}. PostgreSQL: the database is dropped and created.")
    parser.add_argument("--learners", type=int, default=10000)
    parser.add_argument("--subjects", type=int, default=16)
    parser.add_argument("--chapters", type=int, default=50, help="Chapters per subject.")
    parser.add_argument("--steps", type=int, default=5, help="Steps per chapter (the last one is a quiz).")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    for name in ("learners", "subjects", "chapters", "steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    url = args.database_url or f"sqlite:///{DEFAULT_SQLITE}"
    started = time.monotonic()
    _common.prepare_database(url)
    # No checkpoint thread (mars_labs/sqlite3/checkpoint.py): its connection to the file would stop the
    # load from switching the journal off ("database is locked"), and a load with no journal has no WAL.
    _common.setup_django(_common.django_env(url, SQLITE_CHECKPOINT_MS=0))
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    print(f"database {_common.redacted(url)} created and migrated: {time.monotonic() - started:.1f} s")
    counts = build_dataset(learners=args.learners, subjects=args.subjects, chapters=args.chapters, steps=args.steps,
                           seed=args.seed)
    total = time.monotonic() - started
    print(json.dumps({**counts, "total_s_including_migrate": round(total, 1)}, indent=2))
    meta = Path(url[len("sqlite:///"):] + ".json") if not _common.is_postgres(url) else None
    if meta:
        meta.write_text(json.dumps({"args": vars(args), **counts, "total_s": round(total, 1)}, indent=2))
    os.environ.pop("DATABASE_URL", None)


if __name__ == "__main__":
    main()
