#!/usr/bin/env python
"""Fault test: PostgreSQL stops and starts again under load; the app answers 503, then recovers by itself.

    .venv/bin/python bench/fault_pg_restart.py            # as root (it runs pg_createcluster / pg_ctlcluster)
    .venv/bin/python bench/fault_pg_restart.py --json     # the report as one JSON object (tests/faults uses it)

What it does, in under a minute:

1. Creates (once; idempotent) and starts a throwaway PostgreSQL cluster of its
   own, ``<version>/faults`` on port 5499 with trust authentication, so the
   main cluster (5432) that other work uses is never touched. A lock file
   keeps two runs from sharing it.
2. Creates the database ``mars_faults`` there, migrates it and seeds a lab
   token, learners and a step with an external criterion (bench/api_events.py).
3. Starts gunicorn (2 sync workers, the settings' defaults: persistent
   connections, CONN_HEALTH_CHECKS) and drives it with LOAD_THREADS clients
   posting simulation events with known, unique ids ("answered" with a score,
   every 8th "completed"), while another thread polls /healthz.
4. In the middle of the load: ``pg_ctlcluster <version> faults stop -m fast``,
   a few seconds of outage, ``start``. gunicorn is never restarted.
5. Once /healthz is 200 again: the clients pause, PostgreSQL restarts while
   no request reaches the workers (so their persistent connections go stale),
   the clients resume. No request may fail after either restart
   (CONN_HEALTH_CHECKS; ``--no-health-checks`` shows what happens without).
6. Afterwards: /healthz must be back to 200; every request that got a 2xx
   must have exactly its ApiEvent row and every failed one none; every
   ApiEvent its engine event; every completion its one COMPLETED event; every
   row's report counter its events (no partial writes). Then every failed
   request is sent again with the same id: each must now succeed once, and
   the checks run again.

Prints the timeline (first error, 503s seen, recovered after N s, requests
ok/failed, rows verified) and exits non-zero if a check fails.
"""

import argparse
import contextlib
import fcntl
import http.client
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_events import free_port, seed, setup_django, wait_for, worker_pids  # noqa: E402

CLUSTER = "faults"
PORT = 5499
DATABASE = "mars_faults"
TEMPLATE = "mars_faults_template"  # migrated, empty: a fresh database in 0.5 s instead of migrating for 8 s
LOCK_FILE = Path(tempfile.gettempdir()) / "mars-labs-fault-pg.lock"


class FaultSetupError(Exception):
    """The machine cannot run this test (no PostgreSQL server tools, not root)."""


def pg_version():
    versions = sorted((p.name for p in Path("/usr/lib/postgresql").glob("*") if (p / "bin" / "postgres").exists()),
                      key=lambda v: float(v))
    if not versions:
        raise FaultSetupError("no PostgreSQL server in /usr/lib/postgresql (apt-get install postgresql)")
    return versions[-1]


def tools_available():
    """'' when this machine can run the test, else why not."""
    if not (shutil.which("pg_createcluster") and shutil.which("pg_ctlcluster") and shutil.which("pg_lsclusters")):
        return "pg_createcluster / pg_ctlcluster are not installed (postgresql-common)"
    if os.geteuid() != 0:
        return "must run as root (pg_createcluster and pg_ctlcluster act as the postgres user)"
    try:
        pg_version()
    except FaultSetupError as exc:
        return str(exc)
    return ""


def ctl(version, action, *extra):
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, CLUSTER, action, *extra],
                   check=True, capture_output=True, text=True)


def cluster_status(version):
    out = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if fields[:2] == [version, CLUSTER]:
            return fields[3]  # "online" / "down"
    return None


def ensure_cluster(version):
    """The throwaway cluster exists and is running (created on the first run; later runs reuse it)."""
    status = cluster_status(version)
    if status is None:
        # --start-conf manual: never started at boot, only by this script.
        subprocess.run(["pg_createcluster", version, CLUSTER, "--port", str(PORT), "--start-conf", "manual", "--",
                        "--auth=trust", "--no-sync"], check=True, capture_output=True, text=True)
        status = "down"
    if status != "online":
        ctl(version, "start")
    wait_pg_ready(timeout=30)


def pg_ready():
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(PORT)]).returncode == 0


