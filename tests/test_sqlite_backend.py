"""mars_labs/sqlite3: write transactions queue on a file lock beside the database, woken at once,
and a thread of each process copies the WAL back into the database file (checkpoint.py).

Runs on both CI passes: the wrappers here are made for a temporary SQLite file, whatever DATABASE_URL is.
"""

import sqlite3
import threading
import time

import pytest
from django.db import OperationalError, connections

from mars_labs.sqlite3 import checkpoint
from mars_labs.sqlite3.base import DatabaseWrapper

# SQLite's own checkpoint never runs in these tests: only the thread (or nobody) copies the WAL.
NO_AUTO_CHECKPOINT = "PRAGMA wal_autocheckpoint=1000000"


def wrapper(path, *, timeout=5, alias="lock-test"):
    options = {"transaction_mode": "IMMEDIATE", "timeout": timeout, "init_command": NO_AUTO_CHECKPOINT}
    settings = dict(connections["default"].settings_dict, ENGINE="mars_labs.sqlite3", NAME=str(path),
                    OPTIONS=options, CONN_MAX_AGE=0)
    connection = DatabaseWrapper(settings, alias=alias)
    connection.ensure_connection()
    return connection


@pytest.fixture(autouse=True)
def _own_databases(django_db_blocker):
    with django_db_blocker.unblock():  # these are throwaway files, not the test database
        yield


@pytest.fixture(autouse=True)
def _no_checkpoint_thread(settings):
    settings.SQLITE_CHECKPOINT_SECONDS = 0  # SQLITE_CHECKPOINT_MS=0; the tests of the thread turn it on


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "db.sqlite3"
    setup = wrapper(path)
    setup.cursor().execute("PRAGMA journal_mode=WAL")
    setup.cursor().execute("CREATE TABLE t (n integer)")
    setup.close()
    return path


def rows(path):
    reader = wrapper(path)
    try:
        return [n for (n,) in reader.cursor().execute("SELECT n FROM t ORDER BY n").fetchall()]
    finally:
        reader.close()


def begin(connection):
    connection._start_transaction_under_autocommit()  # what atomic() does when it starts a transaction


def test_a_second_writer_starts_as_soon_as_the_first_commits(database):
    first = wrapper(database)
    begin(first)
    first.cursor().execute("INSERT INTO t VALUES (1)")
    started = {}

    def write():  # another worker (a connection belongs to the thread that made it)
        second = wrapper(database)
        begin(second)
        started["at"] = time.monotonic()
        second.cursor().execute("INSERT INTO t VALUES (2)")
        second.commit()
        second.close()

    thread = threading.Thread(target=write)
    thread.start()
    time.sleep(0.2)
    assert "at" not in started  # queued behind the first writer's file lock
    committed_at = time.monotonic()
    first.commit()
    thread.join(5)
    assert started["at"] >= committed_at
    # Woken within a few milliseconds, not after SQLite's sleeps (which by then are 25-100 ms long).
    assert started["at"] - committed_at < 0.02
    assert rows(database) == [1, 2]
    first.close()


def test_waiting_past_the_timeout_is_database_is_locked_and_writes_nothing(database):
    first, second = wrapper(database), wrapper(database, timeout=0.3)
    begin(first)
    first.cursor().execute("INSERT INTO t VALUES (1)")
    before = time.monotonic()
    with pytest.raises(OperationalError, match="database is locked"):
        begin(second)
    assert 0.3 <= time.monotonic() - before < 2
    assert not second.in_atomic_block and second._write_lock_held is False
    first.rollback()
    assert rows(database) == []
    # Both are usable afterwards: the lock was released by the rollback and never held by the loser.
    begin(second)
    second.cursor().execute("INSERT INTO t VALUES (3)")
    second.commit()
    assert rows(database) == [3]
    first.close(), second.close()


@pytest.mark.parametrize("end", ["rollback", "close"])
def test_rollback_and_close_release_the_lock(database, end):
    first, second = wrapper(database), wrapper(database, timeout=0.5)
    begin(first)
    getattr(first, end)()
    begin(second)  # would raise "database is locked" after 0.5 s if the lock were still held
    second.cursor().execute("INSERT INTO t VALUES (1)")
    second.commit()
    assert rows(database) == [1]
    first.close(), second.close()


def test_readers_never_wait_for_the_lock(database):
    writer, reader = wrapper(database), wrapper(database, timeout=0.3)
    begin(writer)
    writer.cursor().execute("INSERT INTO t VALUES (1)")
    assert reader.cursor().execute("SELECT count(*) FROM t").fetchone() == (0,)  # at once, the old snapshot
    writer.commit()
    writer.close(), reader.close()


