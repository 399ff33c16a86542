#!/usr/bin/env python
"""District-scale benchmark: gunicorn + wrk against the pages learners and teachers use, on a big dataset.

    .venv/bin/python bench/run.py                                   # SQLite: bench/data/district.sqlite3
    .venv/bin/python bench/run.py --database-url postgres://postgres@127.0.0.1:5432/mars_bench
    .venv/bin/python bench/run.py --dataset-args "--learners 300"   # (re)build the dataset first
    .venv/bin/python bench/run.py --only dashboard,complete --duration 30 --write-docs

The dataset comes from bench/make_dataset.py: built with --dataset-args, or when the database does
not exist yet (then with make_dataset's defaults, 10,000 learners), else reused as it is.

What it does:

1. Logs in random learners and teachers without the login form: one session row per user
   (SessionStore, the same data ``login()`` stores) and a CSRF secret, so the Lua script can send
   ``Cookie: sessionid=...; csrftoken=...`` and ``X-CSRFToken`` like a browser.
2. Writes one request file per endpoint (bench/results/, gitignored): for the pages, random
   learners (and random subjects / steps of theirs); for step completion, the POST that completes
   a learner's next step in a subject by its criteria (simulation report, exercise answer, quiz
   with the right answers), each sent once (bench/lua/requests.lua), for steps the learner has
   open: any not opened yet are opened first through the engine, as the step page's GET would.
3. Starts gunicorn (2 sync workers, 127.0.0.1, DEBUG off, MARS_BENCH_BASELINE=1 for the baseline
   page) — or two gunicorns on two ports with --instances 2, each driven by its own wrk — warms
   every worker up, then drives each endpoint with wrk: CLIENTS connections for DURATION seconds.
4. Prints, per endpoint: req/s, p50, p99, the ratio to the baseline, non-2xx/3xx responses.
   Checks: completions recorded (COMPLETED events) == successful completion POSTs, no
   "database is locked" in gunicorn's log, each worker's RSS after the run (ps -o rss).
5. With --write-docs, writes the table and the machine into docs/performance.md ("## District scale").
"""

import argparse
import json
import os
import random
import resource
import shlex
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402
from bench.make_dataset import DEFAULT_SQLITE, EXPECTED_ANSWER  # noqa: E402

RESULTS = _common.ROOT / "bench" / "results"
LUA = _common.ROOT / "bench" / "lua" / "requests.lua"
DOCS = _common.ROOT / "docs" / "performance.md"
SECTION = "## District scale (bench/run.py)"
ENDPOINTS = ["baseline", "dashboard", "subject", "step", "api", "complete", "report"]
DESCRIPTIONS = {
    "baseline": "GET /bench/baseline: one query, a small template, no session (the ceiling)",
    "dashboard": "GET / as a random learner",
    "subject": "GET /subjects/<code>/ (a random subject) as a random learner",
    "step": "GET /steps/<id>/ (one of the learner's open steps; opening writes) as a random learner",
    "complete": "POST completing the learner's next step (simulation report, exercise answer, quiz)",
    "report": "GET /reports/classrooms/<id>/ (class x chapter matrix) as the class's teacher",
    "api": "GET /api/v1/me/progress as a random learner (session)",
}
CREATED_SESSIONS = []  # deleted again at the end of the run
# Completion POSTs prepared per second of the run: about twice the best rate measured so far (519/s,
# SQLite, session 9), so a run never runs out; each may cost an engine.open_step before the run
# (open_steps). A run that does run out says so (ran_out) and is not counted as meeting a target.
COMPLETIONS_PER_S_CAP = 1000

# Targets from issue #9 (bench/run.py at 5M rows, both databases).
TARGETS = {
    "dashboard_ratio": 0.40, "dashboard_p99_ms": 50, "report_p50_ms": 100,
    "complete_sqlite": 300, "complete_postgres": 500, "rss_mb": 150,
}


# ------------------------------------------------------------------------------------------
# Preparation (in this process, through Django)
# ------------------------------------------------------------------------------------------


