"""Time the operator imports and write the numbers into docs/performance.md ("## Imports").

    .venv/bin/python bench/bench_imports.py                  # SQLite and PostgreSQL, full size
    .venv/bin/python bench/bench_imports.py --users 10000 --databases sqlite --no-write

Targets (the operators' issue): ``import_marslabs`` of 100,000 users and
200,000 documents in under 60 s; ``import_curriculum --format olabs`` of a
500-simulation catalogue in under 5 s. Each database starts empty and
migrated, with the demo curriculum loaded (the chapters legacy titles match):
SQLite in a fresh file under /tmp, PostgreSQL in ``mars_labs_imports``
(dropped and created; ``--postgres`` to change the server). Every command
runs as an operator would run it, ``manage.py`` in a subprocess with
production settings (DEBUG off), and is timed wall-clock, start-up included.
Each import then runs a second time: it must change nothing, and its time
is reported too.
"""

import argparse
import contextlib
import os
import platform
import re
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import make_marslabs_db  # noqa: E402
import make_olabs_catalogue  # noqa: E402

PYTHON = sys.executable
PERFORMANCE = ROOT / "docs" / "performance.md"
SECTION = "## Imports"
TARGETS = {"import_marslabs": 60.0, "import_curriculum --format olabs": 5.0}


