"""Helpers the bench scripts share: databases, Django set-up, gunicorn, wrk, process accounting, the machine.

Imported as ``bench._common`` (the scripts put the project root on ``sys.path``).
"""

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).parent / "gunicorn")


def is_postgres(url):
    return urlparse(url).scheme.startswith("postgres")


def redacted(url):
    """The URL without user or password (for printing and the docs)."""
    if not is_postgres(url):
        return url
    parsed = urlparse(url)
    host = parsed.hostname or ""
    return parsed._replace(netloc=f"{host}:{parsed.port}" if parsed.port else host).geturl()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_wrk():
    """wrk on the PATH, installed with apt-get when it is missing and apt-get is there."""
    if shutil.which("wrk"):
        return
    if shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if not shutil.which("wrk"):
        sys.exit("wrk is required: apt-get install -y wrk")


def prepare_database(url):
    """A fresh, empty database at ``url`` (SQLite file or PostgreSQL database)."""
    parsed = urlparse(url)
    if is_postgres(url):
        name = parsed.path.lstrip("/")
        import psycopg

        with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    else:
        path = Path(parsed.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def database_exists(url):
    parsed = urlparse(url)
    if is_postgres(url):
        import psycopg

        with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
            name = parsed.path.lstrip("/")
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None
    return Path(parsed.path).exists()


def drop_database(url):
    parsed = urlparse(url)
    if is_postgres(url):
        import psycopg

        name = parsed.path.lstrip("/")
        with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{parsed.path}{suffix}").unlink(missing_ok=True)


def django_env(url, **extra):
    """The environment a bench gives Django and gunicorn: production-like (DEBUG off), plain HTTP on 127.0.0.1."""
    import secrets

    env = {
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "mars_labs.settings",
        "DEBUG": "false",  # DEBUG keeps every query in memory: not what production runs
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "API_RATE_LIMIT": "100000000/minute",  # measure the API, not the limiter's refusals
        "LOG_LEVEL": "ERROR",
        "PYTHONWARNINGS": "ignore:No directory at",  # whitenoise: no collectstatic for a bench
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def setup_django(env):
    os.environ.update(env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def machine():
    """Cores, memory and versions of what the numbers depend on (call after setup_django)."""
    import django
    from django.db import connection

    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            host = connection.settings_dict["HOST"]
            # A same-machine server reached over its Unix socket costs less per round trip than over TCP.
            path = "Unix socket" if not host or host.startswith("/") else f"TCP {host}"
            database = f"PostgreSQL {cursor.fetchone()[0]} ({path})"
        else:
            cursor.execute("select sqlite_version()")
            database = f"SQLite {cursor.fetchone()[0]} (WAL, IMMEDIATE)"
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    try:
        from importlib.metadata import version

        gunicorn_version = version("gunicorn")
    except Exception:  # noqa: BLE001 - a version string is decoration
        gunicorn_version = "?"
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split(" [")[0] \
        if shutil.which("wrk") else "?"
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gb": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform.release(), "python": platform.python_version(), "django": django.get_version(),
            "gunicorn": gunicorn_version, "wrk": wrk.strip(), "database": database}


def cpu_seconds(pids):
    """CPU time (user + system) the processes have used so far."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def machine_cpu_seconds():
    """CPU time the whole machine has been busy so far (every core; /proc/stat without idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    """Resident set size of one process in MB (ps -o rss), or None when it is gone."""
    out = subprocess.run(["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
    return round(int(out) / 1024, 1) if out else None


def database_pids(url):
    """PostgreSQL backends serving the bench database (their CPU is the database's share); none for SQLite."""
    if not is_postgres(url):
        return []
    name = urlparse(url).path.lstrip("/")
    out = subprocess.run(["pgrep", "-f", f"postgres: .* {name} "], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def worker_pids(master):
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def wait_for(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit("gunicorn exited early; see its output above")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit("gunicorn did not start listening")


def start_gunicorn(env, *, port, workers=2, worker_class="sync", threads=1, extra=(), log_path=None):
    """gunicorn serving mars_labs.wsgi on 127.0.0.1:port; its stderr goes to ``log_path`` when given."""
    command = [GUNICORN, "mars_labs.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
               "--worker-class", worker_class, "--threads", str(threads), "--log-level", "warning", *extra]
    log = open(log_path, "w") if log_path else None  # noqa: SIM115 - closed in stop_gunicorn
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stderr=log or None, stdout=log or None)
    proc.bench_log = log
    wait_for(port, proc)
    return proc


def stop_gunicorn(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if getattr(proc, "bench_log", None):
        proc.bench_log.close()


def run_wrk(*, url, script, duration, clients, env=None, threads=None, timeout="30s"):
    """Run wrk with a Lua script whose ``done`` prints one ``BENCH_RESULT {json}`` line; returns that JSON."""
    run = subprocess.run(
        ["wrk", "-t", str(threads or min(clients, 2)), "-c", str(clients), "-d", f"{duration}s",
         "--timeout", timeout, "-s", str(script), url],
        env={**os.environ, **(env or {})}, capture_output=True, text=True,
    )
    if run.returncode != 0:
        sys.exit(f"wrk failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    line = next((line for line in run.stdout.splitlines() if line.startswith("BENCH_RESULT ")), None)
    if line is None:
        sys.exit(f"wrk printed no BENCH_RESULT line:\n{run.stdout}\n{run.stderr}")
    result = json.loads(line[len("BENCH_RESULT "):])
    result["wrk_output"] = run.stdout
    return result