def make_sessions(users):
    """``{user_id: (cookie header, csrf secret)}``: a logged-in session per user, as login() would store it."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends import cached_db, db
    from django.middleware.csrf import _get_new_csrf_string

    SessionStore = import_module(settings.SESSION_ENGINE).SessionStore  # noqa: N806 - a class
    if not issubclass(SessionStore, db.SessionStore | cached_db.SessionStore):
        sys.exit(f"bench/run.py creates sessions the servers must find in the database; "
                 f"SESSION_ENGINE is {settings.SESSION_ENGINE}")
    try:  # what a login stores besides the user (learners/sessions.py), when the project has it
        from learners.sessions import REFRESHED_AT
    except ImportError:
        REFRESHED_AT = None  # noqa: N806
    # The backend login() would record: the first one that authenticates users (axes' only refuses).
    backend = next(b for b in settings.AUTHENTICATION_BACKENDS if not b.startswith("axes."))
    out = {}
    for user in users:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = backend
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        if REFRESHED_AT:
            # Signed in at some moment of the last refresh interval, as a school's learners are: each
            # session's idle-timeout write then comes once per interval, spread over time. All at the
            # same moment, every session came due together two minutes into a run: a burst of session
            # writes, several times the steady rate, in whichever endpoint ran then (on SQLite, the
            # completions).
            store[REFRESHED_AT] = int(time.time()) - random.randrange(settings.SESSION_REFRESH_SECONDS)
        store.save(must_create=True)
        CREATED_SESSIONS.append(store.session_key)
        csrf = _get_new_csrf_string()
        cookie = f"{settings.SESSION_COOKIE_NAME}={store.session_key}; {settings.CSRF_COOKIE_NAME}={csrf}"
        out[user.pk] = (cookie, csrf)
    return out


def line(method, path, cookie="", csrf="", body=""):
    return "\t".join((method, path, cookie, csrf, body)) + "\n"


class CompletionPost(NamedTuple):
    """One POST that completes ``step``: its ``path`` and form ``body``."""

    step: object
    path: str
    body: str


def completion_chains(learner_ids):
    """Per learner, per subject: the POSTs that complete its next steps, stopping at a step one POST cannot finish.

    A subject's next step is the first not done in curriculum order (the dataset's learners work
    through prefixes); simulation, exercise and quiz steps complete with one POST each, a reading
    (time) or video (view) step needs the page, so a chain stops there. Each is a CompletionPost.
    """
    from curriculum.models import LearningStep
    from progress.enums import DONE_STATUSES
    from progress.models import LearningProgress

    steps = list(LearningStep.objects.select_related("chapter__subject").filter(chapter__is_active=True).order_by(
        "chapter__subject__order", "chapter__subject__name", "chapter__order_index", "order_index"))
    by_subject = {}
    for step in steps:
        by_subject.setdefault(step.chapter.subject_id, []).append(step)
    done = {}
    for user_id, step_id in LearningProgress.objects.filter(
        user_id__in=learner_ids, status__in=DONE_STATUSES
    ).values_list("user_id", "step_id"):
        done.setdefault(user_id, set()).add(step_id)
    chains = {}
    for user_id in learner_ids:
        mine = done.get(user_id, set())
        for subject_steps in by_subject.values():
            position = next((i for i, s in enumerate(subject_steps) if s.pk not in mine), None)
            if position is None:
                continue
            chain = []
            for step in subject_steps[position:]:
                request = completion_request(step)
                if request is None:
                    break
                chain.append(CompletionPost(step, *request))
            if chain:
                chains.setdefault(user_id, []).append(chain)
    return chains


def open_steps(pairs):
    """Open each ``(learner id, step)`` the learner has not opened yet, as the step page's GET does.

    A learner sends a completion POST from the step's page, and loading that page opened the step
    (``engine.open_step``: its row, in progress). The dataset leaves a row for the step each
    learner is on in a subject they have started; a run completes those, and the next run's steps
    were never opened. Opening them here, before the clock starts, lets every run measure the
    same thing: completing a step the learner has open. Returns the pairs the engine refused
    (locked: a prerequisite elsewhere), which a run leaves out.
    """
    from learners.models import User
    from progress import engine
    from progress.models import LearningProgress

    learner_ids = {pk for pk, _step in pairs}
    opened = set(LearningProgress.objects.filter(
        user_id__in=learner_ids, step_id__in={step.pk for _pk, step in pairs}
    ).values_list("user_id", "step_id"))
    learners = User.objects.in_bulk(learner_ids)
    refused = set()
    for pk, step in pairs:
        if (pk, step.pk) not in opened and not engine.open_step(learner=learners[pk], step=step).ok:
            refused.add((pk, step.pk))
    return refused


def completion_request(step):
    """``(path, form body)`` of the one POST that completes ``step``, or None when one POST cannot."""
    kind = (step.required_completion_criteria or {}).get("type")
    if kind == "external":
        return f"/steps/{step.pk}/report", ""
    if kind == "submission":
        answer = (step.activity or {}).get("expected_answer", EXPECTED_ANSWER)
        return f"/steps/{step.pk}/answer", urlencode({"answer": answer})
    if kind == "quiz":
        questions = (step.activity or {}).get("questions", [])
        return f"/steps/{step.pk}/quiz", urlencode({f"q{i}": q["answer"] for i, q in enumerate(questions)})
    return None


def prepare(args, rng):
    """Sessions and request files; returns ``{endpoint: (path of its request file, mode)}`` and facts."""
    from django.db.models import Q

    from curriculum.models import Subject
    from learners.models import Classroom, User
    from progress.enums import Status
    from progress.models import LearningProgress

    RESULTS.mkdir(parents=True, exist_ok=True)
    learner_ids = list(User.objects.filter(is_staff=False, is_active=True, profile__grade__isnull=False)
                       .values_list("pk", flat=True))
    if not learner_ids:
        sys.exit("The database has no learners: build the dataset with --dataset-args.")
    sampled = rng.sample(learner_ids, min(args.sessions, len(learner_ids)))
    learners = {u.pk: u for u in User.objects.filter(pk__in=sampled)}
    sessions = make_sessions(learners.values())
    subjects = list(Subject.objects.values_list("code", flat=True))
    files = {}

    def write(name, lines, mode="random"):
        path = RESULTS / f"requests-{name}.tsv"
        path.write_text("".join(lines))
        files[name] = (path, mode, len(lines))

    write("baseline", [line("GET", "/bench/baseline")])
    write("dashboard", [line("GET", "/", *sessions[pk]) for pk in sampled])
    write("api", [line("GET", "/api/v1/me/progress", *sessions[pk]) for pk in sampled])
    write("subject", [line("GET", f"/subjects/{rng.choice(subjects)}/", *sessions[pk])
                      for pk in sampled for _n in range(3)])
    # Steps the learner may open: done ones and the one in progress (a prefix: never locked).
    open_rows = {}
    for user_id, step_id in LearningProgress.objects.filter(
        user_id__in=sampled, status__in=[Status.COMPLETED, Status.IN_PROGRESS]
    ).values_list("user_id", "step_id"):
        open_rows.setdefault(user_id, []).append(step_id)
    step_lines = [line("GET", f"/steps/{rng.choice(open_rows[pk])}/", *sessions[pk])
                  for pk in sampled if pk in open_rows for _n in range(3)]
    write("step", step_lines or [line("GET", "/healthz")])

    # Completion POSTs: each learner's next step in each subject (the first of its chain), opened
    # first as the page's GET would (open_steps), enough of them for the run, in random order.
    needed = int(args.duration * args.instances * COMPLETIONS_PER_S_CAP)
    pool = [pk for pk in learner_ids if pk not in learners]
    rng.shuffle(pool)
    chain_ids = list(sampled)
    chains = completion_chains(chain_ids)
    while sum(len(cs) for cs in chains.values()) < needed and pool:
        more, pool = pool[:2000], pool[2000:]
        chains.update(completion_chains(more))
        chain_ids += more
    posts = [(pk, chain[0]) for pk, cs in chains.items() for chain in cs]
    rng.shuffle(posts)
    posts = posts[:needed]
    refused = open_steps([(pk, post.step) for pk, post in posts])
    posts = [(pk, post) for pk, post in posts if (pk, post.step.pk) not in refused]
    extra = {pk for pk, _post in posts if pk not in sessions}
    sessions.update(make_sessions(User.objects.filter(pk__in=extra)))
    lines = [line("POST", post.path, *sessions[pk], post.body) for pk, post in posts]
    write("complete", lines or [line("GET", "/healthz")], mode="once")

    # Class reports: the teachers of classrooms with learners.
    classrooms = list(Classroom.objects.filter(~Q(teachers=None), ~Q(learners=None))
                      .values_list("pk", "teachers").distinct())
    teachers = {u.pk: u for u in User.objects.filter(pk__in={t for _c, t in classrooms})}
    rng.shuffle(classrooms)
    classrooms = classrooms[: max(1, args.sessions // 10)]
    teacher_sessions = make_sessions([teachers[t] for _c, t in classrooms])
    write("report", [line("GET", f"/reports/classrooms/{c}/{args.report_query}", *teacher_sessions[t])
                     for c, t in classrooms]
          or [line("GET", "/healthz")])
    facts = {"learners_total": len(learner_ids), "sessions": len(sessions) + len(teacher_sessions),
             "completion_posts_prepared": len(lines)}
    return files, facts


def count_completions():
    from progress.models import ProgressEvent

    return ProgressEvent.objects.filter(kind="completed").count()


def dataset_facts():
    from django.db import connection

    from curriculum.models import Chapter, LearningStep, Subject
    from learners.models import Classroom, User
    from progress.models import LearningProgress, ProgressEvent

    facts = {
        "subjects": Subject.objects.count(), "chapters": Chapter.objects.count(),
        "steps": LearningStep.objects.count(), "learners": User.objects.filter(is_staff=False).count(),
        "classrooms": Classroom.objects.count(),
    }
    # Counting 5M rows exactly takes a while on SQLite; the planner's estimate is enough for a caption.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for key, table in (("learning_progress", "progress_learningprogress"),
                               ("progress_events", "progress_progressevent")):
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
                facts[key] = cursor.fetchone()[0]
        else:
            facts["learning_progress"] = LearningProgress.objects.count()
            facts["progress_events"] = ProgressEvent.objects.count()
    return facts


# ------------------------------------------------------------------------------------------
# Running
# ------------------------------------------------------------------------------------------


def warm_up(ports, files, names, workers):
    """A few requests of every kind on every worker (imports, connections, caches) before measuring.

    Returns ``{endpoint: median ms}`` of the warm half of them, sent one at a time: a page's latency
    with nothing else in the queue (the wrk runs add queueing behind 8 clients).
    """
    import statistics
    import urllib.error
    import urllib.request

    alone = {}
    # Untimed first: every worker loads the app (templates, URLconf, connection) on its first requests.
    first = [raw for name in ("baseline", "dashboard") for raw in files[name][0].read_text().splitlines()[:2]]
    for port in ports:
        for raw in first * (2 * workers):
            method, url, cookie, _csrf, _body = raw.split("\t")
            request = urllib.request.Request(f"http://127.0.0.1:{port}{url}", method=method,
                                             headers={"Cookie": cookie} if cookie else {})
            with urllib.request.urlopen(request, timeout=300) as response:
                response.read()
    for name in names:
        path, mode, _count = files[name]
        if mode == "once":
            continue
        timings = []
        for port in ports:
            # Other learners than the untimed requests above: their rows are not fresh in any cache.
            for raw in path.read_text().splitlines()[-2 * workers:]:
                method, url, cookie, csrf, _body = raw.split("\t")
                request = urllib.request.Request(f"http://127.0.0.1:{port}{url}", method=method,
                                                 headers={"Cookie": cookie} if cookie else {})
                started = time.perf_counter()
                try:
                    with urllib.request.urlopen(request, timeout=300) as response:
                        response.read()
                except urllib.error.HTTPError as error:
                    sys.exit(f"warm-up: {name} {url} answered {error.code}; the bench would measure errors")
                timings.append(1000 * (time.perf_counter() - started))
        warm = timings[len(timings) // 2:]
        alone[name] = round(statistics.median(warm), 1) if warm else None
    return alone


def drain(ports, workers):
    """Wait until every server has answered the requests wrk left behind (sync workers finish what they
    accepted, even for a closed connection): otherwise the next endpoint would measure their tail."""
    import urllib.request

    for port in ports:
        for _n in range(workers * 2):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=600) as response:
                response.read()


def drive(name, files, ports, args, servers):
    """wrk on every instance at once (one wrk each); returns the summed result."""
    path, mode, _count = files[name]
    results = [None] * len(ports)
    threads_per_wrk = min(args.clients, 2)

    def one(index, port):
        env = {"BENCH_REQUESTS": str(path), "BENCH_MODE": mode, "BENCH_THREADS": str(threads_per_wrk),
               "BENCH_PART": f"{index}/{len(ports)}"}
        results[index] = _common.run_wrk(url=f"http://127.0.0.1:{port}", script=LUA, duration=args.duration,
                                         clients=args.clients, threads=threads_per_wrk, env=env)

    workers = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(ports)]
    gunicorn_pids = [pid for server in servers for pid in _common.worker_pids(server.pid)]
    cpu_before = (_common.cpu_seconds(gunicorn_pids), resource.getrusage(resource.RUSAGE_CHILDREN),
                  _common.machine_cpu_seconds())
    profilers = _start_profilers(name, gunicorn_pids, args) if args.profile else []
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for profiler in profilers:
        profiler.wait()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers_cpu = _common.cpu_seconds(gunicorn_pids) - cpu_before[0]
    # wrk (and py-spy when profiling): the children reaped while driving
    wrk_cpu = (children.ru_utime + children.ru_stime) - (cpu_before[1].ru_utime + cpu_before[1].ru_stime)
    machine_cpu = _common.machine_cpu_seconds() - cpu_before[2]
    cpu = {
        "workers": workers_cpu, "wrk": wrk_cpu,
        # the database server (PostgreSQL backends come and go with CONN_MAX_AGE, so they are not
        # counted one by one), Redis and the kernel: the whole machine's busy time less the two above
        "rest": machine_cpu - workers_cpu - wrk_cpu,
        "machine": machine_cpu,
    }
    statuses = {}
    for result in results:
        for code, n in result["statuses"].items():
            statuses[int(code)] = statuses.get(int(code), 0) + n
    fillers = sum(r["fillers"] for r in results)
    if fillers:  # /healthz fillers after a "once" file ran out answer 200: not part of the endpoint
        statuses[200] = statuses.get(200, 0) - fillers
        if not statuses[200]:
            del statuses[200]
    duration = max(r["duration_s"] for r in results)
    ok = sum(n for code, n in statuses.items() if 200 <= code < 400)
    answered = sum(statuses.values()) > 0  # else wrk has no latencies: every request outlasted the run
    return {
        "endpoint": name,
        "req_s": round(ok / duration, 1),
        "p50_ms": max(r["p50_ms"] for r in results) if answered else None,
        "p99_ms": max(r["p99_ms"] for r in results) if answered else None,
        # the shape of the tail, for reading a p99 (the JSON only): p90, p99.9 and the slowest request
        "tail_ms": {k: max(r[k] for r in results) for k in ("p90_ms", "p999_ms", "max_ms")} if answered else None,
        "ok": ok,
        "not_ok": sum(n for code, n in statuses.items() if not 200 <= code < 400) + sum(
            r["socket_errors"] for r in results),
        "statuses": statuses,
        "ran_out": fillers > 0,
        # CPU ms per answered request: gunicorn workers, wrk, the rest (database, Redis, kernel) and the
        # whole machine (/proc/stat)
        "cpu_ms": {k: round(1000 * v / max(1, sum(statuses.values()) + fillers), 3) for k, v in cpu.items()},
        "per_instance_req_s": [round(sum(n for c, n in r["statuses"].items() if 200 <= int(c) < 400)
                                     / r["duration_s"], 1) for r in results] if len(results) > 1 else None,
    }


def _start_profilers(name, pids, args):
    """py-spy sampling each worker for the run (--profile): collapsed stacks in bench/results/profile-NAME-PID.txt."""
    import shutil

    spy = shutil.which("py-spy") or str(Path(_common.PYTHON).parent / "py-spy")
    if not Path(spy).exists():
        sys.exit("--profile needs py-spy: .venv/bin/pip install py-spy")
    options = ["--duration", str(args.duration), "--rate", "250", "--format", "raw", "--nonblocking",
               *(["--idle"] if args.profile == "wall" else [])]
    return [subprocess.Popen([spy, "record", "--pid", str(pid), *options,
                              "-o", str(RESULTS / f"profile-{name}-{pid}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid in pids]


def _workers(settings):
    if settings.get("worker_class", "sync") == "sync":
        return "sync workers"
    return f"{settings['worker_class']} workers × {settings['threads']} threads"


def build_dataset(url, dataset_args):
    command = [_common.PYTHON, str(_common.ROOT / "bench" / "make_dataset.py"), "--database-url", url,
               *shlex.split(dataset_args)]
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, cwd=_common.ROOT)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help=f"Default: sqlite:///{DEFAULT_SQLITE} (PostgreSQL: e.g. "
                             "postgres://postgres@127.0.0.1:5432/mars_bench).")
    parser.add_argument("--dataset-args", default=None,
                        help='Build the dataset first with these make_dataset.py arguments, e.g. "--learners 300". '
                             "Without it an existing database is reused as it is.")
    parser.add_argument("--duration", type=int, default=15, help="Seconds of load per endpoint (default 15).")
    parser.add_argument("--clients", type=int, default=8, help="Concurrent connections per instance (default 8).")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance (default 2).")
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gthread"),
                        help="gunicorn worker class (default sync; gthread keeps connections alive).")
    parser.add_argument("--threads", type=int, default=1, help="Threads per gthread worker (default 1).")
    parser.add_argument("--instances", type=int, choices=(1, 2), default=1,
                        help="2: two gunicorns on two ports against the same database, one wrk each; req/s summed.")
    parser.add_argument("--only", default=None, help=f"Comma-separated endpoints among {', '.join(ENDPOINTS)}.")
    parser.add_argument("--sessions", type=int, default=500, help="Learners logged in for the page requests.")
    parser.add_argument("--seed", type=int, default=None, help="Random seed (default: the time).")
    parser.add_argument("--cache-url", default=os.environ.get("CACHE_URL", "locmemcache://"),
                        help="The servers' CACHE_URL (default: $CACHE_URL, else each process's local memory); "
                             "production with several processes uses Redis, e.g. redis://127.0.0.1:6379/3.")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="An environment variable for the servers (repeatable), e.g. SQLITE_CHECKPOINT_MS=0 "
                             "to measure with a setting changed.")
    parser.add_argument("--report-query", default="",
                        help='Appended to the class report URL, e.g. "?sort=overall" (default: none).')
    parser.add_argument("--profile", choices=("cpu", "wall"), default=None,
                        help="Sample every gunicorn worker with py-spy while driving (bench/results/profile-*.txt): "
                             "cpu (running) or wall (waiting too: locks, sleeps, the network).")
    parser.add_argument("--write-docs", action="store_true",
                        help=f'Write the results into docs/performance.md, "{SECTION}".')
    args = parser.parse_args(argv)
    only = ENDPOINTS if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in only if n not in ENDPOINTS]
    if unknown:
        parser.error(f"unknown endpoint(s) {', '.join(unknown)}; choose among {', '.join(ENDPOINTS)}")
    if "baseline" not in only:
        only = ["baseline", *only]  # every ratio needs it
    url = args.database_url or f"sqlite:///{DEFAULT_SQLITE}"
    if args.instances == 2 and not _common.is_postgres(url):
        print("note: --instances 2 on SQLite shares one file between two servers; meant for PostgreSQL.")

    _common.ensure_wrk()
    if args.dataset_args is not None or not _common.database_exists(url):
        build_dataset(url, args.dataset_args or "")
    settings = dict(pair.split("=", 1) for pair in args.setting if "=" in pair)
    if len(settings) != len(args.setting):
        parser.error("--setting takes NAME=VALUE")
    env = _common.django_env(url, MARS_BENCH_BASELINE="1", CACHE_URL=args.cache_url, **settings)
    _common.setup_django(env)
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0, interactive=False)
    # DEBUG is off, as in production: pages need collectstatic's manifest (STATIC_ROOT, gitignored).
    collected_at = time.monotonic()
    call_command("collectstatic", verbosity=0, interactive=False)
    print(f"collectstatic: {time.monotonic() - collected_at:.1f} s", flush=True)
    rng = random.Random(args.seed if args.seed is not None else time.time())
    prepared_at = time.monotonic()
    files, facts = prepare(args, rng)
    facts.update(dataset_facts())
    info = _common.machine()
    completions_before = count_completions()
    connections.close_all()
    print(f"prepared {facts['sessions']} sessions and the request files in {time.monotonic() - prepared_at:.1f} s; "
          f"{facts['completion_posts_prepared']} completion POSTs ready", flush=True)

    ports = [_common.free_port() for _n in range(args.instances)]
    logs = [RESULTS / f"gunicorn-{n}.log" for n in range(args.instances)]
    worker_env = {**os.environ, **env}
    servers = [
        # A long timeout: a slow page must be measured as slow, not killed and retried.
        _common.start_gunicorn(worker_env, port=port, workers=args.workers, worker_class=args.worker_class,
                               threads=args.threads, log_path=log, extra=("--timeout", "300"))
        for port, log in zip(ports, logs, strict=True)
    ]
    results, rss = [], {}
    load_before = os.getloadavg()[0]
    try:
        alone = warm_up(ports, files, only, args.workers)
        for name in only:
            result = drive(name, files, ports, args, servers)
            result["alone_ms"] = alone.get(name)
            drain(ports, args.workers)
            results.append(result)
            print(f"  {name:10s} {result['req_s']:8.1f} req/s  p50 {_ms(result['p50_ms'])}  "
                  f"p99 {_ms(result['p99_ms'])}  not ok {result['not_ok']}"
                  + ("  (ran out of prepared POSTs)" if result["ran_out"] else "")
                  + "  CPU ms/request: " + ", ".join(f"{k} {v:.2f}" for k, v in result["cpu_ms"].items()),
                  flush=True)
        for server in servers:
            for pid in _common.worker_pids(server.pid):
                rss[pid] = _common.rss_mb(pid)
    finally:
        for server in servers:
            _common.stop_gunicorn(server)
    load_after = os.getloadavg()[0]

    completions = count_completions() - completions_before
    from learners.models import Session

    Session.objects.filter(session_key__in=CREATED_SESSIONS).delete()
    connections.close_all()
    log_text = "".join(log.read_text() for log in logs)
    baseline = next(r for r in results if r["endpoint"] == "baseline")
    for result in results:
        result["ratio"] = round(result["req_s"] / baseline["req_s"], 3) if baseline["req_s"] else None
    complete = next((r for r in results if r["endpoint"] == "complete"), None)
    checks = {
        "database is locked never logged": "database is locked" not in log_text,
        "no server errors logged": "Traceback" not in log_text,
        "every response 2xx/3xx": all(r["not_ok"] == 0 for r in results),
    }
    if complete is not None:
        # wrk stops counting at the deadline while up to `clients` POSTs per instance are still in flight.
        in_flight = args.clients * args.instances
        checks["completions recorded == successful completion POSTs (+ those in flight at the end)"] = (
            complete["ok"] <= completions <= complete["ok"] + in_flight)
    summary = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "database_url": _common.redacted(url),
        "machine": info,
        "dataset": facts,
        "settings": {"duration_s": args.duration, "clients": args.clients, "workers": args.workers,
                     "worker_class": args.worker_class, "threads": args.threads,
                     "instances": args.instances, "cache": _common.redacted(args.cache_url),
                     "environment": settings},
        "load_average_1m": [round(load_before, 2), round(load_after, 2)],
        "results": results,
        "completions_recorded": completions,
        "worker_rss_mb": list(rss.values()),
        "checks": checks,
    }
    print(table(summary))
    (RESULTS / f"run-{'postgres' if _common.is_postgres(url) else 'sqlite'}.json").write_text(
        json.dumps(summary, indent=2))
    if args.write_docs:
        write_docs(summary)
        print(f"written to {DOCS.relative_to(_common.ROOT)}")
    if not all(checks.values()):
        sys.exit("FAILED: " + ", ".join(name for name, ok in checks.items() if not ok))


# ------------------------------------------------------------------------------------------
# Reporting
# ------------------------------------------------------------------------------------------


def _ms(value):
    return f"{value:7.1f} ms" if value is not None else "no answer within the run"


def table(summary):
    rows = ["| endpoint | req/s | p50 ms | p99 ms | ratio to baseline | non-2xx/3xx | one at a time, ms "
            "| CPU ms per request: workers / machine |",
            "|---|---|---|---|---|---|---|---|"]
    for r in summary["results"]:
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "—"
        note = " (prepared POSTs ran out)" if r["ran_out"] else ""
        per = f" ({' + '.join(str(x) for x in r['per_instance_req_s'])})" if r.get("per_instance_req_s") else ""
        p50, p99 = (r["p50_ms"], r["p99_ms"]) if r["p50_ms"] is not None else ("—", "—")
        alone = r.get("alone_ms")
        cpu = r.get("cpu_ms")
        cpu = f"{cpu['workers']:.2f} / {cpu['machine']:.2f}" if cpu else "—"
        rows.append(f"| {r['endpoint']} | {r['req_s']}{per}{note} | {p50} | {p99} | {ratio} | "
                    f"{r['not_ok']} | {alone if alone is not None else '—'} | {cpu} |")
    return "\n".join(rows)


def verdicts(summary):
    """The issue's targets, met or not, for this run."""
    by = {r["endpoint"]: r for r in summary["results"]}
    postgres = summary["machine"]["database"].startswith("PostgreSQL")
    out = []

    def add(label, value, target, ok):
        out.append(f"- {label}: {value} (target {target}): **{'met' if ok else 'not met'}**")

    if "dashboard" in by and by["dashboard"]["ratio"] is not None:
        d = by["dashboard"]
        add("dashboard throughput / baseline", f"{d['ratio']:.0%}", "≥ 40 %", d["ratio"] >= TARGETS["dashboard_ratio"])
        add("dashboard p99", _ms(d["p99_ms"]).strip(), "≤ 50 ms",
            d["p99_ms"] is not None and d["p99_ms"] <= TARGETS["dashboard_p99_ms"])
    if "report" in by:
        r = by["report"]
        add("class report p50", _ms(r["p50_ms"]).strip(), "≤ 100 ms",
            r["p50_ms"] is not None and r["p50_ms"] <= TARGETS["report_p50_ms"])
    if "complete" in by:
        c = by["complete"]
        target = TARGETS["complete_postgres" if postgres else "complete_sqlite"]
        add("step completions", f"{c['req_s']}/s", f"≥ {target}/s", c["req_s"] >= target and not c["ran_out"])
    if summary["worker_rss_mb"]:
        worst = max(x for x in summary["worker_rss_mb"] if x is not None)
        add("largest worker RSS after the run", f"{worst} MB", "≤ 150 MB", worst <= TARGETS["rss_mb"])
    return "\n".join(out)


