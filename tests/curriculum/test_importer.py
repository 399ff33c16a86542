"""curriculum.importer: the native curriculum format, checked whole, upserted by natural key."""

import copy
import json
import re

import pytest
from django.conf import settings

from curriculum.importer import (
    DEMO_CURRICULUM_PATH,
    FORMAT_NAME,
    CurriculumError,
    import_curriculum,
    load_curriculum_file,
)
from curriculum.models import Chapter, LearningStep, Subject
from progress.models import LearningProgress
from tests.factories import ChapterFactory, LearningProgressFactory, StepFactory, SubjectFactory, UserFactory

pytestmark = pytest.mark.django_db

QUESTIONS = [
    {"text": "Unit of resistance?", "choices": ["volt", "ohm", "ampere"], "answer": 1, "explanation": "R = V/I."},
    {"text": "V = ?", "choices": ["IR", "I/R"], "answer": 0},
]


def reading(title, order_index, **extra):
    return {
        "title": title, "step_type": "reading", "order_index": order_index, "content": f"About {title}.",
        "criteria": {"type": "time", "value": 60}, **extra,
    }


def quiz(title="Quiz", order_index=3, **extra):
    return {
        "title": title, "step_type": "quiz", "order_index": order_index,
        "criteria": {"type": "quiz", "min_score": 70}, "activity": {"questions": copy.deepcopy(QUESTIONS)}, **extra,
    }


def chapter(title="Ohm's Law", order_index=1, *, steps=None, **extra):
    return {
        "title": title, "grade": 12, "order_index": order_index, "description": f"All about {title}.",
        "steps": steps if steps is not None else [reading("Theory", 1), reading("Procedure", 2), quiz()],
        **extra,
    }


def document(*chapters, code="phy", name="Physics"):
    return {
        "format": FORMAT_NAME,
        "version": 1,
        "subjects": [{"code": code, "name": name, "order": 1, "chapters": list(chapters) or [chapter()]}],
    }


def row_counts():
    return {model.__name__: model.objects.count() for model in (Subject, Chapter, LearningStep, LearningProgress)}


def snapshot():
    """Everything an import could change, to prove a failed one changed nothing."""
    return (
        sorted(Subject.objects.values_list("code", "name", "order")),
        sorted(
            Chapter.objects.values_list("title", "description", "order_index", "slug", "prerequisite_chapter",
                                        "updated_at")
        ),
        sorted(LearningStep.objects.values_list("id", "title", "order_index", "content", "updated_at")),
    )


# --- Happy path -----------------------------------------------------------------


def test_import_creates_subject_chapters_and_steps():
    doc = document(
        chapter("Electric Charge", 1, external_id="olabs:phy:charge", slug="charge"),
        chapter("Ohm's Law", 2, prerequisite="Electric Charge",
                steps=[reading("Theory", 1), reading("Practice", 2, prerequisite_step="Theory"), quiz()]),
    )

    report = import_curriculum(doc)

    assert (report.subjects.created, report.chapters.created, report.steps.created) == (1, 2, 6)
    assert report.warnings == []
    subject = Subject.objects.get(code="phy")
    assert (subject.name, subject.order) == ("Physics", 1)
    charge, ohm = Chapter.objects.order_by("order_index")
    assert (charge.slug, charge.external_id, charge.grade) == ("charge", "olabs:phy:charge", 12)
    assert ohm.slug == "ohms-law-class-12"
    assert ohm.prerequisite_chapter == charge
    assert ohm.external_id is None
    theory, practice, quiz_step = ohm.steps.order_by("order_index")
    assert practice.prerequisite_step == theory
    assert quiz_step.required_completion_criteria == {"type": "quiz", "min_score": 70}
    assert quiz_step.activity["questions"][0]["answer"] == 1
    assert "Create chapter 'Ohm's Law' in phy class 12." in report.changes


