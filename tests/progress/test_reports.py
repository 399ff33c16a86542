"""Teacher reports (/reports/): the class × chapter matrix, needs attention, drill-down, CSV, one-click actions."""

import csv
import datetime
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from curriculum.models import LearningStep
from progress import reports
from progress.enums import EventKind, Status
from progress.models import LearningProgress, ProgressEvent
from tests.admin import make_classroom, make_superuser, make_teacher
from tests.factories import ChapterFactory, QuizStepFactory, SubjectFactory, UserFactory, make_chapter

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def done(user, steps, status=Status.COMPLETED):
    LearningProgress.objects.bulk_create([
        LearningProgress(user=user, step=s, status=status, completion_percentage=100, started_at=NOW,
                         completed_at=NOW if status == Status.COMPLETED else None)
        for s in steps
    ])


def steps_of(chapter):
    return list(chapter.steps.order_by("order_index"))


def build_class(teacher, *, learners, chapters, steps=3, name="Class 12 B"):
    """``learners`` learners × ``chapters`` chapters; learner i has done (i mod steps+1) steps of every chapter."""
    subject = SubjectFactory(code="phy", name="Physics")
    chapter_list = [make_chapter(steps=steps, subject=subject, order_index=i + 1, title=f"Chapter {i + 1}")
                    for i in range(chapters)]
    all_steps = {c.pk: steps_of(c) for c in chapter_list}
    people = [UserFactory(username=f"pupil{i:03d}", first_name=f"P{i:03d}", last_name="Learner", grade=12)
              for i in range(learners)]
    rows = []
    for i, person in enumerate(people):
        for chapter in chapter_list:
            for step in all_steps[chapter.pk][: i % (steps + 1)]:
                rows.append(LearningProgress(user=person, step=step, status=Status.COMPLETED,
                                             completion_percentage=100, started_at=NOW, completed_at=NOW))
    LearningProgress.objects.bulk_create(rows)
    classroom = make_classroom(teachers=[teacher], learners=people, name=name, grade=12)
    return classroom, people, chapter_list


@pytest.fixture
def teacher():
    return make_teacher(username="tara")


@pytest.fixture
def teacher_client(client, teacher):
    client.force_login(teacher)
    return client


# ---------------------------------------------------------------- the matrix


def test_matrix_cells_are_steps_done_over_steps_in_chapter(teacher):
    subject = SubjectFactory(code="phy")
    ohm = make_chapter(steps=4, subject=subject, order_index=1, title="Ohm")
    lens = make_chapter(steps=2, subject=subject, order_index=2, title="Lens")
    make_chapter(steps=3, subject=subject, order_index=3, title="Hidden", is_active=False)
    make_chapter(steps=3, subject=subject, order_index=1, title="Class 11", grade=11)
    asha, ravi = UserFactory(first_name="Asha", last_name="A"), UserFactory(first_name="Ravi", last_name="B")
    done(asha, steps_of(ohm)[:3])
    done(asha, steps_of(lens)[:1], status=Status.SKIPPED)  # excused counts as done
    LearningProgress.objects.create(user=ravi, step=steps_of(ohm)[0], status=Status.IN_PROGRESS, started_at=NOW)
    classroom = make_classroom(teachers=[teacher], learners=[asha, ravi], grade=12)

    matrix = reports.class_matrix(classroom=classroom)

    assert [c.title for c in matrix.chapters] == ["Ohm", "Lens"]
    by_name = {row.learner.first_name: row for row in matrix.rows}
    assert [c.percentage for c in by_name["Asha"].cells] == [75, 50]
    assert by_name["Asha"].percentage == 67  # 4 of 6 steps
    assert [c.percentage for c in by_name["Ravi"].cells] == [0, 0]  # in progress is not done
    assert [c.band for c in by_name["Asha"].cells] == ["mid", "mid"]
    assert matrix.median == 34  # median of 67 and 0, rounded


def test_matrix_sorts_by_learner_overall_and_chapter(teacher):
    classroom, people, chapters = build_class(teacher, learners=4, chapters=2)
    names = lambda m: [r.learner.username for r in m.rows]  # noqa: E731
    assert names(reports.class_matrix(classroom=classroom)) == ["pupil000", "pupil001", "pupil002", "pupil003"]
    assert names(reports.class_matrix(classroom=classroom, sort="-learner"))[0] == "pupil003"
    assert names(reports.class_matrix(classroom=classroom, sort="overall"))[0] == "pupil000"
    assert names(reports.class_matrix(classroom=classroom, sort="-overall"))[0] == "pupil003"
    by_chapter = reports.class_matrix(classroom=classroom, sort=f"-chapter:{chapters[1].slug}")
    assert by_chapter.sort == f"-chapter:{chapters[1].slug}"
    assert names(by_chapter)[0] == "pupil003"
    assert reports.class_matrix(classroom=classroom, sort="nonsense").sort == "learner"


