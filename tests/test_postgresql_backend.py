"""mars_labs/postgresql: Django's PostgreSQL backend, less the health check's round trip and the BEGIN's.

The health check is a poll of the idle socket: a connection whose server ended the session (here:
pg_terminate_backend, what a restart does to every session) must still be replaced before the request
uses it, as with Django's SELECT 1; a healthy idle one must be taken as it is, without a round trip.

A transaction's BEGIN goes in one round trip with its first statement, and the transaction must behave
as one started by psycopg: isolated until COMMIT, rolled back on an error or on request, nothing sent
when it ran nothing. Round trips are counted in libpq's protocol trace (tests/pgtrace.py). PostgreSQL
only (the SQLite pass has no such backend).
"""

import select

import psycopg
import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, connections, transaction
from django.db.backends.postgresql.base import DatabaseWrapper as DjangoWrapper
from psycopg import pq

from tests.pgtrace import protocol_trace

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


def visible_elsewhere(db, name):
    """Whether another connection sees the group ``name`` (i.e. it was committed)."""
    with psycopg.connect(**db.get_connection_params(), autocommit=True) as other:
        return other.execute("SELECT count(*) FROM auth_group WHERE name = %s", [name]).fetchone()[0] == 1


def test_begin_goes_with_the_first_statement_and_the_transaction_stays_one(db):
    with protocol_trace(db) as trace, transaction.atomic():
        Group.objects.create(name="a")
        assert not visible_elsewhere(db, "a")  # a real transaction: nobody else sees it yet
        assert Group.objects.filter(name="a").exists()

    first, *rest = trace.round_trips
    assert first[0] == "BEGIN" and first[1].startswith('INSERT INTO "auth_group"') and len(first) == 2
    assert len(rest) == 2 and rest[-1] == ["COMMIT"]  # the SELECT, then the COMMIT: 3 round trips, not 4
    assert trace.count("BEGIN") == 1
    assert visible_elsewhere(db, "a")
    assert db.connection.info.transaction_status == pq.TransactionStatus.IDLE


def test_a_failing_first_statement_rolls_back_and_the_connection_goes_on(db):
    Group.objects.create(name="taken")

    with pytest.raises(IntegrityError), transaction.atomic():
        Group.objects.create(name="taken")  # fails in the round trip that carries the BEGIN
    with pytest.raises(IntegrityError), transaction.atomic():
        Group.objects.create(name="b")
        Group.objects.create(name="taken")

    assert not Group.objects.filter(name="b").exists()
    assert not visible_elsewhere(db, "b")
    assert db.connection.info.transaction_status == pq.TransactionStatus.IDLE
    Group.objects.create(name="c")  # autocommit again: committed at once
    assert visible_elsewhere(db, "c")


def test_set_rollback_undoes_the_transaction(db):
    with transaction.atomic():
        Group.objects.create(name="d")
        transaction.set_rollback(True)

    assert not Group.objects.filter(name="d").exists()


def test_a_transaction_that_ran_nothing_sends_nothing_and_leaves_autocommit(db):
    with protocol_trace(db) as trace, transaction.atomic():
        pass
    Group.objects.create(name="e")

    assert trace.round_trips == []
    assert visible_elsewhere(db, "e")  # no BEGIN was left owing: the INSERT committed on its own


def test_a_savepoint_as_first_statement_goes_with_the_begin(db):
    with protocol_trace(db) as trace, transaction.atomic():
        with pytest.raises(IntegrityError), transaction.atomic():
            Group.objects.create(name="f")
            Group.objects.create(name="f")
        Group.objects.create(name="g")

    assert trace.round_trips[0][0] == "BEGIN" and trace.round_trips[0][1].startswith("SAVEPOINT")
    assert not Group.objects.filter(name="f").exists()
    assert Group.objects.filter(name="g").exists() and visible_elsewhere(db, "g")


def test_a_server_side_cursor_as_first_statement_finds_the_transaction_open(db):
    Group.objects.bulk_create([Group(name=n) for n in ("h1", "h2", "h3")])

    with protocol_trace(db) as trace, transaction.atomic():
        names = [g.name for g in Group.objects.filter(name__startswith="h").order_by("name").iterator(chunk_size=2)]
        Group.objects.create(name="h4")

    assert names == ["h1", "h2", "h3"]
    assert trace.round_trips[0] == ["BEGIN"]  # sent alone, before the DECLARE
    assert trace.count("DECLARE") == 1 and trace.count("BEGIN") == 1
    assert visible_elsewhere(db, "h4")


def test_an_isolation_level_keeps_psycopgs_own_begin(db):
    db.connection.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
    try:
        with protocol_trace(db) as trace, transaction.atomic():
            Group.objects.create(name="i")
    finally:
        db.connection.isolation_level = None

    assert trace.round_trips[0] == ["BEGIN ISOLATION LEVEL SERIALIZABLE"]
    assert visible_elsewhere(db, "i")
