"""DATABASE_POOL: Django's psycopg 3 connection pool for several app servers sharing PostgreSQL (docs/deployment.md).

Settings are read once per process, so each case starts Django in a subprocess (tests/test_settings.py).
"""

import os

import pytest

from tests.test_settings import assert_refused_with_one_line, run, settings_after_start, start

PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def test_pool_options_and_no_persistent_connections():
    database = settings_after_start("DATABASES", DATABASE_URL=PG_URL, DATABASE_POOL="true",
                                    DATABASE_POOL_MAX_SIZE="6")["DATABASES"]["default"]

    assert database["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 6, "timeout": 10}
    assert database["CONN_MAX_AGE"] == 0  # Django refuses a pool with persistent connections


def test_without_the_pool_connections_persist_as_before():
    database = settings_after_start("DATABASES", DATABASE_URL=PG_URL)["DATABASES"]["default"]

    assert "pool" not in database.get("OPTIONS", {})
    assert database["CONN_MAX_AGE"] == 60


def test_pool_with_persistent_connections_is_refused():
    result = start(DATABASE_URL=PG_URL, DATABASE_POOL="true", CONN_MAX_AGE="60")

    assert_refused_with_one_line(result, "DATABASE_POOL", "CONN_MAX_AGE=0")


def test_pool_with_sqlite_is_refused():
    assert_refused_with_one_line(start(DATABASE_POOL="true"), "DATABASE_POOL", "PostgreSQL")


def test_pool_bad_boolean_is_refused():
    assert_refused_with_one_line(start(DATABASE_URL=PG_URL, DATABASE_POOL="maybe"), "DATABASE_POOL")


def run_with_the_pool(code):
    """Run ``code`` in a Django process with DATABASE_POOL=true on the machine's PostgreSQL; it must succeed."""
    result = run("-c", code, DATABASE_URL=PG_URL, DATABASE_POOL="true")
    if result.returncode != 0 and "connection" in result.stderr.lower() and "refused" in result.stderr.lower():
        if os.environ.get("MARS_REQUIRE_E2E") == "1":
            pytest.fail("no PostgreSQL at 127.0.0.1:5432 (MARS_REQUIRE_E2E=1)")
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    assert result.returncode == 0, result.stderr
    return result


def test_pool_serves_queries_on_the_real_postgresql():
    """With the machine's PostgreSQL: queries run through a psycopg_pool.ConnectionPool."""
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mars_labs.settings'); django.setup();"
        "from django.db import connection; import psycopg_pool;"
        "c = connection.cursor(); c.execute('SELECT 40 + 2'); v = c.fetchone()[0]; c.close();"
        "assert isinstance(connection.pool, psycopg_pool.ConnectionPool), connection.pool;"
        "connection.close(); c = connection.cursor(); c.execute('SELECT 1'); c.close(); print(v)"
    )
    result = run_with_the_pool(code)
    assert result.stdout.strip() == "42"


def test_pooled_connections_start_transactions_with_their_first_statement_and_leave_none_open():
    """mars_labs/postgresql sends a transaction's BEGIN with its first statement: through the pool too, and a
    connection handed back after a transaction that ran nothing owes the next borrower no BEGIN."""
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mars_labs.settings'); django.setup();"
        "from django.db import connection, transaction; from psycopg import pq; S = pq.TransactionStatus;"
        "status = lambda: connection.connection.info.transaction_status;"
        "\nwith transaction.atomic():\n    pass\n"
        "connection.close();"  # back to the pool
        "c = connection.cursor(); c.execute('SELECT 1'); c.close(); assert status() == S.IDLE, status();"
        "\nwith transaction.atomic():\n"
        "    c = connection.cursor(); c.execute('SELECT 2'); assert status() == S.INTRANS, status(); c.close()\n"
        "assert status() == S.IDLE, status(); connection.close(); print('ok')"
    )
    result = run_with_the_pool(code)
    assert result.stdout.strip() == "ok"
