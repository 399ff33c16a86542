"""The curriculum admin, as a teacher uses it: chapter list, steps on the chapter page, criteria and quiz
editors, positions that can swap, prerequisite loops, warnings after criteria changes, Markdown preview."""

import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from curriculum.forms import QuizFormatError, format_questions, parse_questions
from curriculum.models import Chapter, LearningStep
from progress.enums import Status
from progress.models import LearningProgress
from tests.admin import make_teacher
from tests.factories import (
    QUIZ_ACTIVITY,
    ChapterFactory,
    QuizStepFactory,
    StepFactory,
    SubjectFactory,
    UserFactory,
    make_chapter,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def teacher_client(client):
    client.force_login(make_teacher(username="tara"))
    return client


def change_url(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def field_value(bound):
    value = bound.value()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else None
    return value


def form_data(response):
    """The POST a browser would send for an admin change page as it is rendered (forms, inlines, management)."""
    data = {}
    for name, bound in ((b.html_name, b) for b in response.context["adminform"].form):
        value = field_value(bound)
        if value is not None:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for bound in formset.management_form:
            data[bound.html_name] = bound.value()
        for form in formset.forms:
            for bound in form:
                value = field_value(bound)
                if value is not None:
                    data[bound.html_name] = value
    return data


def steps_prefix(data):
    return next(key.removesuffix("-TOTAL_FORMS") for key in data if key.endswith("-TOTAL_FORMS"))


# ---------------------------------------------------------------- the chapter list


def test_chapter_list_counts_steps_and_learners_started(teacher_client):
    chapter = make_chapter(steps=3, title="Ohm", subject=SubjectFactory(code="phy", name="Physics"))
    steps = list(chapter.steps.all())
    for pupil in (UserFactory(), UserFactory()):
        LearningProgress.objects.create(user=pupil, step=steps[0], status=Status.IN_PROGRESS)
        LearningProgress.objects.create(user=pupil, step=steps[1], status=Status.COMPLETED,
                                        completed_at=steps[0].created_at)
    LearningProgress.objects.create(user=UserFactory(), step=steps[2], status=Status.NOT_STARTED)
    make_chapter(steps=0, title="Moles", subject=SubjectFactory(code="chem"), grade=11, is_active=False)
    response = teacher_client.get(reverse("admin:curriculum_chapter_changelist"))
    cl = response.context["cl"]
    row = next(c for c in cl.result_list if c.pk == chapter.pk)
    assert (row.step_total, row.learner_total) == (3, 2)
    html = response.content.decode()
    for text in ("By subject", "By class", "By active", "Import a curriculum file", "Download the curriculum"):
        assert text in html, text
    searched = teacher_client.get(reverse("admin:curriculum_chapter_changelist"), {"q": "ohm"})
    assert searched.context["cl"].result_count == 1


def test_activate_and_deactivate(teacher_client):
    chapters = [make_chapter(steps=1, is_active=False) for _ in range(2)]
    url = reverse("admin:curriculum_chapter_changelist")
    teacher_client.post(url, {"action": "activate", ACTION_CHECKBOX_NAME: [c.pk for c in chapters]})
    assert Chapter.objects.filter(is_active=True).count() == 2
    teacher_client.post(url, {"action": "deactivate", ACTION_CHECKBOX_NAME: [chapters[0].pk]})
    assert Chapter.objects.filter(is_active=False).count() == 1


def test_duplicate_chapter_copies_steps_with_a_new_title_position_and_slug(teacher_client):
    subject = SubjectFactory(code="phy")
    chapter = make_chapter(steps=0, subject=subject, title="Ohm", order_index=3, external_id="olabs:1")
    make_chapter(steps=0, subject=subject, title="Later", order_index=7)
    theory = StepFactory(chapter=chapter, order_index=1, title="Theory", content="V = IR")
    quiz = QuizStepFactory(chapter=chapter, order_index=2, title="Quiz", prerequisite_step=theory)
    url = reverse("admin:curriculum_chapter_changelist")

    teacher_client.post(url, {"action": "duplicate", ACTION_CHECKBOX_NAME: [chapter.pk]})
    teacher_client.post(url, {"action": "duplicate", ACTION_CHECKBOX_NAME: [chapter.pk]})

    copy = Chapter.objects.get(title="Ohm (copy)")
    assert (copy.order_index, copy.is_active, copy.external_id) == (8, False, None)
    assert copy.slug and copy.slug != chapter.slug
    copied = {s.title: s for s in copy.steps.all()}
    assert set(copied) == {"Theory", "Quiz"}
    assert copied["Quiz"].activity == quiz.activity
    assert copied["Quiz"].required_completion_criteria == {"type": "quiz", "min_score": 70}
    assert copied["Quiz"].prerequisite_step == copied["Theory"]  # points to the copy, not the original
    assert Chapter.objects.filter(title="Ohm (copy 2)", order_index=9).exists()
    assert chapter.steps.count() == 2  # the original is untouched


def test_chapter_positions_can_swap_in_the_list(teacher_client):
    subject = SubjectFactory(code="phy")
    first = make_chapter(steps=0, subject=subject, title="First", order_index=1)
    second = make_chapter(steps=0, subject=subject, title="Second", order_index=2)
    url = reverse("admin:curriculum_chapter_changelist")
    response = teacher_client.post(url, {
        "form-TOTAL_FORMS": 2, "form-INITIAL_FORMS": 2, "form-MIN_NUM_FORMS": 0, "form-MAX_NUM_FORMS": 1000,
        "form-0-id": first.pk, "form-0-order_index": 2, "form-1-id": second.pk, "form-1-order_index": 1,
        "_save": "Save",
    })
    assert response.status_code == 302
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.order_index, second.order_index) == (2, 1)


def test_chapter_list_refuses_two_chapters_at_one_position(teacher_client):
    subject = SubjectFactory(code="phy")
    first = make_chapter(steps=0, subject=subject, title="First", order_index=1)
    make_chapter(steps=0, subject=subject, title="Second", order_index=2)
    response = teacher_client.post(reverse("admin:curriculum_chapter_changelist"), {
        "form-TOTAL_FORMS": 1, "form-INITIAL_FORMS": 1, "form-MIN_NUM_FORMS": 0, "form-MAX_NUM_FORMS": 1000,
        "form-0-id": first.pk, "form-0-order_index": 2, "_save": "Save",
    })
    assert response.status_code == 200
    assert "Position 2 is also “Second”" in response.content.decode()
    first.refresh_from_db()
    assert first.order_index == 1


# ---------------------------------------------------------------- the chapter page


def test_build_a_chapter_with_its_steps_on_one_page(teacher_client):
    subject = SubjectFactory(code="phy", name="Physics")
    add = reverse("admin:curriculum_chapter_add")
    page = teacher_client.get(add)
    assert page.status_code == 200
    data = form_data(page)
    prefix = steps_prefix(data)
    data.update({
        "subject": subject.pk, "grade": 12, "title": "Ohm's Law", "description": "V = IR.", "order_index": "",
        "is_active": "on", f"{prefix}-TOTAL_FORMS": 3,
    })
    steps = [
        {"title": "Theory", "step_type": "reading", "content": "## V = IR", "criteria_type": "time",
         "criteria_seconds": 45},
        {"title": "Animation", "step_type": "video", "criteria_type": "view",
         "video_url": "https://example.org/ohm.mp4"},
        {"title": "Quiz", "step_type": "quiz", "criteria_type": "quiz", "criteria_min_score": 70,
         "questions": "Q: 6 V, 2 A: R =\n- 12 Ω\n* 3 Ω\nWhy: R = V / I\n\n"
                      "Q: A voltmeter goes\n* in parallel\n- in series"},
    ]
    for i, step in enumerate(steps):
        for key in ("order_index", "content", "criteria_seconds", "criteria_min_score", "questions", "video_url",
                    "simulation_url", "expected_answer", "instructions", "prerequisite_step"):
            data[f"{prefix}-{i}-{key}"] = ""
        for key, value in step.items():
            data[f"{prefix}-{i}-{key}"] = value
    response = teacher_client.post(add, data)
    assert response.status_code == 302, response.context and [
        f.errors for f in response.context["inline_admin_formsets"][0].formset.forms]

    chapter = Chapter.objects.get(title="Ohm's Law")
    assert chapter.order_index == 1 and chapter.slug == "ohms-law-class-12"
    saved = list(chapter.steps.order_by("order_index"))
    assert [(s.order_index, s.title) for s in saved] == [(1, "Theory"), (2, "Animation"), (3, "Quiz")]
    assert saved[0].required_completion_criteria == {"type": "time", "value": 45}
    assert saved[1].required_completion_criteria == {"type": "view"}
    assert saved[1].activity == {"video_url": "https://example.org/ohm.mp4"}
    assert saved[2].required_completion_criteria == {"type": "quiz", "min_score": 70}
    assert saved[2].activity == {"questions": [
        {"text": "6 V, 2 A: R =", "choices": ["12 Ω", "3 Ω"], "answer": 1, "explanation": "R = V / I"},
        {"text": "A voltmeter goes", "choices": ["in parallel", "in series"], "answer": 0},
    ]}


def test_steps_swap_positions_and_keep_their_learners(teacher_client):
    chapter = make_chapter(steps=3)
    steps = list(chapter.steps.order_by("order_index"))
    pupil = UserFactory()
    LearningProgress.objects.create(user=pupil, step=steps[0], status=Status.IN_PROGRESS)
    data = form_data(teacher_client.get(change_url(chapter)))
    prefix = steps_prefix(data)
    data[f"{prefix}-0-order_index"], data[f"{prefix}-2-order_index"] = 3, 1
    response = teacher_client.post(change_url(chapter), data)
    assert response.status_code == 302
    positions = dict(LearningStep.objects.values_list("title", "order_index"))
    assert positions == {"Step 1": 3, "Step 2": 2, "Step 3": 1}
    assert LearningProgress.objects.get(user=pupil).step_id == steps[0].pk


def test_delete_a_step_and_move_another_into_its_place(teacher_client):
    chapter = make_chapter(steps=3)
    data = form_data(teacher_client.get(change_url(chapter)))
    prefix = steps_prefix(data)
    data[f"{prefix}-1-DELETE"] = "on"
    data[f"{prefix}-2-order_index"] = 2
    assert teacher_client.post(change_url(chapter), data).status_code == 302
    assert dict(chapter.steps.values_list("title", "order_index")) == {"Step 1": 1, "Step 3": 2}


def test_two_steps_at_one_position_are_refused_with_their_names(teacher_client):
    chapter = make_chapter(steps=2)
    data = form_data(teacher_client.get(change_url(chapter)))
    data[f"{steps_prefix(data)}-1-order_index"] = 1
    response = teacher_client.post(change_url(chapter), data)
    assert response.status_code == 200
    assert "Position 1 is also given to “Step 1”" in response.content.decode()


def test_chapter_position_taken_names_the_other_chapter(teacher_client):
    subject = SubjectFactory(code="phy", name="Physics")
    make_chapter(steps=0, subject=subject, title="Ohm", order_index=1)
    mine = make_chapter(steps=0, subject=subject, title="Lens", order_index=2)
    data = form_data(teacher_client.get(change_url(mine)))
    data["order_index"] = 1
    html = teacher_client.post(change_url(mine), data).content.decode()
    assert "Position 1 in Physics class 12 is taken by “Ohm”. The next free position is 2" in html
    data["order_index"], data["title"] = 2, "Ohm"
    html = teacher_client.post(change_url(mine), data).content.decode()
    assert "There is already a chapter “Ohm” in Physics class 12." in html


def test_chapter_prerequisite_loop_is_refused_naming_it(teacher_client):
    subject = SubjectFactory(code="chem")
    moles = make_chapter(steps=0, subject=subject, title="Mole Concept", order_index=1)
    titration = make_chapter(steps=0, subject=subject, title="Titration", order_index=2, prerequisite_chapter=moles)
    data = form_data(teacher_client.get(change_url(moles)))
    data["prerequisite_chapter"] = titration.pk
    response = teacher_client.post(change_url(moles), data)
    assert response.status_code == 200
    assert "prerequisites form a loop: Mole Concept → Titration → Mole Concept" in response.content.decode()


def test_step_prerequisite_loop_across_chapters_is_refused(teacher_client):
    step_a = StepFactory(title="Theory A", chapter=ChapterFactory(title="A"), order_index=1)
    step_b = StepFactory(title="Theory B", chapter=ChapterFactory(title="B"), order_index=1, prerequisite_step=step_a)
    for url in (change_url(step_a.chapter), change_url(step_a)):  # on the chapter page and on the step's own page
        data = form_data(teacher_client.get(url))
        key = "prerequisite_step" if "prerequisite_step" in data else f"{steps_prefix(data)}-0-prerequisite_step"
        data[key] = step_b.pk
        html = teacher_client.post(url, data).content.decode()
        assert "prerequisites form a loop: Theory A → Theory B → Theory A" in html
        step_a.refresh_from_db()
        assert step_a.prerequisite_step is None


def test_a_later_step_of_the_same_chapter_cannot_be_a_prerequisite(teacher_client):
    chapter = make_chapter(steps=3)
    later = chapter.steps.get(order_index=3)
    data = form_data(teacher_client.get(change_url(chapter)))
    data[f"{steps_prefix(data)}-0-prerequisite_step"] = later.pk
    html = teacher_client.post(change_url(chapter), data).content.decode()
    assert "comes later in this chapter, so it could never be done first" in html


# ---------------------------------------------------------------- criteria and quiz editors


@pytest.mark.parametrize(("changes", "message"), [
    ({"criteria_type": "time", "criteria_seconds": ""}, "How many seconds of active time"),
    ({"criteria_type": "time", "criteria_seconds": 0}, "greater than or equal to 1"),
    ({"criteria_type": "quiz", "criteria_min_score": ""}, "What score passes"),
    ({"criteria_type": "quiz", "criteria_min_score": 150}, "less than or equal to 100"),
    ({"step_type": "quiz", "questions": ""}, "A quiz needs at least one question"),
    ({"questions": "Q: 2 + 2?\n- 3\n- 4"}, "has no correct choice: mark it with “*”"),
    ({"questions": "- 4\nQ: 2 + 2?\n* 4\n- 5"}, "Line 1: a choice before any question"),
    ({"questions": "Q: 2 + 2?\n* 4\n* four"}, "has 2 choices marked correct"),
    ({"questions": "Q: 2 + 2?\n* 4"}, "needs at least two choices"),
    ({"video_url": "ftp://x"}, "must start with http://, https:// or /"),
])
def test_step_form_explains_mistakes(teacher_client, changes, message):
    step = StepFactory()
    url = change_url(step)
    data = form_data(teacher_client.get(url))
    data.update(changes)
    response = teacher_client.post(url, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    before = step.required_completion_criteria
    step.refresh_from_db()
    assert step.required_completion_criteria == before


def test_step_form_shows_and_saves_criteria_as_fields_not_json(teacher_client):
    step = QuizStepFactory()
    url = change_url(step)
    page = teacher_client.get(url)
    form = page.context["adminform"].form
    assert form["criteria_type"].value() == "quiz" and form["criteria_min_score"].value() == 70
    assert "required_completion_criteria" not in form.fields and "activity" not in form.fields
    assert form["questions"].value().startswith("Q: 2 + 2 = ?\n- 3\n* 4")
    data = form_data(page)
    data.update({"criteria_min_score": 80})
    assert teacher_client.post(url, data).status_code == 302
    step.refresh_from_db()
    assert step.required_completion_criteria == {"type": "quiz", "min_score": 80}
    assert step.activity == QUIZ_ACTIVITY  # the quiz round-trips unchanged


def test_quiz_text_round_trips():
    questions = [
        {"text": "Line one\nline two", "choices": ["a", "b b"], "answer": 1, "explanation": "because"},
        {"text": "Next", "choices": ["x", "y", "z"], "answer": 0},
    ]
    assert parse_questions(format_questions(questions)) == questions
    assert parse_questions("") == []
    with pytest.raises(QuizFormatError) as info:
        parse_questions("hello\nQ:\n* a")
    assert len(info.value.messages) == 3  # a stray line, an empty question, only one choice


def test_criteria_change_warns_with_the_number_of_learners_working_on_the_step(teacher_client):
    step = StepFactory(required_completion_criteria={"type": "time", "value": 60})
    for _ in range(2):
        LearningProgress.objects.create(user=UserFactory(), step=step, status=Status.IN_PROGRESS,
                                        progress_data={"criteria": {"type": "time", "value": 60}})
    url = change_url(step)
    page = teacher_client.get(url)
    assert "2 learners are working on this step" in page.content.decode()
    data = form_data(page)
    data["criteria_seconds"] = 90
    response = teacher_client.post(url, data, follow=True)
    html = response.content.decode()
    assert "2 learners are working on it and are still judged by the old rule" in html
    assert reverse("admin:curriculum_learningstep_recompute") + f"?ids={step.pk}" in html


def test_no_warning_when_criteria_do_not_change_or_nobody_works_on_the_step(teacher_client):
    step = StepFactory()
    LearningProgress.objects.create(user=UserFactory(), step=step, status=Status.IN_PROGRESS)
    url = change_url(step)
    data = form_data(teacher_client.get(url))
    data["title"] = "Renamed"
    html = teacher_client.post(url, data, follow=True).content.decode()
    assert "still judged by the old rule" not in html
    fresh = StepFactory()
    data = form_data(teacher_client.get(change_url(fresh)))
    data["criteria_type"] = "manual"
    html = teacher_client.post(change_url(fresh), data, follow=True).content.decode()
    assert "still judged by the old rule" not in html


def test_chapter_page_warns_per_step_and_after_saving(teacher_client):
    chapter = make_chapter(steps=1)
    step = chapter.steps.get()
    LearningProgress.objects.create(user=UserFactory(), step=step, status=Status.IN_PROGRESS,
                                    progress_data={"criteria": {"type": "view"}})
    page = teacher_client.get(change_url(chapter))
    assert "1 learner is working on this step" in page.content.decode()
    data = form_data(page)
    data[f"{steps_prefix(data)}-0-criteria_type"] = "manual"
    html = teacher_client.post(change_url(chapter), data, follow=True).content.decode()
    assert "1 learner is working on it and is still judged by the old rule" in html


# ---------------------------------------------------------------- preview and view on site


def test_markdown_preview_uses_the_step_pages_sanitiser(teacher_client, client):
    url = reverse("admin:curriculum_markdown_preview")
    response = teacher_client.post(url, {"text": "## Hi\n\n<script>alert(1)</script>**bold** [x](javascript:alert(1))"})
    html = response.json()["html"]
    assert "<h2>Hi</h2>" in html and "<strong>bold</strong>" in html
    assert "<script" not in html and "javascript:" not in html
    assert teacher_client.get(url).status_code == 405
    client.force_login(UserFactory())
    assert client.post(url, {"text": "x"}).status_code == 302  # learners are sent to the admin login


def test_step_page_has_preview_button_and_view_on_site(teacher_client):
    step = StepFactory()
    html = teacher_client.get(change_url(step)).content.decode()
    assert 'data-markdown-preview-url="/admin/curriculum/chapter/markdown-preview/"' in html
    assert "js/markdown_preview.js" in html and "js/admin_criteria.js" in html
    inline_scripts = [tag for tag in re.findall(r"<script[^>]*>", html)
                      if "src=" not in tag and "application/json" not in tag]
    assert not inline_scripts
    view_on_site = reverse("admin:view_on_site", args=[ContentType.objects.get_for_model(LearningStep).pk, step.pk])
    assert view_on_site in html
    response = teacher_client.get(view_on_site, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0].endswith(step.get_absolute_url())


def test_subject_page_lists_its_chapters(teacher_client):
    subject = SubjectFactory(code="phy", name="Physics")
    chapter = make_chapter(steps=2, subject=subject, title="Ohm")
    ChapterFactory(subject=SubjectFactory(code="chem"), title="Moles")
    html = teacher_client.get(change_url(subject)).content.decode()
    assert change_url(chapter) in html and "Moles" not in html
    listing = teacher_client.get(reverse("admin:curriculum_subject_changelist")).content.decode()
    assert f"?subject__id__exact={subject.pk}" in listing


def test_a_step_with_learners_progress_cannot_be_deleted_from_the_chapter_page(teacher_client):
    chapter = make_chapter(steps=2)
    first = chapter.steps.get(order_index=1)
    LearningProgress.objects.create(user=UserFactory(), step=first, status=Status.COMPLETED,
                                    completed_at=first.created_at)
    data = form_data(teacher_client.get(change_url(chapter)))
    data[f"{steps_prefix(data)}-0-DELETE"] = "on"
    html = teacher_client.post(change_url(chapter), data).content.decode()
    assert "“Step 1” cannot be deleted: 1 learner has progress on it" in html
    assert chapter.steps.count() == 2 and LearningProgress.objects.count() == 1