def test_import_gives_absent_optional_fields_their_defaults():
    doc = document(chapter(steps=[{"title": "Read", "step_type": "reading", "order_index": 1}]))
    doc["subjects"][0].pop("order")

    import_curriculum(doc)

    step = LearningStep.objects.get()
    assert step.required_completion_criteria == {"type": "time", "value": 60}
    assert (step.content, step.activity, step.prerequisite_step) == ("", {}, None)
    assert step.chapter.is_active is True
    assert Subject.objects.get().order == 0


def test_import_demo_curriculum_loads_every_subject_in_the_olabs_pattern():
    report = import_curriculum(load_curriculum_file(DEMO_CURRICULUM_PATH))

    assert report.counts["subjects"].created == 3
    assert set(Subject.objects.values_list("code", flat=True)) == {"phy", "chem", "math"}
    titles = set(Chapter.objects.values_list("subject__code", "title"))
    for required in [("phy", "Ohm's Law"), ("chem", "Properties of Acids and Bases"), ("chem", "Titration"),
                     ("chem", "Mole Concept"), ("math", "Pythagoras Theorem")]:
        assert required in titles
    assert Chapter.objects.get(title="Titration").prerequisite_chapter.title == "Mole Concept"
    for subject in Subject.objects.all():
        labs = [c for c in subject.chapters.all() if c.steps.count() == 5]
        assert len(labs) >= 3, subject.code
        for lab in labs:
            kinds = [(s.title, s.step_type, s.criteria_type) for s in lab.steps.order_by("order_index")]
            assert kinds == [
                ("Theory", "reading", "time"), ("Procedure", "reading", "time"), ("Animation", "video", "view"),
                ("Simulation", "interactive", "external"), ("Quiz", "quiz", "quiz"),
            ], lab.title
            quiz_step = lab.steps.get(step_type="quiz")
            assert 3 <= len(quiz_step.activity["questions"]) <= 5
            assert all(q.get("explanation") for q in quiz_step.activity["questions"])
    for step in LearningStep.objects.all():
        step.full_clean()  # the model's own validation agrees with the importer's
        # Nothing the step page would fetch from another site.
        assert "http" not in json.dumps(step.activity), step


# --- Idempotency and updates ------------------------------------------------------


def test_import_twice_creates_nothing_the_second_time():
    doc = document(chapter("Electric Charge", 1), chapter("Ohm's Law", 2, prerequisite="Electric Charge"))
    import_curriculum(doc)
    before, counts = snapshot(), row_counts()

    report = import_curriculum(doc)

    assert row_counts() == counts
    assert snapshot() == before  # not even updated_at moved
    assert report.changes == [] and not report.changed
    assert (report.subjects.unchanged, report.chapters.unchanged, report.steps.unchanged) == (1, 2, 6)
    assert report.summary() == (
        "Subjects: 0 created, 0 updated, 1 unchanged\n"
        "Chapters: 0 created, 0 updated, 2 unchanged\n"
        "Steps: 0 created, 0 updated, 6 unchanged"
    )


def test_import_demo_curriculum_twice_is_unchanged():
    data = load_curriculum_file(DEMO_CURRICULUM_PATH)
    import_curriculum(data)

    report = import_curriculum(data)

    assert report.changes == []
    assert report.steps.unchanged == LearningStep.objects.count() == 49


def test_import_updates_chapter_and_step_found_by_natural_key():
    import_curriculum(document())
    step_id = LearningStep.objects.get(title="Procedure").pk
    doc = document()
    doc["subjects"][0]["name"] = "Physics (new syllabus)"
    doc["subjects"][0]["chapters"][0]["description"] = "Current, voltage and resistance."
    doc["subjects"][0]["chapters"][0]["steps"][1]["content"] = "Connect the **voltmeter** in parallel."

    report = import_curriculum(doc)

    assert row_counts()["LearningStep"] == 3
    assert LearningStep.objects.get(pk=step_id).content == "Connect the **voltmeter** in parallel."
    assert Chapter.objects.get().description == "Current, voltage and resistance."
    assert (report.subjects.updated, report.chapters.updated, report.steps.updated) == (1, 1, 1)
    assert report.steps.unchanged == 2
    assert report.changes == [
        "Update subject phy: name.",
        "Update chapter 'Ohm's Law' in phy class 12: description.",
        "Update step 'Procedure' in chapter 'Ohm's Law': content.",
    ]


