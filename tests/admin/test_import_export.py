"""Importing a curriculum file in the admin (dry run, then apply) and downloading an export."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from curriculum.models import Chapter, LearningStep, Subject
from tests.admin import make_teacher
from tests.factories import UserFactory, make_chapter

pytestmark = pytest.mark.django_db



def import_url():
    return reverse("admin:curriculum_chapter_import")


def document(title="Ohm's Law", steps=None):
    return {
        "format": "mars-labs-curriculum", "version": 1,
        "subjects": [{"code": "phy", "name": "Physics", "chapters": [{
            "title": title, "grade": 12, "order_index": 1, "description": "V = IR.",
            "steps": steps if steps is not None else [
                {"title": "Theory", "step_type": "reading", "order_index": 1,
                 "criteria": {"type": "time", "value": 30}},
                {"title": "Quiz", "step_type": "quiz", "order_index": 2, "criteria": {"type": "quiz", "min_score": 70},
                 "activity": {"questions": [{"text": "R = V/I?", "choices": ["yes", "no"], "answer": 0}]}},
            ],
        }]}],
    }


def upload(client, data, name="curriculum.json"):
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return client.post(import_url(), {"file": SimpleUploadedFile(name, raw, content_type="application/json")})


@pytest.fixture
def teacher_client(client):
    client.force_login(make_teacher())
    return client


def test_upload_shows_a_dry_run_then_apply_writes_it(teacher_client):
    preview = upload(teacher_client, document())
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "nothing has been changed yet" in html
    assert "Create chapter" in html or "Ohm" in html
    assert not Chapter.objects.exists()  # a dry run

    token = preview.context["token"]
    response = teacher_client.post(import_url(), {"apply": "1", "token": token}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:curriculum_chapter_changelist")
    assert "Imported." in response.content.decode()
    assert Chapter.objects.get().title == "Ohm's Law"
    assert LearningStep.objects.count() == 2

    again = teacher_client.post(import_url(), {"apply": "1", "token": token}, follow=True)
    assert "expired" in again.content.decode()  # one apply per preview
    assert LearningStep.objects.count() == 2


def test_a_bad_file_changes_nothing_and_says_where(teacher_client):
    bad = document(steps=[
        {"title": "Quiz", "step_type": "quiz", "order_index": 1, "criteria": {"type": "quiz", "min_score": 150},
         "activity": {"questions": [{"text": "?", "choices": ["a", "b"], "answer": 0}]}},
    ])
    html = upload(teacher_client, bad).content.decode()
    assert "nothing was changed" in html
    assert "subjects[0].chapters[0].steps[0] &#x27;Quiz&#x27;: criteria.min_score" in html
    assert "between 0 and 100, not 150" in html
    assert not Subject.objects.exists()


def test_not_json_names_the_line(teacher_client):
    broken = b'{"format": "mars-labs-curriculum",\n  "version": 1\n  "subjects": []}'
    html = upload(teacher_client, broken).content.decode()
    assert "not valid JSON" in html and "line 3" in html
    assert not Subject.objects.exists()


def test_apply_rechecks_against_the_database_and_the_client_only_sends_a_token(teacher_client):
    preview = upload(teacher_client, document())
    token = preview.context["token"]
    # Someone else creates the same chapter meanwhile: the import would now do something else.
    make_chapter(steps=1, title="Ohm's Law", subject=Subject.objects.create(code="phy", name="Physics"))
    response = teacher_client.post(import_url(), {"apply": "1", "token": token})
    assert "The curriculum changed since your preview" in response.content.decode()
    assert LearningStep.objects.count() == 1  # nothing imported yet
    # A forged token (or a forged file in the form) is not accepted.
    response = teacher_client.post(import_url(), {"apply": "1", "token": "forged", "text": "{}"}, follow=True)
    assert "expired" in response.content.decode()
    assert LearningStep.objects.count() == 1


def test_export_downloads_the_whole_curriculum(teacher_client):
    make_chapter(steps=2, title="Ohm")
    response = teacher_client.get(reverse("admin:curriculum_chapter_export"))
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["format"] == "mars-labs-curriculum"
    assert [c["title"] for s in data["subjects"] for c in s["chapters"]] == ["Ohm"]


def test_import_and_export_need_curriculum_permissions(client):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(import_url()).status_code == 403
    assert client.get(reverse("admin:curriculum_chapter_export")).status_code == 403