def wait_pg_ready(timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pg_ready():
            return
        time.sleep(0.1)
    raise FaultSetupError(f"the {CLUSTER} cluster did not accept connections on port {PORT}")


def _admin():
    import psycopg

    return psycopg.connect(f"postgresql://postgres@127.0.0.1:{PORT}/postgres", autocommit=True)


def fresh_database():
    """An empty ``mars_faults``, cloned from the migrated template when there is one; returns whether there was."""
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        has_template = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [TEMPLATE]).fetchone()
        conn.execute(f'CREATE DATABASE "{DATABASE}"' + (f' TEMPLATE "{TEMPLATE}"' if has_template else ""))
    return bool(has_template)


def migrate_and_keep_template(had_template):
    """Migrate (all of it the first time, new migrations later) and keep the empty result as the template."""
    from django.core.management import call_command
    from django.db import connection, connections

    def applied():
        with connection.cursor() as cursor:
            if "django_migrations" not in connection.introspection.table_names(cursor):
                return 0
            cursor.execute("SELECT count(*) FROM django_migrations")
            return cursor.fetchone()[0]

    before = applied()
    call_command("migrate", verbosity=0, interactive=False)
    if had_template and applied() == before:
        return
    connections.close_all()  # a database with sessions cannot be a template
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        conn.execute(f'CREATE DATABASE "{TEMPLATE}" TEMPLATE "{DATABASE}"')