def test_matrix_columns_hardest_first(teacher):
    subject = SubjectFactory(code="phy")
    easy = make_chapter(steps=2, subject=subject, order_index=1, title="Easy")
    hard = make_chapter(steps=2, subject=subject, order_index=2, title="Hard")
    pupil = UserFactory()
    done(pupil, steps_of(easy))
    classroom = make_classroom(teachers=[teacher], learners=[pupil])
    matrix = reports.class_matrix(classroom=classroom, column_order="hardest")
    assert [c.title for c in matrix.chapters] == ["Hard", "Easy"]
    assert [c.percentage for c in matrix.rows[0].cells] == [0, 100]
    assert [c.chapter for c in matrix.rows[0].cells] == [hard, easy]


def test_matrix_page_shows_numbers_and_labels_not_colour_alone(teacher_client, teacher):
    classroom, _people, chapters = build_class(teacher, learners=4, chapters=2)
    response = teacher_client.get(reverse("reports:matrix", args=[classroom.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "✓ </span>100%" in html
    assert "halfway" in html and "not started" in html  # the key names each band
    assert 'class="cell band-done"' in html


def parse_matrix_html(html):
    rows = {}
    for learner, body in re.findall(r'<tr data-learner="([^"]+)">(.*?)</tr>', html, re.S):
        overall = re.search(r'class="text-end overall[^"]*" data-pct="(\d+)"', body).group(1)
        cells = re.findall(r'data-chapter="[^"]+" data-pct="(\d*)"', body)
        rows[learner] = [overall, *cells]
    return rows


def parse_csv(response):
    text = b"".join(response.streaming_content if response.streaming else [response.content]).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_matrix_csv_has_the_same_numbers_as_the_page(teacher_client, teacher):
    classroom, _people, chapters = build_class(teacher, learners=6, chapters=3)
    make_chapter(steps=0, subject=chapters[0].subject, order_index=99, title="Empty")  # a "no steps" column
    page = parse_matrix_html(teacher_client.get(reverse("reports:matrix", args=[classroom.pk])).content.decode())
    response = teacher_client.get(reverse("reports:matrix-csv", args=[classroom.pk]))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = parse_csv(response)
    assert header[:5] == ["learner", "username", "overall %", "steps done", "steps total"]
    assert header[5:] == [f"phy: {c.title} (%)" for c in [*chapters]] + ["phy: Empty (%)"]
    from_csv = {row[1]: [row[2], *row[5:]] for row in rows}
    assert from_csv == page
    assert len(from_csv) == 6


def test_matrix_csv_follows_the_sort_of_the_page(teacher_client, teacher):
    classroom, _people, _chapters = build_class(teacher, learners=3, chapters=1)
    response = teacher_client.get(reverse("reports:matrix-csv", args=[classroom.pk]) + "?sort=-overall")
    assert [row[1] for row in parse_csv(response)[1:]] == ["pupil002", "pupil001", "pupil000"]


def test_csv_cells_cannot_become_spreadsheet_formulas(teacher_client, teacher):
    sly = UserFactory(username="sly", first_name="=HYPERLINK(1)", last_name="x")
    make_chapter(steps=1)
    classroom = make_classroom(teachers=[teacher], learners=[sly])
    rows = parse_csv(teacher_client.get(reverse("reports:matrix-csv", args=[classroom.pk])))
    assert rows[1][0].startswith("'=")


# ---------------------------------------------------------------- needs attention


def in_progress(user, step, *, idle_days=0, data=None):
    row = LearningProgress.objects.create(
        user=user, step=step, status=Status.IN_PROGRESS, started_at=NOW,
        progress_data={"criteria": step.required_completion_criteria, **(data or {})},
    )
    LearningProgress.objects.filter(pk=row.pk).update(updated_at=NOW - datetime.timedelta(days=idle_days))
    return row


def failed(scores):
    return {"attempts": [{"score": s, "answers": {}, "at": NOW.isoformat()} for s in scores],
            "best_score": max(scores)}


def test_needs_attention_rules(teacher):
    subject = SubjectFactory(code="phy")
    chapter = make_chapter(steps=2, subject=subject, title="Ohm")
    quiz = QuizStepFactory(chapter=chapter, order_index=3, title="Quiz")
    stalled, fresh, struggling, passed_later, behind, ahead1, ahead2 = (
        UserFactory(username=n, last_name=n) for n in
        ["stalled", "fresh", "struggling", "passedlater", "behind", "ahead1", "ahead2"]
    )
    first, second = steps_of(chapter)[:2]
    in_progress(stalled, first, idle_days=8)
    in_progress(fresh, first, idle_days=6)
    in_progress(struggling, quiz, data=failed([40, 55]))
    in_progress(fresh, quiz, data=failed([40]))  # failed once: not yet
    done(passed_later, [quiz])  # failed twice, then passed: completed, so not listed
    LearningProgress.objects.filter(user=passed_later).update(progress_data=failed([40, 50, 90]))
    extra = steps_of(make_chapter(steps=6, subject=subject, title="Long", order_index=2))
    for person in (ahead1, ahead2, stalled, fresh, struggling, passed_later):
        mine = set(LearningProgress.objects.filter(user=person).values_list("step_id", flat=True))
        done(person, [s for s in (first, second, *extra) if s.pk not in mine])
    classroom = make_classroom(
        teachers=[teacher], learners=[stalled, fresh, struggling, passed_later, behind, ahead1, ahead2]
    )

    items = reports.needs_attention(classroom=classroom, now=NOW)
    found = {(i.learner.username, i.kind) for i in items}

    assert found == {("stalled", "stalled"), ("struggling", "failed_quiz"), ("behind", "below_median")}
    stalled_item = next(i for i in items if i.kind == "stalled")
    assert stalled_item.days_idle == 8 and stalled_item.step == first
    quiz_item = next(i for i in items if i.kind == "failed_quiz")
    assert quiz_item.failed_attempts == 2 and "pass mark 70%" in quiz_item.detail
    behind_item = next(i for i in items if i.kind == "below_median")
    assert behind_item.percentage == 0 and behind_item.median > 25


def test_failed_quiz_uses_the_pass_mark_the_learner_started_with(teacher):
    quiz = QuizStepFactory(title="Quiz")  # pass mark 70 now
    pupil = UserFactory()
    in_progress(pupil, quiz, data=failed([45, 48]))
    LearningProgress.objects.filter(user=pupil).update(
        progress_data={**failed([45, 48]), "criteria": {"type": "quiz", "min_score": 40}}
    )
    classroom = make_classroom(teachers=[teacher], learners=[pupil])
    assert not [i for i in reports.needs_attention(classroom=classroom) if i.kind == "failed_quiz"]


def test_failed_quiz_shows_the_remedial_path_the_engine_proposed(teacher_client, teacher):
    from progress.enums import PathType
    from progress.models import LearningPath

    quiz = QuizStepFactory(title="Quiz")
    pupil, other = UserFactory(username="p1"), UserFactory(username="p2")
    in_progress(pupil, quiz, data=failed([10, 20]))
    in_progress(other, quiz, data=failed([10, 20]))
    path = LearningPath.objects.create(user=pupil, path_type=PathType.REMEDIAL, chapter=quiz.chapter,
                                       name="Review: Ohm", steps_sequence=[str(quiz.pk)])
    classroom = make_classroom(teachers=[teacher], learners=[pupil, other])
    items = {i.learner.username: i for i in reports.needs_attention(classroom=classroom) if i.kind == "failed_quiz"}
    assert items["p1"].remedial_path == path and items["p2"].remedial_path is None
    html = teacher_client.get(reverse("reports:attention", args=[classroom.pk])).content.decode()
    assert "Remedial path assigned:" in html and "Review: Ohm" in html
    assert "Assign remedial path" in html  # p2 has none: the button is there, disabled, with its note
    assert "is not available to teachers yet" in html


def parse_attention_html(html):
    return sorted(re.findall(r'<tr data-kind="([^"]+)" data-learner="([^"]+)">', html))


def test_attention_csv_matches_the_page(teacher_client, teacher):
    chapter = make_chapter(steps=2, title="Ohm")
    quiz = QuizStepFactory(chapter=chapter, order_index=3)
    a, b, c = UserFactory(username="a1"), UserFactory(username="b1"), UserFactory(username="c1")
    in_progress(a, steps_of(chapter)[0], idle_days=30)
    in_progress(b, quiz, data=failed([10, 20, 30]))
    done(c, steps_of(chapter))
    classroom = make_classroom(teachers=[teacher], learners=[a, b, c])
    html = teacher_client.get(reverse("reports:attention", args=[classroom.pk])).content.decode()
    page = parse_attention_html(html)
    assert page  # the page lists something
    header, *rows = parse_csv(teacher_client.get(reverse("reports:attention-csv", args=[classroom.pk])))
    assert header[:3] == ["learner", "username", "reason"]
    assert sorted((row[2], row[1]) for row in rows) == page
    stalled = next(row for row in rows if row[2] == "stalled")
    assert stalled[6] == "30" and stalled[4] == "Ohm"
    quiz_row = next(row for row in rows if row[2] == "failed_quiz")
    assert quiz_row[7] == "3"
    assert "Assign remedial path" in html and "disabled" in html  # no remedial path yet
    assert html.count("Assign remedial path</button>") == 1  # only for the failed quiz, not the stalled step


# ---------------------------------------------------------------- one-click actions


def test_reset_from_the_attention_list_needs_a_reason_and_records_the_teacher(teacher_client, teacher):
    step = make_chapter(steps=1).steps.get()
    pupil = UserFactory()
    in_progress(pupil, step, idle_days=9)
    classroom = make_classroom(teachers=[teacher], learners=[pupil])
    back = reverse("reports:attention", args=[classroom.pk])
    url = reverse("reports:step-action")

    response = teacher_client.post(url, {"learner": pupil.pk, "step": step.pk, "action": "reset", "reason": " ",
                                         "next": back}, follow=True)
    assert "Write a reason" in response.content.decode()
    assert LearningProgress.objects.get(user=pupil).status == Status.IN_PROGRESS

    response = teacher_client.post(url, {"learner": pupil.pk, "step": step.pk, "action": "reset",
                                         "reason": "Start again after the holidays", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    assert LearningProgress.objects.get(user=pupil).status == Status.NOT_STARTED
    event = ProgressEvent.objects.get(user=pupil, kind=EventKind.RESET)
    assert event.actor == teacher and event.reason == "Start again after the holidays"


def test_excuse_from_the_report_skips_the_step(teacher_client, teacher):
    step = make_chapter(steps=1).steps.get()
    pupil = UserFactory()
    make_classroom(teachers=[teacher], learners=[pupil])
    teacher_client.post(reverse("reports:step-action"),
                        {"learner": pupil.pk, "step": step.pk, "action": "excuse", "reason": "Medical note"})
    assert LearningProgress.objects.get(user=pupil).status == Status.SKIPPED
    assert ProgressEvent.objects.get(user=pupil, kind=EventKind.SKIPPED).actor == teacher


def test_actions_refuse_learners_outside_the_teachers_classes(teacher_client, teacher):
    step = make_chapter(steps=1).steps.get()
    stranger = UserFactory()
    in_progress(stranger, step)
    make_classroom(teachers=[make_teacher()], learners=[stranger])
    response = teacher_client.post(reverse("reports:step-action"),
                                   {"learner": stranger.pk, "step": step.pk, "action": "reset", "reason": "x"})
    assert response.status_code == 404
    assert LearningProgress.objects.get(user=stranger).status == Status.IN_PROGRESS


def test_actions_need_the_permission(client):
    step = make_chapter(steps=1).steps.get()
    pupil = UserFactory()
    helper = make_teacher()
    from django.contrib.auth.models import Permission
    helper.groups.clear()
    helper.user_permissions.add(Permission.objects.get(codename="view_learningprogress"))
    make_classroom(teachers=[helper], learners=[pupil])
    client.force_login(helper)
    response = client.post(reverse("reports:step-action"),
                           {"learner": pupil.pk, "step": step.pk, "action": "reset", "reason": "x"})
    assert response.status_code == 403


def test_action_next_must_stay_on_the_site(teacher_client, teacher):
    step = make_chapter(steps=1).steps.get()
    pupil = UserFactory()
    make_classroom(teachers=[teacher], learners=[pupil])
    response = teacher_client.post(reverse("reports:step-action"), {
        "learner": pupil.pk, "step": step.pk, "action": "excuse", "reason": "x", "next": "https://evil.example/",
    })
    assert response["Location"] == reverse("reports:index")


# ---------------------------------------------------------------- drill-down


def test_learner_drilldown_lists_every_step_attempts_and_timeline(teacher_client, teacher):
    from progress import engine

    chapter = make_chapter(steps=1, title="Ohm")
    quiz = QuizStepFactory(chapter=chapter, order_index=2, title="Ohm quiz")
    pupil = UserFactory(first_name="Asha", last_name="Verma", grade=12)
    make_classroom(teachers=[teacher], learners=[pupil])
    engine.open_step(learner=pupil, step=steps_of(chapter)[0])
    engine.submit_quiz(learner=pupil, step=quiz, answers={"0": 0, "1": 0})
    engine.submit_quiz(learner=pupil, step=quiz, answers={"0": 1, "1": 0})
    engine.skip_step(learner=pupil, step=quiz, actor=teacher, reason="Did it on paper")

    html = teacher_client.get(reverse("reports:learner", args=[pupil.pk])).content.decode()

    assert "Ohm quiz" in html
    assert "2: 0%, 50%" in html  # attempts and their scores
    assert "Did it on paper" in html and "by " in html  # the timeline names the teacher and reason
    assert html.count('data-timeline') == 1


# ---------------------------------------------------------------- access


def test_teacher_cannot_open_another_teachers_class_or_learner(teacher_client, teacher):
    outsider = UserFactory(username="outsider", first_name="Zed")
    other = make_classroom(teachers=[make_teacher()], learners=[outsider], name="Other class")
    make_classroom(teachers=[teacher], learners=[UserFactory()], name="Mine")
    for name in ("reports:matrix", "reports:matrix-csv", "reports:attention", "reports:attention-csv"):
        assert teacher_client.get(reverse(name, args=[other.pk])).status_code == 404
    assert teacher_client.get(reverse("reports:learner", args=[outsider.pk])).status_code == 404
    index = teacher_client.get(reverse("reports:index")).content.decode()
    assert "Mine" in index and "Other class" not in index


def test_superuser_sees_every_class(client):
    outsider = UserFactory()
    other = make_classroom(teachers=[make_teacher()], learners=[outsider])
    client.force_login(make_superuser())
    assert client.get(reverse("reports:matrix", args=[other.pk])).status_code == 200
    assert client.get(reverse("reports:learner", args=[outsider.pk])).status_code == 200


def test_reports_are_not_for_learners_or_anonymous(client):
    pupil = UserFactory()
    assert client.get(reverse("reports:index")).status_code == 302  # to the login page
    client.force_login(pupil)
    assert client.get(reverse("reports:index")).status_code == 403


# ---------------------------------------------------------------- query budget


@pytest.mark.parametrize(("learners", "chapters"), [(10, 5), (40, 30)])
def test_matrix_queries_stay_flat(teacher_client, teacher, django_assert_max_num_queries, learners, chapters):
    classroom, _people, _chapters = build_class(teacher, learners=learners, chapters=chapters, steps=3)
    assert LearningStep.objects.count() == chapters * 3
    teacher_client.get(reverse("reports:matrix", args=[classroom.pk]))  # reads the new curriculum into its cache
    # Session, user, 2 × permissions, classroom, learners, then the numbers: cells + overall (page),
    # cells (CSV, every chapter), overall + candidates (needs attention).
    with django_assert_max_num_queries(8):
        response = teacher_client.get(reverse("reports:matrix", args=[classroom.pk]))
    assert response.status_code == 200
    assert response.content.decode().count("<tr data-learner=") == learners
    with django_assert_max_num_queries(7):
        response = teacher_client.get(reverse("reports:matrix-csv", args=[classroom.pk]))
        assert len(parse_csv(response)) == learners + 1  # streamed: read inside the budget
    with django_assert_max_num_queries(8):
        assert teacher_client.get(reverse("reports:attention", args=[classroom.pk])).status_code == 200
    with django_assert_max_num_queries(8):
        response = teacher_client.get(reverse("reports:attention-csv", args=[classroom.pk]))
        parse_csv(response)


def test_drilldown_queries_do_not_grow_with_the_curriculum(teacher_client, teacher, django_assert_num_queries):
    pupil = UserFactory(grade=12)
    make_classroom(teachers=[teacher], learners=[pupil])
    subject = SubjectFactory(code="phy")
    counts = []
    for n in (2, 12):
        for i in range(n - ChapterFactory._meta.model.objects.count()):
            make_chapter(steps=3, subject=subject, title=f"More {n}-{i}", order_index=100 + n * 20 + i)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        teacher_client.get(reverse("reports:learner", args=[pupil.pk]))  # reads the changed curriculum once
        with CaptureQueriesContext(connection) as ctx:
            assert teacher_client.get(reverse("reports:learner", args=[pupil.pk])).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_mark_complete_from_the_drilldown_is_an_override_with_the_teacher(teacher_client, teacher):
    step = make_chapter(steps=1).steps.get()
    pupil = UserFactory()
    make_classroom(teachers=[teacher], learners=[pupil])
    teacher_client.post(reverse("reports:step-action"), {
        "learner": pupil.pk, "step": step.pk, "action": "complete", "reason": "Did it in the school lab",
    })
    assert LearningProgress.objects.get(user=pupil).status == Status.COMPLETED
    event = ProgressEvent.objects.get(user=pupil, kind=EventKind.OVERRIDE)
    assert (event.actor, event.reason) == (teacher, "Did it in the school lab")
