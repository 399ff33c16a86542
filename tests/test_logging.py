"""What actually reaches the log: one JSON object per line, an event per login, lockout, override,
reset, import and API token write, and never a password, a token or a quiz answer.

The lines are captured through the settings' own JsonFormatter on the root logger at INFO (stricter
than the default WARNING), so any other logger that would leak a secret shows up here too.
"""

import csv
import io
import json
import logging
import sqlite3
import uuid
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from api.enums import TokenScope
from api.models import ApiEvent, ApiToken
from curriculum.enums import StepType
from curriculum.importer import DEMO_CURRICULUM_PATH
from mars_labs.audit import JsonFormatter
from progress import engine
from progress.models import LearningProgress
from tests.factories import ChapterFactory, QuizStepFactory, StepFactory, TeacherFactory, UserFactory

pytestmark = pytest.mark.django_db

EXERCISE_ANSWER = "my working: zebra-kilo-ohm 4711"


@pytest.fixture
def log_lines():
    """Every line the app would write, formatted as production formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    cache.clear()  # axes counters, token touches
    try:
        yield lambda: stream.getvalue().splitlines()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        cache.clear()


def parsed(lines):
    """Each line as JSON (fails the test if one is not), and only one object per line."""
    return [json.loads(line) for line in lines]


def events(lines, name):
    return [line for line in parsed(lines) if line["event"] == name]


def assert_absent(lines, *secrets):
    text = "\n".join(lines)
    for secret in secrets:
        assert secret not in text, f"{secret!r} reached the log"


def test_login_failed_login_and_lockout_are_json_lines_without_the_password(client, log_lines, password):
    UserFactory(username="asha")
    client.post(reverse("login"), {"username": "asha", "password": "not-" + password}, REMOTE_ADDR="198.51.100.4")
    client.post(reverse("login"), {"username": "asha", "password": password}, REMOTE_ADDR="198.51.100.4")
    other = Client()  # the first client is signed in now
    for n in range(5):
        other.post(reverse("login"), {"username": "asha", "password": f"guess-{n}-{password}"},
                    REMOTE_ADDR="203.0.113.7")

    lines = log_lines()
    assert [(e["user"], e["ip"]) for e in events(lines, "login")] == [("asha", "198.51.100.4")]
    assert len(events(lines, "login_failed")) == 6
    assert [(e["user"], e["ip"]) for e in events(lines, "locked_out")] == [("asha", "203.0.113.7")]
    assert all(e["logger"] == "mars_labs.audit" and e["level"] == "info" for e in events(lines, "login"))
    assert_absent(lines, password, "guess-")


def test_api_token_writes_are_logged_with_token_id_and_learner_never_the_token(client, log_lines):
    learner = UserFactory(username="asha", grade=12)
    step = StepFactory(chapter=ChapterFactory(grade=12), order_index=1, step_type=StepType.INTERACTIVE,
                       required_completion_criteria={"type": "external"})
    token, plain = ApiToken.issue(name="olabs-lab-3", scope=TokenScope.LAB)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {plain}"}
    url = reverse("api:step-events", args=[step.pk])
    body = {"id": str(uuid.uuid4()), "verb": "completed", "learner": learner.pk, "score": 90}

    first = client.post(url, body, content_type="application/json", **headers)
    again = client.post(url, body, content_type="application/json", **headers)
    read = client.get(reverse("api:learner-progress", args=[learner.pk]), **headers)  # a read: not logged
    client.post(url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {plain}x")  # 401

    assert (first.status_code, again.status_code, read.status_code) == (201, 200, 200)
    assert ApiEvent.objects.count() == 1
    lines = log_lines()
    used = events(lines, "api_token_used")
    assert [(e["key_id"], e["key_name"], e["scope"], e["learner_id"], e["method"], e["status"]) for e in used] == [
        (token.pk, "olabs-lab-3", "lab", learner.pk, "POST", 201),
        (token.pk, "olabs-lab-3", "lab", learner.pk, "POST", 200),
    ]
    assert_absent(lines, plain, plain[len(token.prefix):], token.secret_hash)


def test_quiz_and_exercise_answers_never_reach_the_log(client, log_lines):
    learner = UserFactory(username="asha", grade=12)
    client.force_login(learner)
    quiz = QuizStepFactory(chapter=ChapterFactory(grade=12), order_index=1)
    exercise = StepFactory(chapter=ChapterFactory(grade=12), order_index=1, step_type=StepType.EXERCISE,
                           required_completion_criteria={"type": "submission"}, activity={"expected_answer": "4 ohm"})
    client.get(quiz.get_absolute_url())
    client.get(exercise.get_absolute_url())

    quiz_response = client.post(reverse("progress:step-quiz", args=[quiz.pk]), {"q0": "2", "q1": "0"})
    answer_response = client.post(reverse("progress:step-answer", args=[exercise.pk]), {"answer": EXERCISE_ANSWER})
    assert (quiz_response.status_code, answer_response.status_code) == (302, 302)
    assert len(LearningProgress.objects.get(user=learner, step=quiz).progress_data["attempts"]) == 1
    teacher = TeacherFactory(username="mrs_rao")
    engine.reset(learner=learner, step=quiz, actor=teacher, reason="retake")
    engine.force_complete(learner=learner, step=exercise, actor=teacher, reason="did it on paper")

    attempts = LearningProgress.objects.get(user=learner, step=quiz).progress_data
    assert attempts == {}  # the reset kept the attempts in the RESET event only
    lines = log_lines()
    assert [(e["event"], e["actor"], e["learner"]) for e in parsed(lines)
            if e["logger"] == "mars_labs.audit" and e["event"] != "login"] == [
        ("reset", "mrs_rao", "asha"), ("override", "mrs_rao", "asha"),
    ]
    assert_absent(lines, EXERCISE_ANSWER, "zebra", '"q0"', '"answers"', '"attempts"', '"submissions"')


def legacy_db(path):
    """A MARS-labs database: four learners, four documents (Ohm's Law is in the demo curriculum)."""
    connection = sqlite3.connect(path)
    connection.executescript("""
        CREATE TABLE "User" (id INTEGER NOT NULL, first_name VARCHAR(50) NOT NULL,
            last_name VARCHAR(50) NOT NULL, age VARCHAR(4) NOT NULL, PRIMARY KEY (id));
        CREATE TABLE "Progress" (id INTEGER NOT NULL, user_id INTEGER NOT NULL,
            progress_data JSON NOT NULL, PRIMARY KEY (id));
    """)
    document = {"class": 12, "subject_progress": {"phy": {"completed_experiments": ["Ohm's Law"],
                                                          "completed_quizzes": []}}}
    with connection:
        connection.executemany('INSERT INTO "User" VALUES (?, ?, ?, ?)',
                               [(n, f"First{n}", f"Last{n}", "16") for n in range(1, 5)])
        connection.executemany('INSERT INTO "Progress" (user_id, progress_data) VALUES (?, ?)',
                               [(n, json.dumps(document)) for n in range(1, 5)])
    connection.close()
    return str(path)


def test_imports_log_what_counts_and_operator_but_no_passwords(tmp_path, log_lines):
    path = tmp_path / "learners.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["username", "first_name", "grade"])
        writer.writerows([["ravi", "Ravi", "12"], ["meera", "Meera", "11"]])
    out = StringIO()
    call_command("create_learners", str(path), stdout=out)
    passwords = [line.split()[1] for line in out.getvalue().splitlines() if line.strip().startswith(("ravi", "meera"))]
    call_command("import_curriculum", str(DEMO_CURRICULUM_PATH), stdout=StringIO())
    call_command("import_curriculum", str(DEMO_CURRICULUM_PATH), dry_run=True, stdout=StringIO())  # not logged
    call_command("import_marslabs", legacy_db(tmp_path / "mars.db"), stdout=StringIO())

    lines = log_lines()
    imports = events(lines, "import")
    assert [e["what"] for e in imports] == ["learners", "curriculum", "marslabs"]
    learners, curriculum, marslabs = imports
    assert (learners["learners_created"], learners["path"]) == (2, str(path))
    assert (curriculum["chapters_created"], curriculum["steps_created"], curriculum["format"]) == (11, 49, "native")
    assert (marslabs["learners_created"], marslabs["documents_stored"]) == (4, 4)
    assert marslabs["steps_completed"] >= 1  # the demo's Ohm's Law matches the legacy titles
    assert all("operator" in e for e in imports)
    assert len(passwords) == 2 and all(len(p) >= 12 for p in passwords)
    assert_absent(lines, *passwords)

