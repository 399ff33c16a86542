"""A thread per process that copies SQLite's WAL back into the database file, off the writers' path.

In WAL mode every commit appends pages to ``<name>-wal``; a *checkpoint*
copies them into the database file (and fsyncs both) so the WAL can start
over. SQLite runs one inside the COMMIT that crosses ``wal_autocheckpoint``
pages: on a district database that was a 10,000-page copy every few hundred
completions, done while the committing worker still held the write lock
(``base.py``), so every other writer queued behind its disk writes (about
1.8 ms per completion on average, docs/performance.md).

Here a daemon thread, one per process and database file, runs ``PRAGMA
wal_checkpoint(PASSIVE)`` on its own connection every ``interval`` seconds.
PASSIVE never waits for readers or writers and never blocks them: it copies
what no reader still needs, and the next writer restarts the WAL once all of
it is copied. sqlite3 releases the GIL while SQLite works, so the copy and its
fsyncs overlap the worker's requests. Two processes' threads take turns (SQLite
lets one checkpoint run at a time; the other is told "busy" and tries again
next time). ``wal_autocheckpoint`` stays as a backstop should the thread fall
behind.
"""

import logging
import os
import sqlite3
import threading
import time
from urllib.request import pathname2url

logger = logging.getLogger(__name__)

_threads = {}  # (pid, database path) -> Checkpointer
_lock = threading.Lock()


class Checkpointer(threading.Thread):
    def __init__(self, path, interval):
        super().__init__(name=f"sqlite-checkpoint {path}", daemon=True)
        self.path, self.interval = path, interval
        self.checkpoints = 0  # checkpoints that copied frames (what the tests look at)
        self.frames = 0  # frames copied in all
        self._seen = (0, 0)  # the last answer's (frames in the WAL, frames copied from it)

    def run(self):
        connection, opened = None, None
        try:
            while True:
                time.sleep(self.interval)
                try:
                    inode = os.stat(self.path).st_ino
                except FileNotFoundError:
                    break  # the database was removed (a test's file)
                if connection is not None and inode != opened:  # a restored backup moved in its place
                    connection.close()
                    connection = None
                if connection is None:
                    opened = inode
                    try:  # mode=rw: never create the file again should it go between the check and here
                        connection = sqlite3.connect(f"file:{pathname2url(self.path)}?mode=rw", uri=True,
                                                     timeout=0, isolation_level=None, check_same_thread=False)
                    except sqlite3.OperationalError:
                        break
                self.checkpoint(connection)
        except Exception:  # never take the worker down; the auto-checkpoint still runs
            logger.exception("SQLite checkpoint thread for %s stopped", self.path)
        finally:
            if connection is not None:
                connection.close()
            with _lock:
                _threads.pop((os.getpid(), self.path), None)

    def checkpoint(self, connection):
        try:
            busy, wal_frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.OperationalError:  # another process's checkpoint, or a writer changing the WAL
            return
        if busy:
            return
        # Both counts are of the WAL since it last started over (fewer frames than before: it did).
        before = self._seen[1] if wal_frames >= self._seen[0] else 0
        if copied > before:
            self.checkpoints += 1
            self.frames += copied - before
        self._seen = (wal_frames, copied)


def start(path, interval):
    """The checkpoint thread of this process for ``path``, started if it is not running."""
    path = os.path.abspath(path)
    key = (os.getpid(), path)  # a forked child has no threads: it starts its own
    with _lock:
        thread = _threads.get(key)
        if thread is None or not thread.is_alive():
            thread = _threads[key] = Checkpointer(path, interval)
            thread.start()
    return thread
