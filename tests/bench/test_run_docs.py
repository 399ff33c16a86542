"""bench/run.py --write-docs: one block per database and instance count inside its own section, rewritten in place."""

from bench import run

MACHINE = {"nproc": 2, "cpu": "Test CPU", "memory_gb": 4.0, "kernel": "6.1", "python": "3.11.7", "django": "5.2",
           "gunicorn": "23.0.0", "wrk": "wrk 4.1.0", "database": "SQLite 3.40.1 (WAL, IMMEDIATE)"}


def summary(req_s, *, database=MACHINE["database"], instances=1):
    results = [
        {"endpoint": "baseline", "req_s": 2000.0, "p50_ms": 3.0, "p99_ms": 9.0, "ok": 1, "not_ok": 0,
         "ratio": 1.0, "ran_out": False},
        {"endpoint": "dashboard", "req_s": req_s, "p50_ms": 20.0, "p99_ms": 45.0, "ok": 1, "not_ok": 0,
         "ratio": req_s / 2000, "ran_out": False},
        {"endpoint": "report", "req_s": 0.0, "p50_ms": None, "p99_ms": None, "ok": 0, "not_ok": 0, "ratio": 0.0,
         "ran_out": False},
    ]
    return {
        "when": "2026-11-22 07:00 UTC", "machine": {**MACHINE, "database": database},
        "dataset": {"learners": 300, "classrooms": 8, "subjects": 16, "chapters": 800, "steps": 4000,
                    "learning_progress": 135674, "progress_events": 407057, "sessions": 308},
        "settings": {"duration_s": 15, "clients": 8, "workers": 2, "instances": instances},
        "load_average_1m": [1.0, 2.0], "results": results, "completions_recorded": 0,
        "worker_rss_mb": [80.0, 90.0], "checks": {"database is locked never logged": True},
    }


def test_write_docs_adds_the_section_then_rewrites_only_its_block(tmp_path, monkeypatch):
    docs = tmp_path / "performance.md"
    docs.write_text("# Performance\n\n## API events\n\nkept\n")
    monkeypatch.setattr(run, "DOCS", docs)

    run.write_docs(summary(900.0))
    first = docs.read_text()
    assert first.startswith("# Performance\n\n## API events\n\nkept\n")
    assert first.count(run.SECTION) == 1
    assert "| dashboard | 900.0 | 20.0 | 45.0 | 0.45 | 0 | — |" in first
    assert "dashboard throughput / baseline: 45% (target ≥ 40 %): **met**" in first
    assert "class report p50: no answer within the run (target ≤ 100 ms): **not met**" in first
    assert "| report | 0.0 | — | — |" in first

    run.write_docs(summary(700.0, database="PostgreSQL 15.2"))
    run.write_docs(summary(500.0))  # SQLite again: its block is replaced, PostgreSQL's stays
    text = docs.read_text()
    assert text.count("<!-- district:SQLite-1 -->") == 1
    assert "| dashboard | 500.0 |" in text and "| dashboard | 900.0 |" not in text
    assert "| dashboard | 700.0 |" in text
    assert "dashboard throughput / baseline: 25% (target ≥ 40 %): **not met**" in text
    assert text.count(run.SECTION) == 1 and "kept\n" in text