def test_import_finds_chapter_by_external_id_even_when_renamed():
    import_curriculum(document(chapter("Ohm law", external_id="olabs:1/2/3", description="V = IR.")))
    chapter_id = Chapter.objects.get().pk

    report = import_curriculum(document(chapter("Ohm's Law", external_id="olabs:1/2/3", description="V = IR.")))

    renamed = Chapter.objects.get()
    assert (renamed.pk, renamed.title) == (chapter_id, "Ohm's Law")
    assert renamed.slug == "ohm-law-class-12"  # the URL stays what it was
    assert report.changes == ["Update chapter 'Ohm's Law' in phy class 12: title."]


def test_import_gives_existing_chapter_the_files_external_id():
    existing = ChapterFactory(subject=SubjectFactory(code="phy"), title="Ohm's Law", grade=12, order_index=1)

    import_curriculum(document(chapter("Ohm's Law", external_id="olabs:1/2/3")))

    existing.refresh_from_db()
    assert existing.external_id == "olabs:1/2/3"
    assert Chapter.objects.count() == 1


def test_import_reorders_steps_keeping_their_ids_and_learners_progress():
    import_curriculum(document())
    ids = dict(LearningStep.objects.values_list("title", "pk"))
    progress = LearningProgressFactory(user=UserFactory(), step=LearningStep.objects.get(title="Theory"))
    # Theory and Procedure swap places: each wants the position the other still holds.
    doc = document(chapter(steps=[reading("Procedure", 1), reading("Theory", 2), quiz()]))

    report = import_curriculum(doc)

    assert dict(LearningStep.objects.values_list("title", "order_index")) == {
        "Procedure": 1, "Theory": 2, "Quiz": 3,
    }
    assert dict(LearningStep.objects.values_list("title", "pk")) == ids
    progress.refresh_from_db()
    assert progress.step_id == ids["Theory"]
    assert report.steps.updated == 2


def test_import_reverses_a_whole_chapter_without_constraint_errors():
    import_curriculum(document(chapter(steps=[reading(f"Step {n}", n) for n in range(1, 6)])))

    import_curriculum(document(chapter(steps=[reading(f"Step {n}", 6 - n) for n in range(1, 6)])))

    assert list(LearningStep.objects.order_by("order_index").values_list("title", flat=True)) == [
        "Step 5", "Step 4", "Step 3", "Step 2", "Step 1",
    ]


def test_import_swaps_chapters_in_a_textbook():
    import_curriculum(document(chapter("Electric Charge", 1), chapter("Ohm's Law", 2)))

    import_curriculum(document(chapter("Electric Charge", 2), chapter("Ohm's Law", 1)))

    assert dict(Chapter.objects.values_list("title", "order_index")) == {"Ohm's Law": 1, "Electric Charge": 2}


def test_import_swaps_two_chapters_titles_and_slugs_by_external_id():
    import_curriculum(document(
        chapter("A", 1, external_id="x:1", slug="a"), chapter("B", 2, external_id="x:2", slug="b"),
    ))

    # Every unique field of both chapters changes hands at once: title, slug and position.
    import_curriculum(document(
        chapter("B", 1, external_id="x:1", slug="b"), chapter("A", 2, external_id="x:2", slug="a"),
    ))

    assert set(Chapter.objects.values_list("external_id", "title", "slug", "order_index")) == {
        ("x:1", "B", "b", 1), ("x:2", "A", "a", 2),
    }


