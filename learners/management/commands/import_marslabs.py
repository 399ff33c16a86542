"""``manage.py import_marslabs PATH [--dry-run]``: learners and progress from a MARS-labs SQLite database.

Built for size (100,000 users and 200,000 documents in under a minute;
docs/performance.md "## Imports"): the legacy file is read with ``sqlite3``,
users, profiles and documents are written with multi-row INSERTs (SQLite) or
COPY (PostgreSQL) rather than ``bulk_create``, and documents are applied by
the engine (``apply_marslabs_documents``, which writes through
``progress.bulk``) a few thousand at a time, so nothing here costs a query
per learner.
"""

import gc
import json
import secrets
import sqlite3
import sys
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from tqdm import tqdm

from learners.enums import BackgroundLevel
from learners.legacy import LegacyError, UsernameAllocator, parse_age, read_marslabs_database, username_base
from learners.models import UserProfile
from mars_labs.audit import audit, operator
from progress import bulk, engine
from progress.models import Progress

# Documents handed to the engine at once; each batch costs it a fixed number of queries.
APPLY_CHUNK = 5000
# SQLite's page cache during an import; a 100,000-learner import makes a database of about 600 MB.
SQLITE_IMPORT_CACHE_MIB = 1024


class StoredDocument:
    """A document this import just stored, as the engine reads it (``pk``, ``user_id``, ``progress_data``) and
    writes it back (``unmatched``, ``applied_at``): a ``Progress`` instance costs a model ``__init__`` each."""

    __slots__ = ("pk", "user_id", "progress_data", "unmatched", "applied_at")

    def __init__(self, pk, user_id, progress_data):
        self.pk, self.user_id, self.progress_data = pk, user_id, progress_data
        self.unmatched, self.applied_at = [], None


def canonical(data):
    """A document's identity for "is it already stored?" (PostgreSQL's jsonb reorders keys)."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def db():
    """The default database's connection object itself: ``django.db.connection`` is a proxy that costs a
    thread-local lookup on every attribute, which adds up over a million prepared values."""
    return connections[DEFAULT_DB_ALIAS]


def _max_params():
    """How many query parameters one statement may carry on this database."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return min(connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), 30000)
    return 30000  # PostgreSQL allows 65,535


