"""Django's PostgreSQL backend, less two round trips: the health check's and the BEGIN's.

The health check
----------------

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
from django.db.backends.utils import debug_transaction
from psycopg import pq

IDLE = pq.TransactionStatus.IDLE
OK = pq.ConnStatus.OK
PIPELINE_OFF = pq.PipelineStatus.OFF


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


def send_begin(conn):
    """Send the BEGIN that ``conn`` owes now, in a round trip of its own (a statement that cannot take it along)."""
    if getattr(conn, "begin_pending", False):
        conn.begin_pending = False
        conn.execute(b"BEGIN", prepare=False)


class BeginWithFirstStatement:
    """psycopg cursor mixin: the BEGIN a connection owes (``begin_pending``) goes with the next statement."""

    __slots__ = ()

    def execute(self, query, params=None, **kwargs):
        conn = self._conn
        if not getattr(conn, "begin_pending", False):
            return super().execute(query, params, **kwargs)
        conn.begin_pending = False
        if conn.pgconn.pipeline_status != PIPELINE_OFF:  # already in a pipeline: queue both, the caller syncs
            conn.execute(b"BEGIN", prepare=False)
            return super().execute(query, params, **kwargs)
        with conn.pipeline():  # BEGIN, the statement, one Sync: one round trip; an error raises on leaving
            conn.execute(b"BEGIN", prepare=False)
            super().execute(query, params, **kwargs)
        return self

    # The rarer ways to run SQL send the BEGIN alone first.
    def executemany(self, *args, **kwargs):
        send_begin(self._conn)
        return super().executemany(*args, **kwargs)

    def copy(self, *args, **kwargs):
        send_begin(self._conn)
        return super().copy(*args, **kwargs)

    def stream(self, *args, **kwargs):
        send_begin(self._conn)
        return super().stream(*args, **kwargs)


class ServerBindingCursor(BeginWithFirstStatement, base.ServerBindingCursor):
    __slots__ = ()


class Cursor(BeginWithFirstStatement, base.Cursor):
    __slots__ = ()


class DatabaseWrapper(base.DatabaseWrapper):
    # psycopg's pipeline mode (libpq 14+): progress/engine.py sends a write and its COMMIT together,
    # and a transaction's BEGIN goes with its first statement.
    can_pipeline = psycopg.Pipeline.is_supported()

    def get_connection_params(self):
        params = super().get_connection_params()
        if self.can_pipeline:
            server_side = params["cursor_factory"] is base.ServerBindingCursor
            params["cursor_factory"] = ServerBindingCursor if server_side else Cursor
        return params

    def _start_transaction_under_autocommit(self):
        """``atomic()`` starts a transaction: owe the server a BEGIN, sent with the first statement."""
        conn = self.connection
        if not self.can_pipeline or conn.isolation_level is not None or conn.read_only is not None:
            with debug_transaction(self, "BEGIN"):
                self._set_autocommit(False)  # psycopg's own BEGIN, which knows these settings
            return
        conn.begin_pending = True

    def _forget_begin(self):
        if self.connection is not None:
            self.connection.begin_pending = False  # a transaction that ran nothing has nothing to end

    def _commit(self):
        self._forget_begin()
        return super()._commit()

    def _rollback(self):
        self._forget_begin()
        return super()._rollback()

    def _set_autocommit(self, autocommit):
        self._forget_begin()
        return super()._set_autocommit(autocommit)

    def create_cursor(self, name=None):
        if name and self.connection is not None:
            send_begin(self.connection)  # a server-side cursor's DECLARE must find the transaction open
        return super().create_cursor(name)

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
