"""mars_labs/sqlite3: write transactions queue on a file lock beside the database, woken at once.

Runs on both CI passes: the wrappers here are made for a temporary SQLite file, whatever DATABASE_URL is.
"""

import threading
import time

import pytest
from django.db import OperationalError, connections

from mars_labs.sqlite3.base import DatabaseWrapper


def wrapper(path, *, timeout=5, alias="lock-test"):
    settings = dict(connections["default"].settings_dict, ENGINE="mars_labs.sqlite3", NAME=str(path),
                    OPTIONS={"transaction_mode": "IMMEDIATE", "timeout": timeout}, CONN_MAX_AGE=0)
    connection = DatabaseWrapper(settings, alias=alias)
    connection.ensure_connection()
    return connection


@pytest.fixture(autouse=True)
def _own_databases(django_db_blocker):
    with django_db_blocker.unblock():  # these are throwaway files, not the test database
        yield


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