class Recorder:
    """Timestamps relative to the start of the load."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.requests = []  # (event id, body, t_sent, t_done, status or error name)
        self.health = []  # (t answered, status or error name, seconds it took)
        self.marks = {}

    def now(self):
        return round(time.monotonic() - self.t0, 2)

    def mark(self, name):
        self.marks[name] = self.now()


def post(conn, path, token, body):
    """(status, None) or (None, error name); reconnects on the next call after a failure."""
    try:
        conn.request("POST", path, body=json.dumps(body),
                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        return type(exc).__name__


def load_client(number, port, token, learners, path, stop, quiet, rec):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    rng = random.Random(number)
    sent = 0
    while not stop.is_set():
        if quiet.is_set():
            time.sleep(0.02)
            continue
        sent += 1
        verb = "completed" if sent % 8 == 0 else "answered"
        body = {"id": str(uuid.uuid4()), "verb": verb, "learner": rng.choice(learners)}
        if verb == "answered":
            body["score"] = rng.randint(0, 100)
        started = rec.now()
        status = post(conn, path, token, body)
        with rec.lock:
            rec.requests.append((body["id"], body, started, rec.now(), status))
        if not isinstance(status, int) or status >= 500:
            time.sleep(0.05)  # a client that backs off a little instead of spinning on errors
    conn.close()


def health_poller(port, stop, quiet, rec):
    while not stop.is_set():
        if quiet.is_set():
            time.sleep(0.02)
            continue
        sent = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/healthz")
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException) as exc:
            status = type(exc).__name__
        finally:
            conn.close()
        rec.health.append((rec.now(), status, round(time.monotonic() - sent, 2)))
        stop.wait(0.1)


def verify(ok_ids, failed_ids):
    """The database against what the clients saw. Returns (checks, row counts)."""
    from django.db.models import Count

    from api.models import ApiEvent
    from progress.enums import EventKind, Status
    from progress.models import LearningProgress, ProgressEvent

    stored = set(map(str, ApiEvent.objects.values_list("event_id", flat=True)))
    answered = Counter(
        ProgressEvent.objects.filter(kind=EventKind.ANSWERED, data__external=True).values_list("user_id", "step_id")
    )
    completed_events = Counter(
        ProgressEvent.objects.filter(kind=EventKind.COMPLETED).values_list("user_id", "step_id")
    )
    rows = list(LearningProgress.objects.values_list("user_id", "step_id", "status", "progress_data"))
    per_row = ApiEvent.objects.values("learner_id", "step_id").annotate(n=Count("id"))
    api_per_row = {(r["learner_id"], r["step_id"]): r["n"] for r in per_row}
    checks = {
        "every 2xx has its ApiEvent": ok_ids <= stored,
        "no ApiEvent nobody was answered for": stored <= ok_ids | failed_ids,
        "one engine event per ApiEvent": sum(answered.values()) == len(stored) and answered == Counter(api_per_row),
        "each completion has exactly one COMPLETED event": all(
            completed_events[(u, s)] == (1 if status == Status.COMPLETED else 0) for u, s, status, _d in rows
        ) and sum(completed_events.values()) == sum(1 for r in rows if r[2] == Status.COMPLETED),
        "each row's report counter matches its events": all(
            data.get("external_report_count", 0) == answered[(u, s)] for u, s, _st, data in rows
        ),
    }
    counts = {"api_events": len(stored), "engine_answered": sum(answered.values()),
              "completed_rows": sum(1 for r in rows if r[2] == Status.COMPLETED),
              "completed_events": sum(completed_events.values())}
    return checks, counts


def first(items, predicate):
    return next((item for item in items if predicate(item)), None)


def run(*, settle=2.0, outage_at=4.0, outage=3.0, clients=6, learners=50, workers=2, health_checks=True):
    """The whole experiment; returns the report (a dict with "checks")."""
    problem = tools_available()
    if problem:
        raise FaultSetupError(problem)
    version = pg_version()
    LOCK_FILE.touch(exist_ok=True)
    with open(LOCK_FILE) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _run_locked(version, settle=settle, outage_at=outage_at, outage=outage, clients=clients,
                           learners=learners, workers=workers, health_checks=health_checks)


def _run_locked(version, *, settle, outage_at, outage, clients, learners, workers, health_checks):
    began = time.monotonic()
    ensure_cluster(version)
    url = f"postgres://postgres@127.0.0.1:{PORT}/{DATABASE}"
    had_template = fresh_database()
    env = {
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "mars_labs.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "API_RATE_LIMIT": "100000000/minute",
        "LOG_LEVEL": "ERROR",
        "PYTHONWARNINGS": "ignore:No directory at",
    }
    setup_django(env)
    migrate_and_keep_template(had_template)
    token, learner_ids, step_id = seed(learners)
    from django.db import connections

    connections.close_all()

    port = free_port()
    log_path = Path(tempfile.gettempdir()) / f"mars-fault-pg-gunicorn-{os.getpid()}.log"
    worker_env = {**os.environ, **env}
    worker_env.pop("CACHE_URL", None)
    command = [str(Path(sys.executable).parent / "gunicorn"), "mars_labs.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers), "--log-level", "warning"]
    if not health_checks:  # the experiment: what the settings' CONN_HEALTH_CHECKS=True buys
        conf = Path(tempfile.gettempdir()) / f"mars-fault-pg-conf-{os.getpid()}.py"
        conf.write_text("def post_fork(server, worker):\n    from django.conf import settings\n"
                        "    settings.DATABASES['default']['CONN_HEALTH_CHECKS'] = False\n")
        command += ["--config", str(conf)]
    with open(log_path, "w") as log:
        gunicorn = subprocess.Popen(command, cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT)
    rec = Recorder()
    try:
        wait_for(port, gunicorn)
        rec = Recorder()
        stop, quiet = threading.Event(), threading.Event()
        poller = threading.Thread(target=health_poller, args=(port, stop, quiet, rec))
        poller.start()
        path = f"/api/v1/steps/{step_id}/events"
        threads = [threading.Thread(target=load_client, args=(n, port, token, learner_ids, path, stop, quiet, rec))
                   for n in range(clients)]
        for thread in threads:
            thread.start()
        # 1. An outage under load: stop, a few seconds down, start.
        time.sleep(outage_at)
        workers_before = sorted(worker_pids(gunicorn.pid))  # all up and serving by now
        rec.mark("stop_sent")
        ctl(version, "stop", "-m", "fast")
        rec.mark("pg_down")
        time.sleep(outage)
        rec.mark("start_sent")
        starting = subprocess.Popen(["pg_ctlcluster", "--skip-systemctl-redirect", version, CLUSTER, "start"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_pg_ready(timeout=30)
        rec.mark("pg_up")  # the moment pg_isready first says yes (pg_ctlcluster may return later)
        if starting.wait(timeout=60) != 0:
            raise FaultSetupError(f"pg_ctlcluster {version} {CLUSTER} start failed")
        # Recovery must not need anything from us: give /healthz up to 15 s.
        recover_by = time.monotonic() + 15
        while time.monotonic() < recover_by and not (rec.health and rec.health[-1][1] == 200
                                                       and rec.health[-1][0] > rec.marks["pg_up"]):
            time.sleep(0.1)
        time.sleep(settle)
        # 2. A restart nobody sees: no request reaches a worker while PostgreSQL is down, so each
        # worker's persistent connection is stale afterwards. CONN_HEALTH_CHECKS must replace it
        # before the next request uses it.
        quiet.set()
        rec.mark("quiet_pause")
        time.sleep(1.0)  # requests in flight finish
        ctl(version, "restart", "-m", "fast")
        wait_pg_ready(timeout=30)
        rec.mark("quiet_pg_up")
        quiet.clear()
        time.sleep(settle)
        stop.set()
        for thread in threads:
            thread.join()
        poller.join()
        rec.mark("load_done")

        ok_ids = {r[0] for r in rec.requests if isinstance(r[4], int) and r[4] < 300}
        failed = [r for r in rec.requests if not (isinstance(r[4], int) and r[4] < 300)]
        failed_ids = {r[0] for r in failed}
        checks, rows = verify(ok_ids, failed_ids)
        # A request whose COMMIT reached PostgreSQL just before it stopped is stored, but its answer
        # was lost with the connection: "in doubt", as with any database. Its retry must find it.
        from api.models import ApiEvent

        in_doubt = failed_ids & set(map(str, ApiEvent.objects.filter(event_id__in=failed_ids)
                                         .values_list("event_id", flat=True)))

        # The clients retry what failed, with the same ids: each must now be written exactly once.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        retried = {id_: post(conn, path, token, body) for id_, body, *_rest in failed}
        conn.close()
        retry_checks, rows_after_retry = verify(ok_ids | failed_ids, set())
        gunicorn_alive = gunicorn.poll() is None and sorted(worker_pids(gunicorn.pid)) == workers_before
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        connections.close_all()
        with contextlib.suppress(subprocess.CalledProcessError):
            ctl(version, "stop", "-m", "fast")  # leave nothing running; the next run starts it again

    statuses = Counter(str(r[4]) for r in rec.requests)
    errors = [r for r in rec.requests if not (isinstance(r[4], int) and r[4] < 300)]
    health_503 = [t for t, s, _took in rec.health if s == 503]
    slowest = max(rec.health, key=lambda h: h[2], default=None)
    recovered = first(rec.health, lambda h: h[0] > rec.marks["pg_up"] and h[1] == 200)
    errors_after_up = [r for r in errors if rec.marks["pg_up"] < r[2] < rec.marks["quiet_pause"]]
    errors_after_quiet = [r for r in errors if r[2] > rec.marks["quiet_pause"]]
    log_text = log_path.read_text(errors="replace")
    checks.update({f"after retries: {name}": ok for name, ok in retry_checks.items()})
    checks.update({
        "/healthz answered 503 during the outage": bool(health_503),
        "/healthz back to 200 without restarting gunicorn": recovered is not None,
        "the same gunicorn workers throughout (none died or was replaced)": gunicorn_alive,
        "every retried request succeeded": set(retried.values()) <= {200, 201},
        # Not "no failed request left a row": no client can promise that when the server stops
        # between a commit and its answer. At most one such commit per worker per stop, each whole
        # (the checks above), and its retry answered 200 with the first answer, not written twice.
        "a failed request left its event only when committed as PostgreSQL stopped (retry: 200)": (
            len(in_doubt) <= 2 * workers and all(retried[i] == 200 for i in in_doubt)
            and all(retried[i] == 201 for i in failed_ids - in_doubt)),
        "no request failed once PostgreSQL was accepting connections again": not errors_after_up,
        "no request failed after a restart during which the workers were idle (stale connections)":
            not errors_after_quiet,
        "every error was a 500/503 answer, never a dropped connection": all(isinstance(r[4], int) for r in errors),
    })
    report = {
        "cluster": f"{version}/{CLUSTER} port {PORT} (own throwaway cluster)",
        "gunicorn": f"{workers} sync workers, CONN_MAX_AGE=60, CONN_HEALTH_CHECKS={health_checks}",
        "clients": clients,
        "timeline_s": {
            **rec.marks,
            "first_error": errors[0][2] if errors else None,
            "last_error_sent": errors[-1][2] if errors else None,
            "first_503_healthz": health_503[0] if health_503 else None,
            "last_503_healthz": health_503[-1] if health_503 else None,
            "healthz_200_again": recovered[0] if recovered else None,
        },
        "recovered_after_s": {
            "since_pg_accepts_connections": round(recovered[0] - rec.marks["pg_up"], 2) if recovered else None,
            "since_stop": round(recovered[0] - rec.marks["stop_sent"], 2) if recovered else None,
        },
        "healthz_polls": dict(Counter(str(s) for _t, s, _took in rec.health)),
        "healthz_slowest": slowest and {"answered_at_s": slowest[0], "status": slowest[1], "took_s": slowest[2]},
        "requests": {"total": len(rec.requests), "ok": len(rec.requests) - len(errors), "failed": len(errors),
                     "by_status": dict(statuses), "failed_after_pg_up": len(errors_after_up),
                     "failed_after_quiet_restart": len(errors_after_quiet)},
        "retries": dict(Counter(str(s) for s in retried.values())),
        "in_doubt": len(in_doubt),
        "rows": rows,
        "rows_after_retries": rows_after_retry,
        "gunicorn_log_error_lines": sum("Error" in line for line in log_text.splitlines()),
        "checks": checks,
        "wall_s": round(time.monotonic() - began, 1),
    }
    log_path.unlink(missing_ok=True)
    return report


def print_report(report):
    t, r = report["timeline_s"], report["requests"]
    print(f"PostgreSQL restart under load ({report['cluster']}; gunicorn {report['gunicorn']}; "
          f"{report['clients']} clients)")
    print(f"  t={t['stop_sent']}s stop sent; down at {t['pg_down']}s; start at {t['start_sent']}s; "
          f"accepting connections (pg_isready) at {t['pg_up']}s")
    print(f"  first error at {t['first_error']}s, last failing request sent at {t['last_error_sent']}s")
    print(f"  /healthz: 503 from {t['first_503_healthz']}s to {t['last_503_healthz']}s, 200 again at "
          f"{t['healthz_200_again']}s ({report['recovered_after_s']['since_pg_accepts_connections']} s after "
          f"PostgreSQL was back, {report['recovered_after_s']['since_stop']} s after the stop); polls "
          f"{report['healthz_polls']}; slowest answer {report['healthz_slowest']}")
    print(f"  requests: {r['total']} sent, {r['ok']} ok, {r['failed']} failed {r['by_status']}; "
          f"failed after PostgreSQL was back: {r['failed_after_pg_up']}")
    print(f"  t={t['quiet_pause']}s clients paused, restart with idle workers; PostgreSQL back at {t['quiet_pg_up']}s; "
          f"requests failed afterwards (stale persistent connections): {r['failed_after_quiet_restart']}")
    print(f"  retries of the failed ones (same ids): {report['retries']}")
    print(f"  rows: {report['rows']}; after retries: {report['rows_after_retries']}")
    for name, ok in report["checks"].items():
        print(f"  [{'ok' if ok else 'FAILED'}] {name}")
    print(f"  wall time {report['wall_s']} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outage-at", type=float, default=4.0, help="Seconds into the load to stop PostgreSQL.")
    parser.add_argument("--settle", type=float, default=2.0, help="Seconds of load after each recovery (default 2).")
    parser.add_argument("--outage", type=float, default=3.0, help="Seconds PostgreSQL stays down (default 3).")
    parser.add_argument("--clients", type=int, default=6, help="Concurrent clients (default 6).")
    parser.add_argument("--json", action="store_true", help="Print the report as one JSON object.")
    parser.add_argument("--no-health-checks", dest="health_checks", action="store_false",
                        help="Experiment: turn CONN_HEALTH_CHECKS off in the workers (expect failures after the "
                             "restart when a worker's persistent connection went stale while it was idle).")
    args = parser.parse_args()
    try:
        report = run(settle=args.settle, outage_at=args.outage_at, outage=args.outage, clients=args.clients,
                     health_checks=args.health_checks)
    except FaultSetupError as exc:
        sys.exit(f"cannot run: {exc}")
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    if not all(report["checks"].values()):
        sys.exit("FAILED: " + ", ".join(name for name, ok in report["checks"].items() if not ok))


if __name__ == "__main__":
    main()