def test_an_in_memory_database_takes_no_file_lock():
    connection = wrapper(":memory:")
    begin(connection)
    assert connection._write_lock_fd is None and connection._write_lock_held is False
    connection.commit()
    connection.close()


def in_database_file(path):
    """The rows of ``t`` in the database file itself, ignoring the WAL (what a checkpoint copied)."""
    copy = path.with_name(f"copy-{time.monotonic_ns()}.sqlite3")  # the file alone, no -wal beside it
    copy.write_bytes(path.read_bytes())
    reader = sqlite3.connect(copy)
    try:
        return [n for (n,) in reader.execute("SELECT n FROM t ORDER BY n")]
    finally:
        reader.close()
        copy.unlink()


def write_rows(connection, *numbers):
    begin(connection)
    for n in numbers:
        connection.cursor().execute("INSERT INTO t VALUES (%s)", [n])
    connection.commit()


def test_without_the_thread_commits_stay_in_the_wal(database):
    writer = wrapper(database)  # kept open: closing the last connection would checkpoint
    write_rows(writer, 1, 2)
    time.sleep(0.3)
    assert rows(database) == [1, 2] and in_database_file(database) == []
    assert (checkpoint.os.getpid(), str(database)) not in checkpoint._threads
    writer.close()


def test_the_thread_copies_commits_into_the_database_file_without_a_writer_doing_it(database, settings):
    settings.SQLITE_CHECKPOINT_SECONDS = 0.05
    writer = wrapper(database)
    thread = checkpoint._threads[(checkpoint.os.getpid(), str(database))]
    assert thread.is_alive() and thread.daemon
    write_rows(writer, 1, 2)
    deadline = time.monotonic() + 5
    while in_database_file(database) != [1, 2] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert in_database_file(database) == [1, 2]
    assert thread.checkpoints >= 1 and thread.frames >= 1
    # Another connection of the process shares the thread; the next commit is copied as well.
    other = wrapper(database)
    assert checkpoint._threads[(checkpoint.os.getpid(), str(database))] is thread
    write_rows(other, 3)
    deadline = time.monotonic() + 5
    while in_database_file(database) != [1, 2, 3] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert in_database_file(database) == [1, 2, 3]
    writer.close(), other.close()


def test_a_checkpoint_neither_waits_for_nor_blocks_an_open_write(database, settings):
    settings.SQLITE_CHECKPOINT_SECONDS = 0.05
    writer = wrapper(database)
    write_rows(writer, 1)
    begin(writer)  # a write transaction held open across several checkpoint ticks
    writer.cursor().execute("INSERT INTO t VALUES (2)")
    deadline = time.monotonic() + 5
    while in_database_file(database) != [1] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert in_database_file(database) == [1]  # the committed row was copied; the open one was not
    writer.commit()
    assert rows(database) == [1, 2]
    writer.close()


def test_the_thread_stops_when_its_database_file_is_gone(tmp_path, settings):
    settings.SQLITE_CHECKPOINT_SECONDS = 0.02
    path = tmp_path / "gone.sqlite3"
    connection = wrapper(path)
    thread = checkpoint._threads[(checkpoint.os.getpid(), str(path))]
    connection.close()
    for suffix in ("", "-wal", "-shm", "-writelock"):
        (tmp_path / f"gone.sqlite3{suffix}").unlink(missing_ok=True)
    thread.join(2)
    assert not thread.is_alive()
    assert (checkpoint.os.getpid(), str(path)) not in checkpoint._threads


def test_an_in_memory_database_starts_no_checkpoint_thread(settings):
    settings.SQLITE_CHECKPOINT_SECONDS = 0.05
    before = dict(checkpoint._threads)
    connection = wrapper(":memory:")
    assert checkpoint._threads == before
    connection.close()


def test_the_thread_follows_a_database_file_replaced_in_place(database, settings):
    settings.SQLITE_CHECKPOINT_SECONDS = 0.02
    first = wrapper(database)
    thread = checkpoint._threads[(checkpoint.os.getpid(), str(database))]
    first.close()
    restored = database.with_name("restored.sqlite3")  # a backup moved into the database's place
    setup = sqlite3.connect(restored)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (n integer)")
    setup.close()
    restored.replace(database)
    time.sleep(0.1)  # the thread sees the new file (a new inode) and opens it
    writer = wrapper(database)
    write_rows(writer, 7)
    deadline = time.monotonic() + 5
    while in_database_file(database) != [7] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert in_database_file(database) == [7]
    assert checkpoint._threads[(checkpoint.os.getpid(), str(database))] is thread and thread.is_alive()
    writer.close()
