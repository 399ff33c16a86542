"""Django's PostgreSQL backend with a per-request health check that costs no round trip.

``CONN_HEALTH_CHECKS`` makes Django send ``SELECT 1`` before each request's first
query on a persistent connection, so a connection left stale by a PostgreSQL
restart is replaced instead of failing the request. That is a round trip on
every request: about 5 % of an API event's worker CPU, plus PostgreSQL's share.

A server that ends a session (a restart, ``pg_terminate_backend``, a crash of
the backend) says so on the socket: it sends its FATAL message and closes the
connection, so the idle socket becomes readable. An idle connection whose
socket has nothing to read is therefore taken as healthy without asking
(one ``poll`` system call); one whose socket has something to read, or that
is not idle, gets Django's ``SELECT 1`` as before and is replaced if that
fails. A connection whose server vanished without a word (a network cut) is
not caught by either check until a query fails, as before: Django then drops
it at the end of that request (``close_if_unusable_or_obsolete``).
tests/test_postgresql_backend.py and tests/faults/test_pg_restart.py (a real
restart with idle workers) hold it to that.
"""

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg import pq

IDLE = pq.TransactionStatus.IDLE
OK = pq.ConnStatus.OK


def quiet(pgconn):
    """Whether a libpq connection is open, idle, and its socket has nothing to read."""
    if pgconn.status != OK or pgconn.transaction_status != IDLE:
        return False
    try:
        poller = select.poll()
        poller.register(pgconn.socket, select.POLLIN)
        return not poller.poll(0)  # POLLIN, POLLHUP or POLLERR: the server said something
    except (OSError, ValueError, psycopg.Error):  # no socket, closed meanwhile: let SELECT 1 decide
        return False


class DatabaseWrapper(base.DatabaseWrapper):
    # psycopg's pipeline mode (libpq 14+): progress/engine.py sends a write and its COMMIT together.
    can_pipeline = psycopg.Pipeline.is_supported()

    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.pool
            and quiet(self.connection.pgconn)
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
