"""Backing up and restoring the database: the SQLite online backup API, or pg_dump/pg_restore.

Used by ``manage.py backup`` and ``manage.py restore`` (``make backup``,
``make restore FILE=...``). A SQLite backup is a complete, consistent SQLite
file (taken page by page while the site keeps running); a PostgreSQL backup
is a ``pg_dump --format=custom`` archive. Each kind is recognised by its
first bytes, so a file of the wrong kind is refused before anything changes.
"""

import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
# A file is a MARS Labs backup when it holds these tables (any version of the schema has them).
REQUIRED_TABLES = {"django_migrations", "learners_user", "progress_learningprogress"}


class BackupError(Exception):
    """Something about the database or the file makes the backup or restore impossible; nothing changed."""


def vendor(settings_dict):
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return "sqlite"
    if engine.endswith("postgresql"):
        return "postgresql"
    raise BackupError(f"cannot back up a {engine} database")


def suffix(settings_dict):
    return ".sqlite3" if vendor(settings_dict) == "sqlite" else ".pgdump"


def default_path(directory, settings_dict, *, now=None):
    """``<directory>/mars-<UTC timestamp>.<sqlite3|pgdump>``, never an existing file."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    directory = Path(directory)
    path = directory / f"mars-{stamp}{suffix(settings_dict)}"
    n = 2
    while path.exists():
        path = directory / f"mars-{stamp}-{n}{suffix(settings_dict)}"
        n += 1
    return path


def file_kind(path):
    """"sqlite", "postgresql" or None (not a backup of either kind) from the file's first bytes."""
    with open(path, "rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql"
    return None


# --- SQLite ---------------------------------------------------------------------------------


def _sqlite_path(settings_dict):
    name = str(settings_dict["NAME"])
    if name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
        raise BackupError("the database is in memory; there is no file to back up or restore")
    return Path(name)


def _sqlite_tables(connection):
    return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def check_sqlite_backup(path):
    """Raise BackupError unless ``path`` is an intact SQLite file holding a MARS Labs database."""
    try:
        source = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
        try:
            # The header's page count against the file's size: quick_check does not notice a cut-off tail.
            pages = source.execute("PRAGMA page_count").fetchone()[0]
            expected = pages * source.execute("PRAGMA page_size").fetchone()[0]
            (verdict,) = source.execute("PRAGMA quick_check").fetchone()
            missing = REQUIRED_TABLES - _sqlite_tables(source)
        finally:
            source.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a readable SQLite database ({exc})") from exc
    size = Path(path).stat().st_size
    if size < expected:
        raise BackupError(f"{path} is truncated ({size} of {expected} bytes)")
    if verdict != "ok":
        raise BackupError(f"{path} is damaged (SQLite quick_check: {verdict})")
    if missing:
        raise BackupError(f"{path} is a SQLite database but not a MARS Labs one (no {', '.join(sorted(missing))})")


def backup_sqlite(settings_dict, target):
    """Copy the live database to ``target`` with SQLite's online backup API (readers and writers keep going)."""
    source_path = _sqlite_path(settings_dict)
    if not source_path.exists():
        raise BackupError(f"there is no database at {source_path}")
    partial = Path(f"{target}.partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(source_path, timeout=20)
    destination = sqlite3.connect(partial)
    try:
        with destination:
            source.backup(destination, pages=1024)  # in steps, so writers are not held up for the whole copy
        destination.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        destination.close()
        source.close()
    os.replace(partial, target)


def restore_sqlite(settings_dict, source_file):
    """Replace the database's content with ``source_file``'s, in one step (the backup API holds the write lock)."""
    target_path = _sqlite_path(settings_dict)
    source = sqlite3.connect(f"file:{Path(source_file).resolve()}?mode=ro", uri=True)
    target = sqlite3.connect(target_path, timeout=20)
    try:
        source.backup(target)  # all pages at once: the database changes completely or not at all
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"could not restore into {target_path}: {exc}") from exc
    finally:
        target.close()
        source.close()


# --- PostgreSQL -------------------------------------------------------------------------------


def _pg_tool(name):
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (apt-get install postgresql-client)")
    return path


def _pg_args_env(settings_dict):
    """Connection options for pg_dump/pg_restore, and the environment carrying the password."""
    args = []
    if settings_dict.get("HOST"):
        args += ["--host", str(settings_dict["HOST"])]
    if settings_dict.get("PORT"):
        args += ["--port", str(settings_dict["PORT"])]
    if settings_dict.get("USER"):
        args += ["--username", str(settings_dict["USER"])]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    sslmode = (settings_dict.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    return args, env


def _run(command, env):
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{Path(command[0]).name} failed: {detail[-1] if detail else result.returncode}")
    return result.stdout


def check_pg_backup(path):
    """Raise BackupError unless ``path`` is a pg_dump custom-format archive of a MARS Labs database."""
    listing = _run([_pg_tool("pg_restore"), "--list", str(path)], os.environ.copy())
    missing = {t for t in REQUIRED_TABLES if f" TABLE public {t} " not in listing}
    if missing:
        raise BackupError(f"{path} is a PostgreSQL dump but not of a MARS Labs database "
                          f"(no {', '.join(sorted(missing))})")


def backup_postgresql(settings_dict, target):
    args, env = _pg_args_env(settings_dict)
    partial = Path(f"{target}.partial")
    try:
        _run([_pg_tool("pg_dump"), *args, "--format=custom", "--no-owner", "--no-privileges",
              "--file", str(partial), str(settings_dict["NAME"])], env)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def restore_postgresql(settings_dict, source_file):
    """Drop and recreate every object in the dump, in one transaction: all of it or, on any error, none."""
    args, env = _pg_args_env(settings_dict)
    _run([_pg_tool("pg_restore"), *args, "--clean", "--if-exists", "--no-owner", "--no-privileges",
          "--single-transaction", "--exit-on-error", "--dbname", str(settings_dict["NAME"]), str(source_file)], env)


def backup(settings_dict, target):
    (backup_sqlite if vendor(settings_dict) == "sqlite" else backup_postgresql)(settings_dict, target)


def check(settings_dict, source_file):
    """Raise BackupError unless ``source_file`` exists, is of the database's kind and holds a MARS Labs database."""
    source_file = Path(source_file)
    if not source_file.is_file():
        raise BackupError(f"{source_file}: no such file")
    kind, expected = file_kind(source_file), vendor(settings_dict)
    if kind is None:
        raise BackupError(f"{source_file} is not a MARS Labs backup (neither a SQLite file nor a pg_dump archive)")
    if kind != expected:
        names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
        raise BackupError(f"{source_file} is a {names[kind]} backup, but this site's database is {names[expected]}")
    (check_sqlite_backup if kind == "sqlite" else check_pg_backup)(source_file)


def restore(settings_dict, source_file):
    """Check ``source_file`` (see ``check``) and restore it."""
    check(settings_dict, source_file)
    (restore_sqlite if vendor(settings_dict) == "sqlite" else restore_postgresql)(settings_dict, Path(source_file))
