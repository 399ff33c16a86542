"""The structured audit log: one JSON line per event, and never a password, token or quiz answer."""

import json
import logging

import pytest
from django.urls import reverse

from mars_labs.audit import JsonFormatter, audit
from progress import engine
from tests.factories import QuizStepFactory, TeacherFactory, UserFactory

pytestmark = pytest.mark.django_db

SECRET = "correct-horse-battery"


@pytest.fixture
def audit_lines(caplog):
    caplog.set_level(logging.INFO, logger="mars_labs.audit")
    formatter = JsonFormatter()

    def lines():
        return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "mars_labs.audit"]

    return lines


def test_login_and_failed_login_logged_without_password(client, audit_lines, password):
    UserFactory(username="asha")
    client.post(reverse("login"), {"username": "asha", "password": "not-" + password})
    client.post(reverse("login"), {"username": "asha", "password": password})

    events = [(line["event"], line["user"]) for line in audit_lines()]
    assert events == [("login_failed", "asha"), ("login", "asha")]
    assert password not in json.dumps(audit_lines())


def test_lockout_logged(client, audit_lines):
    UserFactory(username="asha")
    for _ in range(5):
        client.post(reverse("login"), {"username": "asha", "password": "wrong"}, REMOTE_ADDR="203.0.113.7")

    locked = [line for line in audit_lines() if line["event"] == "locked_out"]
    assert locked == [{**locked[0], "user": "asha", "ip": "203.0.113.7"}]


def test_teacher_actions_logged_with_actor_and_reason_but_not_answers(audit_lines):
    learner, teacher = UserFactory(username="asha"), TeacherFactory(username="mrs_rao")
    quiz = QuizStepFactory()
    engine.submit_quiz(learner=learner, step=quiz, answers={"0": 1, "1": 0})
    engine.reset(learner=learner, step=quiz, actor=teacher, reason="retake")
    engine.force_complete(learner=learner, step=quiz, actor=teacher, reason="did it on paper")

    lines = audit_lines()
    assert [(line["event"], line["actor"], line["learner"], line["reason"]) for line in lines] == [
        ("reset", "mrs_rao", "asha", "retake"), ("override", "mrs_rao", "asha", "did it on paper"),
    ]
    assert all("answers" not in json.dumps(line) and "attempts" not in json.dumps(line) for line in lines)


def test_secret_looking_fields_are_dropped(audit_lines):
    audit("api_token_used", token="mars_abc123", password=SECRET, quiz_answers=[1, 2], name="lab-1")

    [line] = audit_lines()
    assert line["name"] == "lab-1"
    assert SECRET not in json.dumps(line) and "mars_abc123" not in json.dumps(line)
    assert "quiz_answers" not in line


def test_formatter_writes_one_json_object_per_line():
    record = logging.LogRecord("mars_labs.audit", logging.INFO, __file__, 1, "login", None, None)
    record.audit = {"user": "asha"}

    text = JsonFormatter().format(record)

    assert "\n" not in text
    assert json.loads(text)["event"] == "login" and json.loads(text)["user"] == "asha"