def test_import_keeps_steps_missing_from_the_file_and_moves_them_out_of_the_way():
    import_curriculum(document())
    extra = StepFactory(chapter=Chapter.objects.get(), title="Teacher's extra", order_index=4)
    # The file now puts a new step at 4, where the teacher's extra step sits.
    doc = document(chapter(steps=[reading("Theory", 1), reading("Procedure", 2), quiz(), reading("Summary", 4)]))

    report = import_curriculum(doc)

    extra.refresh_from_db()
    assert extra.order_index == 5
    assert LearningStep.objects.get(title="Summary").order_index == 4
    assert "Move step 'Teacher's extra' (not in the file) from position 4 to 5 to make room." in report.changes
    assert report.warnings == [
        "subjects[0].chapters[0] 'Ohm's Law': the step 'Teacher's extra' is in the database but not in the file; "
        "it was kept. Delete it in the admin if it is no longer wanted."
    ]


def test_import_leaves_chapters_missing_from_the_file_alone():
    other = ChapterFactory(subject=SubjectFactory(code="phy"), grade=12, title="Optics", order_index=7)

    import_curriculum(document())

    other.refresh_from_db()
    assert (other.title, other.order_index) == ("Optics", 7)


def test_import_moves_a_chapter_missing_from_the_file_only_when_its_position_is_needed():
    other = ChapterFactory(subject=SubjectFactory(code="phy"), grade=12, title="Optics", order_index=1)

    report = import_curriculum(document(chapter("Ohm's Law", 1), chapter("Electric Charge", 2)))

    other.refresh_from_db()
    assert other.order_index == 3
    assert "Move chapter 'Optics' (not in the file) from position 1 to 3 to make room." in report.changes
    assert report.chapters.updated == 1


def test_import_chapter_without_grade_is_in_the_every_class_textbook():
    import_curriculum(document(chapter(grade=None), chapter("Ohm's Law", 1)))

    assert sorted(Chapter.objects.values_list("grade", flat=True), key=str) == [12, None]
    with pytest.raises(CurriculumError) as caught:
        import_curriculum(document(chapter(grade=None, prerequisite="Atoms")))
    assert caught.value.messages == [f"{OHM}: prerequisite: there is no chapter titled 'Atoms' in phy (every class)"]


def test_import_prerequisite_may_name_a_chapter_already_in_the_database():
    charge = ChapterFactory(subject=SubjectFactory(code="phy"), grade=12, title="Electric Charge", order_index=9)

    import_curriculum(document(chapter(prerequisite="Electric Charge")))

    assert Chapter.objects.get(title="Ohm's Law").prerequisite_chapter == charge


def test_import_step_prerequisite_in_another_chapter():
    doc = document(
        chapter("Electric Charge", 1),
        chapter("Ohm's Law", 2, steps=[
            reading("Theory", 1, prerequisite_step={"chapter": "Electric Charge", "step": "Procedure"}),
        ]),
    )

    import_curriculum(doc)

    theory = LearningStep.objects.get(chapter__title="Ohm's Law", title="Theory")
    assert theory.prerequisite_step == LearningStep.objects.get(chapter__title="Electric Charge", title="Procedure")


def test_import_removes_a_prerequisite_the_file_no_longer_names():
    import_curriculum(document(chapter("Electric Charge", 1), chapter("Ohm's Law", 2, prerequisite="Electric Charge")))

    report = import_curriculum(document(chapter("Electric Charge", 1), chapter("Ohm's Law", 2)))

    assert Chapter.objects.get(title="Ohm's Law").prerequisite_chapter is None
    assert report.changes == ["Update chapter 'Ohm's Law' in phy class 12: prerequisite."]


def test_dry_run_reports_changes_and_writes_nothing():
    report = import_curriculum(document(), dry_run=True)

    assert row_counts() == {"Subject": 0, "Chapter": 0, "LearningStep": 0, "LearningProgress": 0}
    assert report.dry_run is True
    assert (report.subjects.created, report.chapters.created, report.steps.created) == (1, 1, 3)


# --- Bad input: one exact message, nothing written ------------------------------------


