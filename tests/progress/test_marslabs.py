"""engine.apply_marslabs_documents and marslabs_document_for: the MARS-labs progress shape."""

import pytest

from progress import engine
from progress.enums import EventKind, Status
from progress.models import LearningProgress, Progress, ProgressEvent
from tests.factories import ChapterFactory, UserFactory

pytestmark = pytest.mark.django_db


def document(user, data):
    return Progress.objects.create(user=user, progress_data=data)


def test_normalise_title_matches_marslabs_spellings():
    assert engine.normalise_title("ohms law") == engine.normalise_title("Ohm's  Law!") == "ohms law"
    assert engine.normalise_title("Properties of Acids and Bases") == "properties of acids and bases"


def test_apply_completes_interactive_and_quiz_steps_bypassing_locks(ohms_law):
    learner = UserFactory(grade=None)
    doc = document(learner, {"class": 12, "subject_progress": {
        "phy": {"completed_experiments": ["ohms law"], "completed_quizzes": ["OHM'S LAW"]}}})

    report = engine.apply_marslabs_document(document=doc)

    statuses = dict(LearningProgress.objects.filter(user=learner).values_list("step__title", "status"))
    assert statuses == {"Simulation": Status.COMPLETED, "Quiz": Status.COMPLETED}  # Theory still open: bypassed lock
    assert (report.completed, report.unmatched) == (2, [])
    row = LearningProgress.objects.get(user=learner, step__title="Quiz")
    assert row.progress_data["imported"] == "marslabs"
    assert ProgressEvent.objects.filter(user=learner, kind=EventKind.COMPLETED, data__imported="marslabs").count() == 2
    learner.profile.refresh_from_db()
    assert learner.profile.grade == 12
    doc.refresh_from_db()
    assert doc.applied_at is not None


def test_apply_keeps_unmatched_entries_with_reasons(ohms_law):
    learner = UserFactory(grade=12)
    doc = document(learner, {"class": 12, "subject_progress": {
        "phy": {"completed_experiments": ["Ohms law", "Lenz law"], "completed_quizzes": []},
        "geo": {"completed_experiments": ["Volcanoes"]}}})

    report = engine.apply_marslabs_document(document=doc)

    doc.refresh_from_db()
    experiments = {"list": "completed_experiments"}
    assert doc.unmatched == report.unmatched == [
        {"subject": "phy", **experiments, "title": "Lenz law", "reason": "no chapter with this title"},
        {"subject": "geo", **experiments, "title": "Volcanoes", "reason": "no subject with code 'geo'"},
    ]
    assert doc.progress_data["subject_progress"]["geo"] == {"completed_experiments": ["Volcanoes"]}  # verbatim


def test_apply_twice_and_union_of_documents_change_nothing_more(ohms_law):
    learner = UserFactory(grade=12)
    first = document(learner, {"subject_progress": {"physics": {"completed_experiments": ["ohms law"]}}})
    second = document(learner, {"subject_progress": {"phy": {"completed_quizzes": ["ohms law"]}}})

    engine.apply_marslabs_documents(documents=[first, second])
    again = engine.apply_marslabs_documents(documents=[first, second])

    assert LearningProgress.objects.filter(user=learner, status=Status.COMPLETED).count() == 2
    assert [r.completed for r in again] == [0, 0]
    assert sum(r.already_done for r in again) == 2
    assert ProgressEvent.objects.filter(user=learner, kind=EventKind.COMPLETED).count() == 2


def test_apply_many_documents_in_bounded_queries(ohms_law, django_assert_max_num_queries):
    docs = [
        document(UserFactory(grade=12), {"subject_progress": {"phy": {"completed_experiments": ["ohms law"]}}})
        for _ in range(30)
    ]

    # (one of them gives the 30 learners a new progress version: progress/versions.py)
    with django_assert_max_num_queries(13):
        reports = engine.apply_marslabs_documents(documents=docs)

    assert sum(r.completed for r in reports) == 30


def test_marslabs_document_for_derives_seed_shape(ohms_law):
    learner = UserFactory(grade=12)
    ChapterFactory(subject=ohms_law.subject, grade=12, title="Lenz Law")
    engine.apply_marslabs_document(document=document(
        learner, {"subject_progress": {"phy": {"completed_experiments": ["ohms law"]}}}))

    derived = engine.marslabs_document_for(learner=learner)

    assert derived == {"class": 12, "subject_progress": {
        "phy": {"completed_experiments": ["Ohm's Law"], "completed_quizzes": []}}}


def test_untrusted_document_goes_through_locks_and_criteria(ohms_law):
    learner = UserFactory(grade=12)
    doc = document(learner, {"subject_progress": {
        "phy": {"completed_experiments": ["ohms law"], "completed_quizzes": ["ohms law"]}}})

    locked = engine.apply_marslabs_document(document=doc, trusted=False)
    theory = ohms_law.steps.get(title="Theory")
    engine.open_step(learner=learner, step=theory)  # view criterion: done, the simulation unlocks
    applied = engine.apply_marslabs_document(document=doc, trusted=False)

    assert locked.completed == 0
    assert sorted(e["reason"] for e in locked.unmatched) == [
        "a quiz is passed by taking it in MARS Labs", "locked: finish 'Theory' first",
    ]
    assert applied.completed == 1
    statuses = dict(LearningProgress.objects.filter(user=learner).values_list("step__title", "status"))
    assert statuses == {"Theory": Status.COMPLETED, "Simulation": Status.COMPLETED}
    assert not ProgressEvent.objects.filter(user=learner, data__imported="marslabs").exists()