@contextmanager
def _large_sqlite_cache():
    """Give SQLite a large page cache (``SQLITE_IMPORT_CACHE_MIB``) while importing, then the default back.

    Step progress rows have random UUID keys, so with the default 2 MB cache
    every insert into their indexes reads pages back from disk once the
    tables outgrow it (this roughly halves a 100,000-learner import); and the
    whole import is one transaction, whose changed pages SQLite writes out
    early (and again when changed again) once they no longer fit. SQLite
    takes the memory only as pages are used.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        previous = cursor.execute("PRAGMA cache_size").fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = {-1024 * SQLITE_IMPORT_CACHE_MIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


@contextmanager
def _without_cycle_collection():
    """Python's cycle collector off for the import (and back on after).

    An import holds millions of small objects (parsed documents, rows,
    reports); every so often the collector walks all of them, and most of
    reading a 200,000-document file went into that (5.0 s -> 1.6 s without
    it). Nothing here makes reference cycles worth collecting mid-import;
    whatever the ORM leaves is collected once the command ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def bulk_insert(model, columns, rows, *, constant=None, returning=False, progress=None):
    """INSERT ``rows`` (tuples of database-ready values for ``columns``) in bulk; returns new ids if ``returning``.

    ``constant`` maps more field names to one value for every row, prepared
    for the database once. Far faster than ``bulk_create``, which prepares
    every value of every row through its field and, on SQLite, sends at most
    999 parameters per statement:

    * PostgreSQL: ``COPY ... FROM STDIN`` (``progress.bulk.insert``: values
      must then be None, int or str). Ids, when wanted, are taken from the
      table's own sequence first (so they are ours alone, even with other
      writers) and copied in with the rows.
    * SQLite: multi-row INSERTs with RETURNING (SQLite >= 3.35; the ORM's
      bulk_create relies on the same row order).
    """
    meta, quote, wrapper = model._meta, connection.ops.quote_name, db()
    constant = constant or {}
    if wrapper.vendor == "postgresql":
        ids = []
        if returning and rows:
            with wrapper.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [meta.db_table, meta.pk.column, len(rows)],
                )
                ids = [row[0] for row in cursor.fetchall()]
            columns, rows = [meta.pk.name, *columns], [(pk, *row) for pk, row in zip(ids, rows, strict=True)]
        bulk.insert(model, columns, rows, constant=constant)
        if progress:
            progress(len(rows))
        return ids
    fields = [meta.get_field(name) for name in [*columns, *constant]]
    extra = tuple(meta.get_field(name).get_db_prep_save(value, wrapper) for name, value in constant.items())
    table = quote(meta.db_table)
    width = len(fields)
    per_statement = max(1, min(2000, _max_params() // width))
    head = f"INSERT INTO {table} ({', '.join(quote(f.column) for f in fields)}) VALUES "
    row_sql = "(" + ", ".join(["%s"] * width) + ")"
    tail = f" RETURNING {quote(meta.pk.column)}" if returning else ""
    ids = []
    with wrapper.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start:start + per_statement]
            params = [value for row in chunk for value in (*row, *extra)]
            cursor.execute(head + ", ".join([row_sql] * len(chunk)) + tail, params)
            if returning:
                ids += [row[0] for row in cursor.fetchall()]
            if progress:
                progress(len(chunk))
    return ids


class Command(BaseCommand):
    help = (
        "Import learners and their progress from a MARS-labs SQLite database (tables User and Progress). "
        "Each legacy user becomes a learner (username from their names, e.g. john.doe, john.doe2; no usable "
        "password: set one in the admin); each progress document is stored as it was and applied to step progress. "
        "Lists every title that matched no chapter, per learner. Safe to run again: learners are found by their "
        "MARS-labs id and documents already stored are not stored twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The MARS-labs SQLite database file.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Do the whole import, report it, then roll it all back."
        )
        parser.add_argument(
            "--reapply", action="store_true",
            help="Also apply again the documents stored by earlier imports that had unmatched titles (after "
                 "adding the missing chapters, say). Completions already made are kept.",
        )

    def handle(self, *args, **options):
        with _without_cycle_collection():
            self.import_file(*args, **options)

    def import_file(self, *args, path, dry_run=False, reapply=False, verbosity=1, **options):
        self.verbosity = verbosity
        self.show_bars = verbosity >= 1 and self.stdout.isatty()
        try:
            legacy = read_marslabs_database(path)
        except LegacyError as exc:
            raise CommandError(str(exc)) from exc

        now = timezone.now()
        with _large_sqlite_cache(), transaction.atomic():
            users = self.import_users(legacy)
            stored, already_stored, orphans = self.store_documents(legacy, users)
            if reapply:
                new = {d.pk for d in stored}
                stored += [
                    d for d in Progress.objects.filter(user__legacy_id__isnull=False).exclude(unmatched=[])
                    .order_by("user_id", "pk").iterator(chunk_size=5000)
                    if d.pk not in new
                ]
            reports = self.apply(stored, now=now)
            if dry_run:
                transaction.set_rollback(True)

        self.report(legacy, users, reports, stored=stored, already_stored=already_stored, orphans=orphans,
                    dry_run=dry_run)

    def bar(self, total, description):
        return tqdm(total=total, desc=description, unit="", disable=not self.show_bars, leave=False,
                    file=sys.stderr)

    # --- Learners ------------------------------------------------------------------

    def import_users(self, legacy):
        """Create a learner (and profile) for each legacy user not imported before.

        Returns ``{legacy id: (user pk, username, created)}`` for every legacy user.
        """
        User = get_user_model()
        known = {
            legacy_id: (pk, username, False)
            for legacy_id, pk, username in User.objects.filter(legacy_id__isnull=False).values_list(
                "legacy_id", "pk", "username"
            )
        }
        fresh = [u for u in legacy.users if u.id not in known]
        self.bad_ages = []
        if not fresh:
            return known
        allocator = UsernameAllocator(User.objects.values_list("username", flat=True).iterator(chunk_size=10000))
        now = timezone.now()
        rows = []
        for legacy_user in fresh:
            age, ok = parse_age(legacy_user.age_text)
            if not ok:
                self.bad_ages.append(legacy_user)
            rows.append((
                allocator.allocate(username_base(legacy_user.first_name, legacy_user.last_name, legacy_user.id)),
                legacy_user.first_name,
                legacy_user.last_name,
                age,
                legacy_user.id,
                # What set_unusable_password() stores, without its per-user cost.
                UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30),
            ))
        constant = {"email": "", "is_staff": False, "is_superuser": False, "is_active": True, "date_joined": now,
                    "last_login": None}
        with self.bar(len(rows), _("learners")) as bar:
            ids = bulk_insert(User, ["username", "first_name", "last_name", "age", "legacy_id", "password"], rows,
                              constant=constant, returning=True, progress=bar.update)
        created = {row[4]: (pk, row[0], True) for row, pk in zip(rows, ids, strict=True)}
        # Bulk inserts send no post_save, so the profiles the signal would make are made here. The engine
        # fills an empty grade from the documents' class; a learner whose documents all give the same class
        # gets it now instead (the same value, without rewriting 100,000 profile rows); when they disagree,
        # the engine's rule decides, as before.
        classes = defaultdict(set)
        for document in legacy.documents:
            if document.user_id in created:
                grade = engine.document_grade(document.data)
                if grade is not None:
                    classes[document.user_id].add(grade)
        grades = {legacy_id: next(iter(found)) for legacy_id, found in classes.items() if len(found) == 1}
        bulk_insert(
            UserProfile, ["id", "user_id", "grade"],
            # UUIDs as 32 hex digits: what the ORM stores on SQLite, and PostgreSQL reads.
            [(uuid.uuid4().hex, pk, grades.get(row[4])) for row, pk in zip(rows, ids, strict=True)],
            constant={"background_level": BackgroundLevel.BEGINNER, "preferred_language": "en",
                      "learning_preferences": {}, "viewing_step": None, "last_heartbeat_at": None,
                      "progress_version": 0, "created_at": now, "updated_at": now},
        )
        return {**known, **created}

    # --- Documents -----------------------------------------------------------------

    def store_documents(self, legacy, users):
        """Store each legacy document not stored before; returns ``(new Progress rows, already stored, orphans)``.

        "Already stored" means the learner has a document with the same
        content; a legacy file holding the same document twice for one user
        stores it twice (the count is compared), so nothing is lost either.
        """
        orphans = [d for d in legacy.documents if d.user_id not in users]
        wanted = [d for d in legacy.documents if d.user_id in users]
        pks = {legacy_id: entry[0] for legacy_id, entry in users.items()}
        have = Counter()
        # Only learners imported before can have stored documents; a first import compares nothing.
        if any(not created for _pk, _username, created in users.values()):
            for user_id, data in Progress.objects.filter(user__legacy_id__isnull=False).values_list(
                "user_id", "progress_data"
            ).iterator(chunk_size=5000):
                have[(user_id, canonical(data))] += 1
        rows, already = [], 0
        for document in wanted:
            user_id = pks[document.user_id]
            if have:
                key = (user_id, canonical(document.data))
                if have[key]:
                    have[key] -= 1
                    already += 1
                    continue
            rows.append((user_id, document.data))
        now = timezone.now()
        dumps = json.JSONEncoder().encode  # what JSONField writes (json.dumps, no encoder), minus its call overhead
        with self.bar(len(rows), _("documents")) as bar:
            ids = bulk_insert(
                Progress, ["user_id", "progress_data"],
                [(user_id, dumps(data)) for user_id, data in rows],
                constant={"unmatched": [], "applied_at": None, "created_at": now, "updated_at": now},
                returning=True, progress=bar.update,
            )
        stored = [StoredDocument(pk, user_id, data) for pk, (user_id, data) in zip(ids, rows, strict=True)]
        return stored, already, orphans

    def apply(self, documents, *, now):
        """Apply the new documents through the engine, all of one learner's in the same call (they are unioned)."""
        by_user = defaultdict(list)
        for document in documents:
            by_user[document.user_id].append(document)
        reports = []
        chunk = []
        with self.bar(len(documents), _("applying")) as bar:
            for user_documents in by_user.values():
                chunk.extend(user_documents)
                if len(chunk) >= APPLY_CHUNK:
                    reports += engine.apply_marslabs_documents(documents=chunk, now=now)
                    bar.update(len(chunk))
                    chunk = []
            if chunk:
                reports += engine.apply_marslabs_documents(documents=chunk, now=now)
                bar.update(len(chunk))
        return reports

    # --- Output --------------------------------------------------------------------

    def report(self, legacy, users, reports, *, stored, already_stored, orphans, dry_run):
        verbosity = self.verbosity
        names = {pk: (username, legacy_id) for legacy_id, (pk, username, _c) in users.items()}
        owner = {document.pk: document.user_id for document in stored}
        unmatched = defaultdict(dict)  # user pk -> {(subject, list, title): reason}
        for report in reports:
            for entry in report.unmatched:
                key = (str(entry["subject"]), entry["list"], str(entry["title"]))
                unmatched[owner[report.document_id]].setdefault(key, entry["reason"])
        created = [entry for entry in users.values() if entry[2]]
        completed = sum(r.completed for r in reports)
        if not dry_run:
            audit("import", what="marslabs", path=str(legacy.path), operator=operator(),
                  learners_created=len(created), learners_kept=len(users) - len(created),
                  documents_stored=len(stored), documents_already=already_stored, steps_completed=completed)

        if verbosity >= 1:
            for line in legacy.problems:
                self.stdout.write(self.style.WARNING(f"  {line}"))
            for document in orphans:
                self.stdout.write(self.style.WARNING(
                    _("  Progress %(id)s: skipped: there is no user %(user)d in the file")
                    % {"id": document.id, "user": document.user_id}
                ))
            for legacy_user in self.bad_ages:
                self.stdout.write(self.style.WARNING(
                    _("  User %(id)d (%(name)s): age %(age)r is not a number of years; left empty")
                    % {"id": legacy_user.id, "name": legacy_user.full_name, "age": legacy_user.age_text}
                ))
            if unmatched:
                self.stdout.write(_("Titles that matched no chapter (kept on the stored documents):"))
            for user_pk in sorted(unmatched, key=lambda pk: names[pk][1]):
                username, legacy_id = names[user_pk]
                entries = "; ".join(
                    f"{subject} {list_name} '{title}' ({reason})"
                    for (subject, list_name, title), reason in sorted(unmatched[user_pk].items())
                )
                self.stdout.write(f"  {username} (MARS-labs {legacy_id}): {entries}")
            if verbosity >= 2 and created:
                self.stdout.write(_("New learners:"))
                for legacy_id, (_pk, username, was_created) in sorted(users.items()):
                    if was_created:
                        self.stdout.write(f"  {legacy_id} -> {username}")

            self.stdout.write(
                _("Learners: %(created)d created, %(kept)d already imported, %(skipped_users)d skipped. "
                  "Documents: %(stored)d stored, %(already)d already stored, %(skipped)d skipped. "
                  "Steps completed: %(completed)d. Unmatched titles: %(unmatched)d, for %(learners)d learners. "
                  "Ages left empty: %(ages)d.")
                % {"created": len(created), "kept": sum(1 for u in legacy.users if not users[u.id][2]),
                   "stored": len(stored),
                   "already": already_stored,
                   "skipped": len(orphans) + legacy.skipped_documents,
                   "completed": completed, "unmatched": sum(len(v) for v in unmatched.values()),
                   "learners": len(unmatched), "ages": len(self.bad_ages), "skipped_users": legacy.skipped_users}
            )
            if dry_run:
                self.stdout.write(self.style.WARNING(_("Dry run: nothing was written.")))
            else:
                self.stdout.write(self.style.SUCCESS(_("Imported %(path)s.") % {"path": legacy.path}))
