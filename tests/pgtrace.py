"""What a PostgreSQL connection says to the server, read from libpq's own protocol trace.

``with protocol_trace(connection) as trace:`` traces the Django connection's
libpq connection while the block runs; afterwards ``trace.round_trips`` holds
one entry per exchange: the statements the client sent before it next read an
answer, as SQL text (``["BEGIN", "SELECT ..."]``), or ``"EXECUTE <name>"``
for a statement prepared earlier. Counting exchanges this way needs no
knowledge of psycopg's internals.
"""

import contextlib
import re
import tempfile

from psycopg import pq


class Trace:
    def __init__(self):
        self.round_trips = []

    def read(self, text):
        sending, previous = False, None
        text = text.strip()
        # One message per "F|B <tab> length <tab> kind"; SQL with newlines spans several lines.
        for message in re.split(r"\n(?=[FB]\t\d+\t)", text) if text else []:
            direction, _length, kind, *rest = message.split("\t", 3) + [""]
            if direction == "B":
                sending = False
                continue
            if direction != "F":
                continue
            if not sending:
                self.round_trips.append([])
                sending = True
            # Query "SQL"; Parse "name" "SQL" n oid...; Bind "portal" "name" ... (inner quotes are not escaped)
            fields = rest[0].strip()
            if kind == "Query":
                self.round_trips[-1].append(fields[1:-1])
            elif kind == "Parse":
                self.round_trips[-1].append(re.fullmatch(r'"[^"]*" "(.*)" \d+(?: \S+)*', fields, re.S)[1])
            elif kind == "Bind" and previous != "Parse":
                name = re.match(r'"[^"]*" "([^"]*)"', fields)[1]
                self.round_trips[-1].append(f"EXECUTE {name}")
            previous = kind

    def count(self, sql):
        """How many statements starting with ``sql`` the client sent."""
        return sum(s.startswith(sql) for trip in self.round_trips for s in trip)


@contextlib.contextmanager
def protocol_trace(connection):
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    trace = Trace()
    with tempfile.TemporaryFile(mode="w+") as out:
        pgconn.trace(out.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield trace
        finally:
            pgconn.untrace()
            out.seek(0)
            trace.read(out.read())