def write_docs(summary):
    """Replace (or add) this database's block inside the "District scale" section of docs/performance.md."""
    m, d = summary["machine"], summary["dataset"]
    kind = "PostgreSQL" if m["database"].startswith("PostgreSQL") else "SQLite"
    settings = summary["settings"]
    marker = f"{kind}-{settings['instances']}"
    block = "\n".join([
        f"<!-- district:{marker} -->",
        f"### {kind}" + (f", {settings['instances']} instances" if settings["instances"] > 1 else ""),
        "",
        f"Measured {summary['when']}: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gb']} GB memory, Linux "
        f"{m['kernel']}; Python {m['python']}, Django {m['django']}, gunicorn {m['gunicorn']}, {m['database']}, "
        f"{m['wrk']}. gunicorn: {settings['instances']} × {settings['workers']} {_workers(settings)}; wrk: "
        f"{settings['clients']} connections per instance, {settings['duration_s']} s per endpoint; "
        f"cache `{settings.get('cache', 'locmemcache://')}`. "
        f"1-minute load average {summary['load_average_1m'][0]} before, {summary['load_average_1m'][1]} after.",
        "",
        f"Dataset: {d['learners']:,} learners in {d['classrooms']:,} classrooms, {d['subjects']} subjects, "
        f"{d['chapters']:,} chapters, {d['steps']:,} steps; {d['learning_progress']:,} LearningProgress rows, "
        f"{d['progress_events']:,} ProgressEvents; {d['sessions']:,} sessions.",
        "",
        table(summary),
        "",
        verdicts(summary),
        f"- completions recorded: {summary['completions_recorded']}; worker RSS after the run: "
        + ", ".join(f"{x} MB" for x in summary["worker_rss_mb"]),
        "- checks: " + ", ".join(f"{name}: {'yes' if ok else '**no**'}" for name, ok in summary["checks"].items()),
        f"<!-- /district:{marker} -->",
    ])
    text = DOCS.read_text()
    if SECTION not in text:
        text = text.rstrip("\n") + "\n\n" + SECTION + "\n\n" + SECTION_INTRO + "\n"
    start, end = f"<!-- district:{marker} -->", f"<!-- /district:{marker} -->"
    if start in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        head, sep, tail = text.partition(SECTION)
        # Append at the end of the section (before the next "## " heading, if any).
        next_heading = tail.find("\n## ")
        if next_heading == -1:
            text = head + sep + tail.rstrip("\n") + "\n\n" + block + "\n"
        else:
            text = head + sep + tail[:next_heading].rstrip("\n") + "\n\n" + block + "\n" + tail[next_heading:]
    DOCS.write_text(text)


SECTION_INTRO = """\
`bench/run.py` drives gunicorn with wrk on a district-sized dataset made by
`bench/make_dataset.py` (default 10,000 learners in classrooms of 40, 16 subjects ×
50 chapters × 5 steps = 4,000 steps, about 5 million LearningProgress rows). Endpoints:
""" + "\n".join(f"- `{name}`: {text}" for name, text in DESCRIPTIONS.items()) + """

```sh
.venv/bin/python bench/make_dataset.py --learners 10000 --subjects 16 --chapters 50 --steps 5
.venv/bin/python bench/run.py --write-docs                     # SQLite, bench/data/district.sqlite3
.venv/bin/python bench/make_dataset.py --database-url postgres://postgres@127.0.0.1:5432/mars_bench
.venv/bin/python bench/run.py --database-url postgres://postgres@127.0.0.1:5432/mars_bench --write-docs
.venv/bin/python bench/run.py --database-url postgres://postgres@127.0.0.1:5432/mars_bench --instances 2 --write-docs
```

Blocks below are rewritten by `--write-docs` (one per database and number of instances)."""


if __name__ == "__main__":
    main()
