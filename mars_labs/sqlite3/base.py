"""Django's SQLite backend whose writers queue on a file lock instead of SQLite's sleeping busy handler.

SQLite lets one writer at a time hold the database; with ``transaction_mode
"IMMEDIATE"`` every ``atomic()`` block takes that lock at ``BEGIN``. A second
process that asks while the first holds it is put to sleep by SQLite's busy
handler for 1 ms, then 2, 5, 10 ms and so on until the lock is free, however
early it was freed: with two workers completing steps, a third of their wall
time went to sleeping in ``BEGIN IMMEDIATE`` while a core sat idle
(docs/performance.md, "Step completions").

Here each process's write transaction first takes an exclusive ``flock`` on a
file beside the database (``<name>-writelock``), tried every 0.1 ms at first
and at least every millisecond, then begins as before. The writers of this
project's processes so take turns within a fraction of a millisecond of each
other, and SQLite's own lock is then almost always free at ``BEGIN``. SQLite
still decides who may write: a writer that does not take the file lock (a
statement outside ``atomic()``, the ``sqlite3`` shell) is waited for by the
busy handler as before. The file lock is released when the transaction commits
or rolls back, or the connection closes (and by the kernel if the process
dies). Waiting longer than the database's ``timeout`` raises "database is
locked", as SQLite would. In-memory databases have no file to lock and skip it.

The WAL is copied back into the database file by a thread of each process
(``checkpoint.py``), every ``SQLITE_CHECKPOINT_SECONDS``, instead of by the
commit that crosses SQLite's auto-checkpoint mark: that commit would do it
while holding the write lock, so every other writer waited for the copy and
its fsyncs.
"""

import fcntl
import os
import time

from django.conf import settings
from django.db import OperationalError
from django.db.backends.sqlite3 import base

from . import checkpoint

# Seconds between tries: short at first (a learner's write holds the lock for about a millisecond).
FIRST_WAIT, LONGEST_WAIT = 0.0001, 0.001


class DatabaseWrapper(base.DatabaseWrapper):
    _write_lock_fd = None
    _write_lock_held = False

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        seconds = getattr(settings, "SQLITE_CHECKPOINT_SECONDS", 0)
        if seconds and not self.is_in_memory_db():
            checkpoint.start(self.settings_dict["NAME"], seconds)
        return connection

    def _write_lock_file(self):
        if self._write_lock_fd is None:
            if self.is_in_memory_db():
                return None
            path = f"{self.settings_dict['NAME']}-writelock"
            self._write_lock_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        return self._write_lock_fd

    def _take_write_lock(self):
        fd = self._write_lock_file()
        if fd is None or self._write_lock_held:
            return
        wait, deadline = FIRST_WAIT, None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
                elif now > deadline:
                    raise OperationalError("database is locked") from None
                time.sleep(wait)
                wait = min(2 * wait, LONGEST_WAIT)
        self._write_lock_held = True

    def _release_write_lock(self):
        if self._write_lock_held:
            self._write_lock_held = False
            fcntl.flock(self._write_lock_fd, fcntl.LOCK_UN)

    def _start_transaction_under_autocommit(self):
        self._take_write_lock()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_write_lock()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_write_lock()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_write_lock()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_write_lock()
            if self._write_lock_fd is not None:
                os.close(self._write_lock_fd)
                self._write_lock_fd = None