class BackendCpu:
    """CPU time of the PostgreSQL server processes serving one database, while they live.

    The server does much of an import's work (indexes, foreign-key checks at
    commit), and ``getrusage`` of the command does not see it: this polls
    ``pg_stat_activity`` for the backends and reads their CPU time from
    /proc (so only when the server runs on this machine; ``seconds`` is None
    otherwise).
    """

    def __init__(self, server, database):
        self.server, self.database, self.last, self.readable = server, database, {}, True
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.poll, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()

    def poll(self):
        import psycopg

        tick = os.sysconf("SC_CLK_TCK")
        with psycopg.connect(f"{self.server}/postgres", autocommit=True) as connection:
            while True:
                pids = [row[0] for row in connection.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    [self.database]).fetchall()]
                for pid in pids:
                    try:
                        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    except OSError:
                        self.readable = self.readable and Path(f"/proc/{pid}").exists()
                        continue
                    self.last[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
                if self.done.wait(0.2):
                    return

    @property
    def seconds(self):
        return sum(self.last.values()) if self.readable and self.last else None


def manage(env, *args, backend=None):
    """Run manage.py; return (wall seconds, command CPU seconds, database server CPU seconds or None,
    its summary line: the one before the final "Imported ..."). Stops on failure.

    ``backend``: (server URL, database name) to also measure the PostgreSQL backends' CPU time.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with BackendCpu(*backend) if backend else contextlib.nullcontext() as server:
        result = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    return seconds, cpu, server.seconds if backend else None, (lines[-2] if len(lines) > 1 else "".join(lines))


def postgres_admin(url, sql):
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        return connection.execute(sql).fetchall() if sql.lstrip().upper().startswith("SELECT") else \
            connection.execute(sql)


def prepare(database, postgres_server, workdir):
    """A fresh, migrated database with the demo curriculum; returns the environment for manage.py."""
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "localhost",
    }
    if database == "sqlite":
        path = Path(workdir) / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        env["DATABASE_URL"] = f"sqlite:///{path}"
    else:
        postgres_admin(f"{postgres_server}/postgres", "DROP DATABASE IF EXISTS mars_labs_imports")
        postgres_admin(f"{postgres_server}/postgres", "CREATE DATABASE mars_labs_imports")
        env["DATABASE_URL"] = f"{postgres_server}/mars_labs_imports"
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "import_curriculum", str(ROOT / "curriculum" / "data" / "demo_curriculum.json"), "-v0")
    return env


def run_command(env, label, args, backend):
    first, cpu, server_cpu, line = manage(env, *args, backend=backend)
    second, _cpu, _server, line2 = manage(env, *args, backend=backend)
    server = f" + database server {server_cpu:.1f} s" if server_cpu is not None else ""
    print(f"  {label}: {first:.1f} s (CPU: command {cpu:.1f} s{server}; second run {second:.1f} s)\n"
          f"    {line}\n    second run: {line2}")
    return {"first": first, "cpu": cpu, "server_cpu": server_cpu, "second": second, "line": line,
            "second_line": line2}


def machine(postgres_server, databases):
    memory = "?"
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        pass
    import sqlite3

    import django

    parts = [
        f"{os.cpu_count()} CPUs (nproc {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()})",
        f"{memory} memory",
        f"{platform.system()} {platform.release()}",
        f"Python {platform.python_version()}",
        f"Django {django.get_version()}",
        f"SQLite {sqlite3.sqlite_version}",
    ]
    if "postgres" in databases:
        version = postgres_admin(f"{postgres_server}/postgres", "SELECT version()")[0][0]
        parts.append(" ".join(version.split()[:2]))
    return ", ".join(parts)


NOTES_MARKER = "<!-- bench_imports.py keeps what follows: hand-written analysis -->"


def write_section(text):
    """Replace the "## Imports" section of docs/performance.md (or add it), leaving other sections alone.

    Whatever follows NOTES_MARKER inside the section (the analysis) is kept.
    """
    current = PERFORMANCE.read_text(encoding="utf-8") if PERFORMANCE.exists() else "# Performance\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    found = pattern.search(current)
    if found:
        old = found.group(0)
        if NOTES_MARKER in old:
            text = text.rstrip("\n") + "\n\n" + old[old.index(NOTES_MARKER):].rstrip("\n") + "\n"
        updated = pattern.sub(lambda _m: text.rstrip("\n") + "\n\n", current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    PERFORMANCE.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000, help="legacy users (documents: twice as many)")
    parser.add_argument("--sims", type=int, default=500, help="OLabs simulations")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432",
                        help="server URL without a database name")
    parser.add_argument("--no-write", action="store_true", help="print the numbers; leave docs/performance.md")
    args = parser.parse_args()
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]

    with tempfile.TemporaryDirectory(prefix="mars-bench-") as workdir:
        legacy = make_marslabs_db.make(args.users, Path(workdir) / "marslabs.db")
        catalogue = make_olabs_catalogue.make(args.sims, Path(workdir) / "olabs.json")
        results = {}
        for database in databases:
            print(f"{database}:")
            env = prepare(database, args.postgres, workdir)
            backend = (args.postgres, "mars_labs_imports") if database == "postgres" else None
            results[database] = {
                "import_marslabs": run_command(env, "import_marslabs", ["import_marslabs", str(legacy)], backend),
                "import_curriculum --format olabs": run_command(
                    env, "import_curriculum --format olabs",
                    ["import_curriculum", "--format", "olabs", str(catalogue)], backend,
                ),
            }
            if database == "postgres":
                postgres_admin(f"{args.postgres}/postgres", "DROP DATABASE IF EXISTS mars_labs_imports")

    rows = []
    for database, commands in results.items():
        for command, numbers in commands.items():
            target = TARGETS[command]
            verdict = "met" if numbers["first"] < target else "**missed**"
            server = f" + {numbers['server_cpu']:.1f} s" if numbers["server_cpu"] is not None else ""
            rows.append(f"| {database} | `{command}` | {numbers['first']:.1f} s | {numbers['cpu']:.1f} s{server} | "
                        f"{numbers['second']:.1f} s | < {target:.0f} s: {verdict} |")
    text = "\n".join([
        SECTION,
        "",
        f"Measured {date.today().isoformat()} with `bench/bench_imports.py` on {machine(args.postgres, databases)}.",
        "",
        f"Data: `bench/make_marslabs_db.py {args.users}` ({args.users:,} users, {2 * args.users:,} documents) "
        f"and `bench/make_olabs_catalogue.py {args.sims}`, into a fresh migrated database holding the demo "
        "curriculum. `manage.py` runs in a subprocess with DEBUG off; times are wall-clock, start-up included. "
        "CPU is the command's user + system time, plus on PostgreSQL the server processes' (read from /proc "
        "while they run). The second run must (and does) change nothing.",
        "",
        f"Load average when the runs ended: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"(on {os.cpu_count()} CPUs; wall-clock times are only meaningful when it is well below that).",
        "",
        "| database | command | first run | first run CPU (command + server) | second run | target |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "What the first import did (its summary line):",
        "",
        *[f"- {database}: {commands['import_marslabs']['line']}" for database, commands in results.items()],
        "",
    ])
    print()
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"Wrote the section to {PERFORMANCE.relative_to(ROOT)}.")


if __name__ == "__main__":
    main()
