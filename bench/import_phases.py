"""CPU time of ``manage.py import_marslabs`` by phase, in this process (and, on PostgreSQL, the server's).

    DATABASE_URL=sqlite:////tmp/x.sqlite3 .venv/bin/python bench/import_phases.py /tmp/marslabs-100k.db
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mars_x .venv/bin/python bench/import_phases.py /tmp/m.db

The database must be migrated and hold the curriculum (``manage.py migrate``,
``manage.py import_curriculum curriculum/data/demo_curriculum.json``); the
legacy file comes from ``bench/make_marslabs_db.py``. It imports for real.
Each phase is timed with ``time.process_time`` (CPU, so other load on the
machine distorts it less than wall-clock time) and wall-clock time; on
PostgreSQL the CPU time of this connection's server process is read from
/proc (the server must run on this machine). Phases nest: the engine's lines
are inside "apply", ``progress.bulk``'s inside the engine's. Used for the
table in docs/performance.md ("## Imports").
"""

import collections
import functools
import os
import sys
import time
from io import StringIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mars_labs.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from learners.management.commands import import_marslabs as command  # noqa: E402
from progress import bulk, engine  # noqa: E402

STATS = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0])  # label -> cpu, server cpu, wall, calls
BACKEND = []


def server_cpu():
    if not BACKEND:
        return 0.0
    fields = Path(f"/proc/{BACKEND[0]}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(owner, name, label):
    function = getattr(owner, name)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        cpu, server, wall = time.process_time(), server_cpu(), time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            entry = STATS[label]
            entry[0] += time.process_time() - cpu
            entry[1] += server_cpu() - server
            entry[2] += time.perf_counter() - wall
            entry[3] += 1

    setattr(owner, name, wrapper)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    timed(command, "read_marslabs_database", "read the legacy file")
    timed(command.Command, "import_users", "users and profiles")
    timed(command.Command, "store_documents", "store documents")
    timed(command.Command, "apply", "apply (engine, all batches)")
    timed(engine, "_write_imported_completions", "  engine: new rows and events")
    timed(engine, "_save_applied", "  engine: save documents")
    timed(bulk, "insert", "    progress.bulk.insert")
    timed(bulk, "update", "    progress.bulk.update")
    timed(command.Command, "report", "report")
    timed(command.Command, "handle", "whole command (commit included)")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            BACKEND.append(cursor.fetchone()[0])
    call_command("import_marslabs", sys.argv[1], stdout=StringIO())
    server = " (command + database server)" if BACKEND else ""
    print(f"{'phase':40} {'CPU s' + server:>36} {'wall s':>8} calls")
    for label, (cpu, server_seconds, wall, calls) in STATS.items():
        both = f"{cpu:.2f} + {server_seconds:.2f}" if BACKEND else f"{cpu:.2f}"
        print(f"{label:40} {both:>36} {wall:8.2f} {calls}")


if __name__ == "__main__":
    main()
