"""``manage.py import_marslabs PATH [--dry-run]``: learners and progress from a MARS-labs SQLite database.

Built for size (100,000 users and 200,000 documents in well under a minute;
docs/performance.md "## Imports"): the legacy file is read with ``sqlite3``,
users, profiles and documents are written with ``bulk_create`` in batches,
and documents are applied by the engine (``apply_marslabs_documents``) a few
thousand at a time, so nothing here costs a query per learner.
"""

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
from progress import engine
from progress.models import Progress

# Documents handed to the engine at once; each batch costs it a fixed number of queries.
APPLY_CHUNK = 5000


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
    """Give SQLite a 256 MiB page cache while importing, then the default back.

    Step progress rows have random UUID keys, so with the default 2 MB cache
    every insert into their indexes reads pages back from disk once the
    tables outgrow it; this roughly halves a 100,000-learner import.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        previous = cursor.execute("PRAGMA cache_size").fetchone()[0]
        cursor.execute("PRAGMA cache_size = -262144")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


def bulk_insert(model, columns, rows, *, constant=None, returning=False, progress=None):
    """INSERT ``rows`` (tuples of database-ready values for ``columns``) in bulk; returns new ids if ``returning``.

    ``constant`` maps more field names to one value for every row, prepared
    for the database once. Far faster than ``bulk_create``, which prepares
    every value of every row through its field and, on SQLite, sends at most
    999 parameters per statement:

    * PostgreSQL: ``COPY ... FROM STDIN``. Ids, when wanted, are taken from
      the table's own sequence first (so they are ours alone, even with other
      writers) and copied in with the rows.
    * SQLite: multi-row INSERTs with RETURNING (SQLite >= 3.35; the ORM's
      bulk_create relies on the same row order).
    """
    meta, quote, wrapper = model._meta, connection.ops.quote_name, db()
    constant = constant or {}
    fields = [meta.get_field(name) for name in [*columns, *constant]]
    extra = tuple(meta.get_field(name).get_db_prep_save(value, wrapper) for name, value in constant.items())
    table = quote(meta.db_table)
    if wrapper.vendor == "postgresql":
        return _copy_insert(meta, table, fields, rows, extra, returning=returning, progress=progress)
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


def _copy_insert(meta, table, fields, rows, extra, *, returning, progress):
    quote, wrapper = connection.ops.quote_name, db()
    ids = []
    with wrapper.cursor() as cursor:
        if returning and rows:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(rows)],
            )
            ids = [row[0] for row in cursor.fetchall()]
            fields = [meta.pk, *fields]
        names = ", ".join(quote(f.column) for f in fields)
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for number, row in enumerate(rows):
                copy.write_row((ids[number], *row, *extra) if returning else (*row, *extra))
                if progress and number % 5000 == 4999:
                    progress(5000)
        if progress:
            progress(len(rows) % 5000)
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

    def handle(self, *args, path, dry_run=False, reapply=False, verbosity=1, **options):
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
        # Bulk inserts send no post_save, so the profiles the signal would make are made here.
        profile_id, wrapper = UserProfile._meta.pk, db()
        bulk_insert(
            UserProfile, ["id", "user_id"],
            [(profile_id.get_db_prep_save(uuid.uuid4(), wrapper), pk) for pk in ids],
            constant={"background_level": BackgroundLevel.BEGINNER, "preferred_language": "en", "grade": None,
                      "learning_preferences": {}, "viewing_step": None, "last_heartbeat_at": None,
                      "created_at": now, "updated_at": now},
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
        json_field, wrapper = Progress._meta.get_field("progress_data"), db()
        with self.bar(len(rows), _("documents")) as bar:
            ids = bulk_insert(
                Progress, ["user_id", "progress_data"],
                [(user_id, json_field.get_db_prep_save(data, wrapper)) for user_id, data in rows],
                constant={"unmatched": [], "applied_at": None, "created_at": now, "updated_at": now},
                returning=True, progress=bar.update,
            )
        # The engine works on model instances; from_db skips the costly keyword __init__.
        stored = [
            Progress.from_db("default", ["id", "user_id", "progress_data", "unmatched", "applied_at"],
                             [pk, user_id, data, [], None])
            for pk, (user_id, data) in zip(ids, rows, strict=True)
        ]
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
