"""Reading MARS-labs SQLite databases, and making usernames for the learners found in them.

MARS-labs (a Flask + SQLite app, ../shared/seeds/000_eb6f2c4be0fd786a.txt)
kept two tables: ``User`` (id, first_name, last_name, age VARCHAR) and
``Progress`` (id, user_id, progress_data JSON text). Copies in the wild spell
the table names in any case ("User", "user", "USER"), so tables and columns
are found case-insensitively.

The database is opened read-only with the standard library's ``sqlite3``:
no ORM, so 100,000 users read in well under a second. Used by
``manage.py import_marslabs``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from django.utils.text import slugify
from django.utils.translation import gettext as _

USER_COLUMNS = ("id", "first_name", "last_name", "age")
PROGRESS_COLUMNS = ("id", "user_id", "progress_data")
USERNAME_MAX = 150
AGE_RE = re.compile(r"^\s*(\d{1,3})(?:\.0+)?\s*(?:years?|yrs?|y)?\s*$", re.I)
MAX_AGE = 120  # learners.User.age is checked against this in the database too
MAX_LEGACY_ID = 2_147_483_647  # PositiveIntegerField's upper bound on every database


class LegacyError(Exception):
    """The file cannot be read as a MARS-labs database; the message names the file and says why."""


@dataclass
class LegacyUser:
    id: int
    first_name: str
    last_name: str
    age_text: str

    @property
    def full_name(self):
        return " ".join(part for part in (self.first_name, self.last_name) if part) or _("(no name)")


@dataclass
class LegacyDocument:
    id: int
    user_id: int
    data: object  # the parsed JSON, when it parsed


@dataclass
class LegacyDatabase:
    path: Path
    users: list[LegacyUser] = field(default_factory=list)
    documents: list[LegacyDocument] = field(default_factory=list)
    # Rows that cannot be imported at all, one line each naming the row and the reason.
    problems: list[str] = field(default_factory=list)
    skipped_users: int = 0
    skipped_documents: int = 0

    def skip_user(self, message):
        self.problems.append(message)
        self.skipped_users += 1

    def skip_document(self, message):
        self.problems.append(message)
        self.skipped_documents += 1


def _find_table(tables, wanted, path):
    found = [name for name in tables if name.casefold() == wanted.casefold()]
    if not found:
        raise LegacyError(
            _("%(path)s is not a MARS-labs database: it has no %(table)s table (tables found: %(tables)s)")
            % {"path": path, "table": wanted, "tables": ", ".join(sorted(tables)) or _("none")}
        )
    return found[0]


def _find_columns(connection, table, wanted, path):
    present = {row[1].casefold(): row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}
    missing = [name for name in wanted if name not in present]
    if missing:
        raise LegacyError(
            _("%(path)s is not a MARS-labs database: the %(table)s table has no %(columns)s column")
            % {"path": path, "table": table, "columns": ", ".join(missing)}
        )
    return ", ".join(f'"{present[name]}"' for name in wanted)


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return " ".join(str(value).split())


def read_marslabs_database(path) -> LegacyDatabase:
    """Read every user and progress document of a MARS-labs SQLite file. Writes nothing.

    Raises ``LegacyError`` (one message naming the file) when the file is
    missing, is not SQLite, or lacks the User/Progress tables or their
    columns. Rows with an unusable id, or documents that are not JSON, are
    left out and described in ``problems``; everything else is returned.
    """
    path = Path(path)
    if not path.exists():
        raise LegacyError(_("%(path)s does not exist") % {"path": path})
    if not path.is_file():
        raise LegacyError(_("%(path)s is not a file") % {"path": path})
    try:
        connection = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise LegacyError(_("%(path)s cannot be opened: %(reason)s") % {"path": path, "reason": exc}) from exc
    try:
        try:
            tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        except sqlite3.DatabaseError as exc:
            raise LegacyError(
                _("%(path)s is not a SQLite database (%(reason)s)") % {"path": path, "reason": exc}
            ) from exc
        user_table = _find_table(tables, "User", path)
        progress_table = _find_table(tables, "Progress", path)
        user_columns = _find_columns(connection, user_table, USER_COLUMNS, path)
        progress_columns = _find_columns(connection, progress_table, PROGRESS_COLUMNS, path)
        database = LegacyDatabase(path=path)
        try:
            _read_users(connection, user_table, user_columns, database)
            _read_documents(connection, progress_table, progress_columns, database)
        except sqlite3.DatabaseError as exc:
            raise LegacyError(_("%(path)s cannot be read: %(reason)s") % {"path": path, "reason": exc}) from exc
        return database
    finally:
        connection.close()


def _legacy_id(value):
    if isinstance(value, int) and 1 <= value <= MAX_LEGACY_ID:
        return value
    if isinstance(value, str) and value.strip().isdigit() and 1 <= int(value) <= MAX_LEGACY_ID:
        return int(value)
    return None


def _read_users(connection, table, columns, database):
    seen = set()
    for raw_id, first_name, last_name, age in connection.execute(f'SELECT {columns} FROM "{table}" ORDER BY 1'):
        legacy_id = _legacy_id(raw_id)
        if legacy_id is None:
            database.skip_user(
                _("%(table)s row with id %(id)r: skipped: the id is not a whole number from 1 to %(max)d")
                % {"table": table, "id": raw_id, "max": MAX_LEGACY_ID}
            )
            continue
        if legacy_id in seen:
            database.skip_user(
                _("%(table)s %(id)d: skipped: the id appears twice") % {"table": table, "id": legacy_id}
            )
            continue
        seen.add(legacy_id)
        database.users.append(LegacyUser(
            id=legacy_id, first_name=_text(first_name)[:USERNAME_MAX], last_name=_text(last_name)[:USERNAME_MAX],
            age_text=_text(age),
        ))


def _read_documents(connection, table, columns, database):
    for raw_id, raw_user_id, raw_data in connection.execute(f'SELECT {columns} FROM "{table}" ORDER BY 1'):
        where = f"{table} {raw_id}"
        user_id = _legacy_id(raw_user_id)
        if user_id is None:
            database.skip_document(
                _("%(where)s: skipped: user_id %(value)r is not a user id") % {"where": where, "value": raw_user_id}
            )
            continue
        if isinstance(raw_data, bytes):
            raw_data = raw_data.decode("utf-8", errors="replace")
        if raw_data is not None and not isinstance(raw_data, str):
            database.skip_document(
                _("%(where)s (user %(user)d): skipped: progress_data is %(type)s, not JSON text")
                % {"where": where, "user": user_id, "type": type(raw_data).__name__}
            )
            continue
        try:
            data = json.loads(raw_data) if raw_data and raw_data.strip() else None
        except json.JSONDecodeError as exc:
            database.skip_document(
                _("%(where)s (user %(user)d): skipped: progress_data is not JSON (%(reason)s)")
                % {"where": where, "user": user_id, "reason": exc.msg}
            )
            continue
        if data is None:
            database.skip_document(
                _("%(where)s (user %(user)d): skipped: progress_data is empty") % {"where": where, "user": user_id}
            )
            continue
        problem = document_problem(data)
        if problem:
            database.skip_document(
                _("%(where)s (user %(user)d): skipped: not a MARS-labs progress document: %(reason)s")
                % {"where": where, "user": user_id, "reason": problem}
            )
            continue
        database.documents.append(LegacyDocument(id=raw_id, user_id=user_id, data=data))


def document_problem(data):
    """Why ``data`` cannot be applied as a MARS-labs document, or None when it can.

    Looser than ``mars_labs.schemas.validate_marslabs_progress`` (legacy
    documents are kept as they were, odd class values included) and far
    cheaper: only what the engine relies on is checked.
    """
    if not isinstance(data, dict):
        return _("it is %(type)s, not an object") % {"type": type(data).__name__}
    subjects = data.get("subject_progress")
    if subjects is None:
        return None
    if not isinstance(subjects, dict):
        return _("subject_progress is %(type)s, not an object") % {"type": type(subjects).__name__}
    for key, lists in subjects.items():
        if lists is None:
            continue
        if not isinstance(lists, dict):
            return _("subject_progress.%(key)s is %(type)s, not an object") % {"key": key, "type": type(lists).__name__}
        for name in ("completed_experiments", "completed_quizzes"):
            titles = lists.get(name)
            if titles is not None and not (isinstance(titles, list) and all(isinstance(t, str) for t in titles)):
                return _("subject_progress.%(key)s.%(name)s is not a list of titles") % {"key": key, "name": name}
    return None


def parse_age(text):
    """A legacy age string as years: ``(age, ok)``. "17", " 17 ", "17 years" -> (17, True); junk -> (None, False).

    An empty string is (None, True): nothing was recorded, nothing is wrong.
    """
    if not text:
        return None, True
    match = AGE_RE.match(text)
    if match and 1 <= int(match.group(1)) <= MAX_AGE:
        return int(match.group(1)), True
    return None, False


def username_base(first_name, last_name, legacy_id):
    """``john.doe`` from "John" "Doe"; ``learner17`` when the names have no Latin letters."""
    parts = [slugify(first_name), slugify(last_name)]
    base = ".".join(part for part in parts if part)[: USERNAME_MAX - 10]
    return base or f"learner{legacy_id}"


class UsernameAllocator:
    """Hands out usernames not yet taken: john.doe, then john.doe2, john.doe3, ...

    ``taken`` holds every username already in use; comparison ignores case, so
    "John.Doe" and "john.doe" are never both made (they would confuse people
    signing in).
    """

    def __init__(self, taken):
        self.taken = {name.casefold() for name in taken}
        self.next_suffix = defaultdict(lambda: 2)

    def allocate(self, base):
        name = base
        while name.casefold() in self.taken:
            n = self.next_suffix[base]
            self.next_suffix[base] = n + 1
            name = f"{base}{n}"
        self.taken.add(name.casefold())
        return name