def edit(path, value):
    """A change to the valid document: set ``value`` at ``path`` (keys and indexes), or delete it if None."""

    def apply(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        if value is None:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return apply


CH = ("subjects", 0, "chapters", 0)
STEPS = (*CH, "steps")
THEORY = "subjects[0].chapters[0].steps[0] 'Theory'"
QUIZ = "subjects[0].chapters[0].steps[2] 'Quiz'"
OHM = "subjects[0].chapters[0] 'Ohm's Law'"

BAD_INPUTS = {
    "unknown step_type": (
        edit((*STEPS, 0, "step_type"), "lecture"),
        f"{THEORY}: step_type: unknown step type 'lecture': use one of reading, quiz, exercise, video, interactive",
    ),
    "pass mark 150": (
        edit((*STEPS, 2, "criteria"), {"type": "quiz", "min_score": 150}),
        f"{QUIZ}: criteria.min_score: the pass mark must be between 0 and 100, not 150",
    ),
    "negative time": (
        edit((*STEPS, 0, "criteria"), {"type": "time", "value": -5}),
        f"{THEORY}: criteria: Time cannot be negative: -5 seconds.",
    ),
    "unknown criteria type": (
        edit((*STEPS, 0, "criteria"), {"type": "vibes"}),
        f"{THEORY}: criteria: Unknown completion type 'vibes': use one of time, quiz, view, manual, submission, "
        "external.",
    ),
    "quiz without questions": (
        edit((*STEPS, 2, "activity"), {}),
        f"{QUIZ}: activity: A quiz step needs at least one question with a correct answer marked.",
    ),
    "quiz with an empty question list": (
        edit((*STEPS, 2, "activity"), {"questions": []}),
        f"{QUIZ}: activity.questions: a quiz needs at least one question",
    ),
    "quiz step judged by time has no questions": (
        edit((*STEPS, 2), {"title": "Quiz", "step_type": "quiz", "order_index": 3}),
        f"{QUIZ}: activity: A quiz step needs at least one question with a correct answer marked.",
    ),
    "answer index out of range": (
        edit((*STEPS, 2, "activity", "questions", 0, "answer"), 3),
        f"{QUIZ}: activity: Question 1: the answer is 3, but its 3 choices are numbered 0 to 2.",
    ),
    "duplicate order_index in a chapter": (
        edit((*STEPS, 1, "order_index"), 1),
        f"subjects[0].chapters[0].steps[1] 'Procedure': order_index 1 is also used by {THEORY}",
    ),
    "duplicate step title in a chapter": (
        edit((*STEPS, 1, "title"), "Theory"),
        f"subjects[0].chapters[0].steps[1] 'Theory': the title 'Theory' is also used by {THEORY}",
    ),
    "prerequisite names a missing chapter": (
        edit((*CH, "prerequisite"), "Atoms"),
        f"{OHM}: prerequisite: there is no chapter titled 'Atoms' in phy class 12",
    ),
    "chapter is its own prerequisite": (
        edit((*CH, "prerequisite"), "Ohm's Law"),
        f"{OHM}: prerequisite: a chapter cannot be its own prerequisite",
    ),
    "prerequisite step names a missing step": (
        edit((*STEPS, 1, "prerequisite_step"), "Warm-up"),
        "subjects[0].chapters[0].steps[1] 'Procedure': prerequisite_step: the chapter 'Ohm's Law' has no step "
        "titled 'Warm-up'",
    ),
    "prerequisite step comes later": (
        edit((*STEPS, 0, "prerequisite_step"), "Quiz"),
        f"{THEORY}: prerequisite_step: 'Quiz' comes later in the chapter, so this step could never be opened",
    ),
    "missing required field": (
        edit((*CH, "description"), None),
        f"{OHM}: is missing the required field 'description'",
    ),
    "missing step order_index": (
        edit((*STEPS, 0, "order_index"), None),
        f"{THEORY}: is missing the required field 'order_index'",
    ),
    "unknown field": (
        edit((*CH, "order"), 3),
        f"{OHM}: has an unknown field 'order' (expected one of: title, slug, grade, order_index, description, "
        "is_active, external_id, prerequisite, language, steps)",
    ),
    "grade 13": (
        edit((*CH, "grade"), 13),
        f"{OHM}: grade: must be a class from 1 to 12, or null for every class, not 13",
    ),
    "order_index as text": (
        edit((*STEPS, 0, "order_index"), "1"),
        f"{THEORY}: order_index: must be a whole number, not '1'",
    ),
    "is_active as a number": (
        edit((*CH, "is_active"), 1),
        f"{OHM}: is_active: must be true or false, not 1",
    ),
    "bad subject code": (
        edit(("subjects", 0, "code"), "Physics!"),
        "subjects[0] 'Physics!': code: 'Physics!' is not a subject code: use up to 32 lowercase letters, digits, "
        "- or _ (like phy)",
    ),
    "wrong format": (
        edit(("format",), "olabs"),
        "document: format: expected 'mars-labs-curriculum', not 'olabs'",
    ),
    "newer version": (
        edit(("version",), 2),
        "document: version: this importer reads version 1, not 2",
    ),
    "subjects not a list": (
        edit(("subjects",), {"phy": {}}),
        "document: subjects: must be a list",
    ),
    "step not an object": (
        edit((*STEPS, 0), "Theory"),
        "subjects[0].chapters[0].steps[0]: must be an object with title, step_type and order_index",
    ),
}


@pytest.mark.parametrize("change, message", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_import_refuses_bad_input_with_one_exact_message_and_writes_nothing(change, message):
    import_curriculum(document())
    before, counts = snapshot(), row_counts()
    doc = document()
    # Valid changes alongside the bad one must not be applied either.
    doc["subjects"][0]["chapters"][0]["steps"][1]["content"] = "Changed."
    doc["subjects"][0]["chapters"].append(chapter("Electric Charge", 2))
    change(doc)

    with pytest.raises(CurriculumError) as caught:
        import_curriculum(doc)

    assert caught.value.messages == [message]
    assert str(caught.value) == message
    assert row_counts() == counts
    assert snapshot() == before


def test_import_refuses_a_document_that_is_not_an_object():
    with pytest.raises(CurriculumError) as caught:
        import_curriculum([])

    assert caught.value.messages == [
        'The curriculum must be a JSON object with "format", "version" and "subjects", not list.'
    ]


def test_import_lists_every_problem_at_once():
    doc = document(chapter(steps=[reading("Theory", 1, step_type="lecture"), quiz(criteria={"type": "quiz"})]))

    with pytest.raises(CurriculumError) as caught:
        import_curriculum(doc)

    assert caught.value.messages == [
        f"{THEORY}: step_type: unknown step type 'lecture': use one of reading, quiz, exercise, video, interactive",
        "subjects[0].chapters[0].steps[1] 'Quiz': criteria: is missing the 'min_score' field",
    ]
    assert row_counts()["Subject"] == 0


def test_import_refuses_a_prerequisite_loop():
    doc = document(chapter("A", 1, prerequisite="B"), chapter("B", 2, prerequisite="A"))

    with pytest.raises(CurriculumError) as caught:
        import_curriculum(doc)

    assert caught.value.messages == [
        "subjects[0].chapters[0] 'A': prerequisite: the chapters' prerequisites go round in a loop: 'A' → 'B' → 'A'"
    ]


def test_import_refuses_duplicate_subject_codes():
    doc = document()
    doc["subjects"].append(copy.deepcopy(doc["subjects"][0]))

    with pytest.raises(CurriculumError) as caught:
        import_curriculum(doc)

    assert caught.value.messages == ["subjects[1] 'phy': subject 'phy' is already described by subjects[0] 'phy'"]


def test_import_refuses_a_slug_another_chapter_has():
    ChapterFactory(title="Old page", slug="ohms-law")

    with pytest.raises(CurriculumError) as caught:
        import_curriculum(document(chapter(slug="ohms-law")))

    assert caught.value.messages == [
        f"{OHM}: slug: 'ohms-law' is already used by the chapter {Chapter.objects.get()}"
    ]
    assert Subject.objects.filter(code="phy").count() == 0


def test_import_refuses_a_title_match_with_another_external_id():
    ChapterFactory(subject=SubjectFactory(code="phy"), grade=12, title="Ohm's Law", external_id="olabs:9")
    counts = row_counts()

    with pytest.raises(CurriculumError) as caught:
        import_curriculum(document(chapter(external_id="olabs:1")))

    assert caught.value.messages == [
        f"{OHM}: phy class 12 already has a chapter titled 'Ohm's Law' with the external_id 'olabs:9', not 'olabs:1'"
    ]
    assert row_counts() == counts


def test_import_refuses_a_rename_onto_a_title_another_chapter_has():
    import_curriculum(document(chapter("Ohms law", 1, external_id="olabs:1")))
    ChapterFactory(subject=Subject.objects.get(code="phy"), grade=12, title="Ohm's Law", order_index=5)

    with pytest.raises(CurriculumError) as caught:
        import_curriculum(document(chapter("Ohm's Law", 1, external_id="olabs:1")))

    assert caught.value.messages == [f"{OHM}: another chapter in phy class 12 is already titled 'Ohm's Law'"]


# --- Reading files ------------------------------------------------------------------


def test_load_curriculum_file_reads_json(tmp_path):
    path = tmp_path / "curriculum.json"
    path.write_text(json.dumps(document()), encoding="utf-8")

    assert load_curriculum_file(path) == document()


def test_load_curriculum_file_names_the_file_when_json_is_invalid(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "mars-labs-curriculum",\n  "version": 1\n  "subjects": []}', encoding="utf-8")
    counts = row_counts()

    with pytest.raises(CurriculumError) as caught:
        load_curriculum_file(path)

    assert caught.value.messages == [f"{path} is not valid JSON: Expecting ',' delimiter at line 3, column 3"]
    assert row_counts() == counts


def test_load_curriculum_file_names_a_missing_file(tmp_path):
    path = tmp_path / "missing.json"

    with pytest.raises(CurriculumError) as caught:
        load_curriculum_file(path)

    assert caught.value.messages == [f"Cannot read {path}: No such file or directory"]


def test_load_curriculum_file_refuses_text_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes('{"title": "Ohm’s"}'.encode("cp1252"))

    with pytest.raises(CurriculumError) as caught:
        load_curriculum_file(path)

    assert caught.value.messages[0].startswith(f"{path} is not UTF-8 text:")


# --- The documentation's example --------------------------------------------------------


def test_the_full_example_in_the_format_documentation_imports():
    docs = settings.BASE_DIR / "docs" / "curriculum-format.md"
    example = re.search(r"```json\n(.*?)\n```", docs.read_text(encoding="utf-8"), re.DOTALL).group(1)

    report = import_curriculum(json.loads(example))

    assert (report.subjects.created, report.chapters.created, report.steps.created) == (1, 2, 7)
    ohm = Chapter.objects.get(external_id="olabs:phy12:ohms-law")
    assert (ohm.slug, ohm.prerequisite_chapter.title) == ("ohms-law", "Electric Current")
    assert ohm.steps.get(title="Quiz").prerequisite_step.title == "I have read this"


def test_optional_for_intermediate_round_trips_and_is_refused_on_a_quiz():
    from curriculum.exporter import export_curriculum
    from curriculum.importer import DEMO_CURRICULUM_PATH, CurriculumError, import_curriculum, load_curriculum_file

    data = load_curriculum_file(DEMO_CURRICULUM_PATH)
    import_curriculum(data)
    exported = export_curriculum()
    flags = [s.get("optional_for_intermediate", False) for subj in exported["subjects"]
             for ch in subj["chapters"] for s in ch["steps"]]
    assert sum(flags) == 9

    quiz = data["subjects"][0]["chapters"][1]["steps"][4]
    assert quiz["step_type"] == "quiz"
    quiz["optional_for_intermediate"] = True
    with pytest.raises(CurriculumError) as error:
        import_curriculum(data)
    assert "optional_for_intermediate: only reading and video steps can be optional" in str(error.value)
