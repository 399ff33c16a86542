"""The curriculum format carries an optional ``language`` for subjects and chapters (docs/curriculum-format.md)."""

import pytest

from curriculum.exporter import export_curriculum
from curriculum.importer import FORMAT_NAME, CurriculumError, import_curriculum
from curriculum.models import Chapter, Subject

pytestmark = pytest.mark.django_db


def document(*, subject_language=None, chapter_language=None):
    chapter = {
        "title": "संधि", "grade": 12, "order_index": 1, "description": "स्वर संधि और व्यंजन संधि।",
        "steps": [{"title": "पाठ", "step_type": "reading", "order_index": 1, "content": "संधि के प्रकार।",
                   "criteria": {"type": "view"}}],
    }
    if chapter_language is not None:
        chapter["language"] = chapter_language
    subject = {"code": "hin", "name": "हिन्दी व्याकरण", "order": 1, "chapters": [chapter]}
    if subject_language is not None:
        subject["language"] = subject_language
    return {"format": FORMAT_NAME, "version": 1, "subjects": [subject]}


def test_import_sets_the_languages():
    import_curriculum(document(subject_language="hi", chapter_language="mr"))

    assert Subject.objects.get(code="hin").language == "hi"
    assert Chapter.objects.get(title="संधि").language == "mr"


def test_import_without_language_keeps_what_the_admin_set():
    import_curriculum(document(subject_language="hi"))
    Chapter.objects.update(language="mr")

    report = import_curriculum(document())

    assert Subject.objects.get(code="hin").language == "hi"
    assert Chapter.objects.get().language == "mr"
    assert not report.changed


def test_import_refuses_a_bad_language_code_and_changes_nothing():
    with pytest.raises(CurriculumError) as error:
        import_curriculum(document(subject_language="Hindi", chapter_language="hi"))

    assert "'Hindi' is not a language code" in str(error.value.messages)
    assert not Subject.objects.exists()


def test_export_round_trips_the_languages():
    import_curriculum(document(subject_language="hi", chapter_language="mr"))

    exported = export_curriculum()

    subject = exported["subjects"][0]
    assert subject["language"] == "hi"
    assert subject["chapters"][0]["language"] == "mr"
    assert not import_curriculum(exported).changed


def test_export_leaves_out_an_empty_language():
    import_curriculum(document())

    subject = export_curriculum()["subjects"][0]

    assert "language" not in subject and "language" not in subject["chapters"][0]
