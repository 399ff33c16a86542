"""mars_labs/postgresql: Django's PostgreSQL backend whose per-request health check is a poll of the idle socket.

A connection whose server ended the session (here: pg_terminate_backend, what a restart does to every
session) must still be replaced before the request uses it, as with Django's SELECT 1; a healthy idle
one must be taken as it is, without a round trip. PostgreSQL only (the SQLite pass has no such backend).
"""

import select

import psycopg
import pytest
from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper as DjangoWrapper

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connections["default"].vendor != "postgresql", reason="the PostgreSQL backend only"),
]


@pytest.fixture
def db():
    """The default connection, counting the SELECT 1 health checks it sends (``db.select_ones``)."""
    conn = connections["default"]
    conn.ensure_connection()
    conn.select_ones = []
    original = conn.is_usable
    conn.is_usable = lambda: conn.select_ones.append(1) or original()
    yield conn
    del conn.is_usable, conn.select_ones


def wait_readable(raw, seconds=5):
    poller = select.poll()
    poller.register(raw.pgconn.socket, select.POLLIN)
    assert poller.poll(seconds * 1000), "the server said nothing"


def start_request(conn):
    """What Django does when a request starts: the next query runs the health check first."""
    conn.close_if_unusable_or_obsolete()
    assert conn.health_check_enabled and not conn.health_check_done


def test_the_settings_use_a_subclass_of_djangos_backend():
    conn = connections["default"]
    assert isinstance(conn, DjangoWrapper)
    assert type(conn).__module__ == "mars_labs.postgresql.base"


def test_a_healthy_idle_connection_is_kept_without_a_round_trip(db):
    raw = db.connection
    start_request(db)
    with db.cursor() as cursor:
        cursor.execute("SELECT 2")
        assert cursor.fetchone() == (2,)
    assert db.select_ones == []
    assert db.connection is raw and db.health_check_done


def test_a_connection_the_server_ended_is_replaced_before_use(db):
    stale = db.connection
    pid = stale.info.backend_pid
    with psycopg.connect(**db.get_connection_params()) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
    wait_readable(stale)  # the backend ends a moment later, saying so on the socket
    # The request's first query must not meet the dead session.
    start_request(db)
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        new_pid = cursor.fetchone()[0]
    assert db.select_ones == [1]  # it asked, the answer was "gone", so it reconnected
    assert db.connection is not stale and new_pid != pid and stale.closed


def test_a_connection_with_something_to_read_gets_the_full_check(db):
    """Anything pending on the socket (a NOTIFY here) means: ask the server (SELECT 1), don't guess."""
    raw = db.connection
    raw.execute("LISTEN h1_backend_test")
    with psycopg.connect(**db.get_connection_params(), autocommit=True) as other:
        other.execute("NOTIFY h1_backend_test")
    wait_readable(raw)
    start_request(db)
    with db.cursor() as cursor:
        cursor.execute("SELECT 3")
    raw.execute("UNLISTEN *")
    assert db.select_ones == [1]
    assert db.connection is raw  # the check passed: the same connection, kept
