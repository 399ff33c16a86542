"""Teacher reports one subject at a time (issue #9): the class matrix and the drill-down per subject, the overall
column across all subjects, the subject picker, unknown subjects, the streamed CSV and the query budgets."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from curriculum.models import LearningStep
from progress import reports
from progress.enums import Status
from progress.models import LearningProgress
from tests.admin import make_classroom, make_teacher
from tests.factories import SubjectFactory, UserFactory, make_chapter
from tests.progress.test_reports import parse_csv, parse_matrix_html, steps_of

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def done(user, steps):
    LearningProgress.objects.bulk_create([
        LearningProgress(user=user, step=s, status=Status.COMPLETED, completion_percentage=100, started_at=NOW,
                         completed_at=NOW)
        for s in steps
    ])


@pytest.fixture
def teacher():
    return make_teacher(username="tara")


@pytest.fixture
def teacher_client(client, teacher):
    client.force_login(teacher)
    return client


@pytest.fixture
def school(teacher):
    """Physics (2 chapters of 4 steps) then Chemistry (3 chapters of 2 steps); Asha and Ravi, different progress."""
    physics = SubjectFactory(code="phy", name="Physics", order=1)
    chemistry = SubjectFactory(code="chem", name="Chemistry", order=2)
    ohm = make_chapter(steps=4, subject=physics, order_index=1, title="Ohm")
    lens = make_chapter(steps=4, subject=physics, order_index=2, title="Lens")
    acids = make_chapter(steps=2, subject=chemistry, order_index=1, title="Acids")
    bases = make_chapter(steps=2, subject=chemistry, order_index=2, title="Bases")
    salts = make_chapter(steps=2, subject=chemistry, order_index=3, title="Salts")
    make_chapter(steps=2, subject=chemistry, order_index=4, title="Retired", is_active=False)
    asha = UserFactory(username="asha", first_name="Asha", last_name="A", grade=12)
    ravi = UserFactory(username="ravi", first_name="Ravi", last_name="B", grade=12)
    done(asha, steps_of(ohm) + steps_of(lens)[:2] + steps_of(acids)[:1])  # 7 of 14 overall
    done(ravi, steps_of(acids) + steps_of(bases) + steps_of(salts))  # 6 of 14, all of chemistry
    classroom = make_classroom(teachers=[teacher], learners=[asha, ravi], grade=12, name="12 A")
    return {"classroom": classroom, "physics": physics, "chemistry": chemistry, "asha": asha, "ravi": ravi,
            "chapters": {c.title: c for c in (ohm, lens, acids, bases, salts)}}


def by_user(matrix):
    return {row.learner.username: row for row in matrix.rows}


# ---------------------------------------------------------------- the numbers


def test_one_subject_with_the_overall_across_all_subjects(school):
    matrix = reports.class_matrix(classroom=school["classroom"], subject="chem")

    assert matrix.subject == school["chemistry"]
    assert [c.title for c in matrix.chapters] == ["Acids", "Bases", "Salts"]  # not the retired one
    assert matrix.subjects == [school["physics"], school["chemistry"]]
    rows = by_user(matrix)
    assert [c.percentage for c in rows["asha"].cells] == [50, 0, 0]
    assert (rows["asha"].done, rows["asha"].total, rows["asha"].percentage) == (7, 14, 50)  # all subjects
    assert (rows["asha"].subject_done, rows["asha"].subject_total, rows["asha"].subject_percentage) == (1, 6, 17)
    assert (rows["ravi"].percentage, rows["ravi"].subject_percentage) == (43, 100)
    assert [c.average for c in matrix.columns] == [75, 50, 50]
    assert [c.done_by for c in matrix.columns] == [1, 1, 1]


def test_the_first_subject_is_the_default_and_all_chapters_are_one_call_away(school):
    first = reports.class_matrix(classroom=school["classroom"], subject=reports.FIRST_SUBJECT)
    assert first.subject == school["physics"] and [c.title for c in first.chapters] == ["Ohm", "Lens"]
    every = reports.class_matrix(classroom=school["classroom"])
    assert every.subject is None and len(every.chapters) == 5
    # The overall numbers do not depend on which chapters are shown.
    assert {u: (r.done, r.percentage) for u, r in by_user(first).items()} == {
        u: (r.done, r.percentage) for u, r in by_user(every).items()
    } == {"asha": (7, 50), "ravi": (6, 43)}


def test_unknown_subject_raises_with_the_subjects_there_are(school):
    with pytest.raises(reports.UnknownSubject) as problem:
        reports.class_matrix(classroom=school["classroom"], subject="bio")
    assert problem.value.code == "bio"
    assert problem.value.subjects == [school["physics"], school["chemistry"]]


def test_sort_by_the_subject_column(school):
    matrix = reports.class_matrix(classroom=school["classroom"], subject="chem", sort="-subject")
    assert matrix.sort == "-subject" and [r.learner.username for r in matrix.rows] == ["ravi", "asha"]
    matrix = reports.class_matrix(classroom=school["classroom"], subject="chem", sort="-overall")
    assert [r.learner.username for r in matrix.rows] == ["asha", "ravi"]


def test_needs_attention_compares_overall_percentages(school):
    overview = reports.class_overview(classroom=school["classroom"])
    assert overview.chapters == [] and {u: r.percentage for u, r in by_user(overview).items()} == {
        "asha": 50, "ravi": 43,
    }
    assert overview.median == reports.class_matrix(classroom=school["classroom"]).median == 46


# ---------------------------------------------------------------- the page


def test_matrix_page_shows_the_first_subject_with_a_picker(teacher_client, school):
    response = teacher_client.get(reverse("reports:matrix", args=[school["classroom"].pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert re.findall(r'<th scope="col" class="chapter-col" data-chapter="([^"]+)"', html) == [
        school["chapters"]["Ohm"].slug, school["chapters"]["Lens"].slug,
    ]
    picker = html[html.index('class="subject-picker'):html.index("</nav>", html.index('class="subject-picker'))]
    assert "?subject=phy" in picker and "?subject=chem" in picker
    assert re.search(r'class="nav-link active" aria-current="page" href="\?subject=phy"', picker)
    # Learner, overall and subject columns, then one cell per chapter of physics.
    assert parse_matrix_html(html) == {"asha": ["50", "100", "50"], "ravi": ["43", "0", "0"]}
    assert re.search(r'data-learner="asha">.*?class="text-end subject-total cell band-mid" data-pct="75"', html, re.S)


def test_matrix_page_for_another_subject_keeps_it_in_every_link(teacher_client, school):
    url = reverse("reports:matrix", args=[school["classroom"].pk])
    html = teacher_client.get(url + "?subject=chem&sort=-subject").content.decode()
    assert parse_matrix_html(html) == {"ravi": ["43", "100", "100", "100"], "asha": ["50", "50", "0", "0"]}
    sort_links = re.findall(r'<a href="\?([^"]*sort=[^"]*)"', html)
    assert sort_links and all(link.startswith("subject=chem&amp;") for link in sort_links)
    assert f'{reverse("reports:learner", args=[school["ravi"].pk])}?subject=chem' in html


def test_unknown_subject_is_a_404_that_lists_the_subjects(teacher_client, school):
    response = teacher_client.get(reverse("reports:matrix", args=[school["classroom"].pk]) + "?subject=bio")
    html = response.content.decode()
    assert response.status_code == 404
    assert "This class has no subject “bio”" in html
    assert "?subject=phy" in html and "?subject=chem" in html
    assert "data-matrix" not in html
    csv_url = reverse("reports:matrix-csv", args=[school["classroom"].pk])
    assert teacher_client.get(csv_url + "?subject=bio").status_code == 404


def test_a_subject_code_is_escaped_in_the_message(teacher_client, school):
    url = reverse("reports:matrix", args=[school["classroom"].pk])
    html = teacher_client.get(url, {"subject": "<script>x</script>"}).content.decode()
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html


def test_every_cell_names_its_band_and_steps(teacher_client, school):
    html = teacher_client.get(reverse("reports:matrix", args=[school["classroom"].pk])).content.decode()
    ohm = school["chapters"]["Ohm"].slug
    assert (f'<td class="cell band-done" data-chapter="{ohm}" data-pct="100" title="4 of 4 steps">'
            '<span aria-hidden="true">✓ </span>100%<span class="visually-hidden"> (done, 4 of 4 steps)</span></td>'
            ) in html
    assert (f'<td class="cell band-none" data-chapter="{ohm}" data-pct="0" title="0 of 4 steps">'
            '0%<span class="visually-hidden"> (not started, 0 of 4 steps)</span></td>') in html


def test_a_chapter_without_steps_shows_a_dash(teacher_client, school):
    empty = make_chapter(steps=0, subject=school["physics"], order_index=3, title="Empty")
    html = teacher_client.get(reverse("reports:matrix", args=[school["classroom"].pk])).content.decode()
    assert f'<td class="cell band-empty" data-chapter="{empty.slug}" data-pct="" title="0 of 0 steps">—</td>' in html


# ---------------------------------------------------------------- CSV


def test_csv_streams_every_chapter_or_one_subject(teacher_client, school):
    url = reverse("reports:matrix-csv", args=[school["classroom"].pk])
    response = teacher_client.get(url)
    assert response.streaming
    header, *rows = parse_csv(response)
    assert header[5:] == ["phy: Ohm (%)", "phy: Lens (%)", "chem: Acids (%)", "chem: Bases (%)", "chem: Salts (%)"]
    assert {row[1]: row[2:] for row in rows} == {
        "asha": ["50", "7", "14", "100", "50", "50", "0", "0"],
        "ravi": ["43", "6", "14", "0", "0", "100", "100", "100"],
    }
    response = teacher_client.get(url + "?subject=chem")
    assert "progress-chem-" in response["Content-Disposition"]
    header, *rows = parse_csv(response)
    assert header[5:] == ["chem: Acids (%)", "chem: Bases (%)", "chem: Salts (%)"]
    page = parse_matrix_html(teacher_client.get(
        reverse("reports:matrix", args=[school["classroom"].pk]) + "?subject=chem").content.decode())
    assert {row[1]: [row[2], *row[5:]] for row in rows} == page


# ---------------------------------------------------------------- drill-down


def test_drilldown_shows_one_subject_and_every_subjects_percentage(teacher_client, school):
    url = reverse("reports:learner", args=[school["asha"].pk])
    html = teacher_client.get(url).content.decode()
    assert "50% of the curriculum done overall." in html
    picker = html[html.index('class="subject-picker'):html.index("</nav>", html.index('class="subject-picker'))]
    assert re.findall(r'<span class="pct">(\d+)%</span>', picker) == ["75", "17"]  # physics, chemistry
    assert 'id="chapter-' + school["chapters"]["Ohm"].slug + '"' in html
    assert "Acids" not in html.split('class="subject-picker')[1].split("</nav>")[1]  # chemistry is not listed
    # Lens is half done: open; Ohm is finished: closed.
    assert re.search(r'<details class="card mb-2 chapter" id="chapter-' + school["chapters"]["Lens"].slug
                     + '" open>', html)
    assert re.search(r'<details class="card mb-2 chapter" id="chapter-' + school["chapters"]["Ohm"].slug + '">', html)

    html = teacher_client.get(url + "?subject=chem").content.decode()
    body = html.split("</nav>", 2)[-1]
    assert "Acids" in body and 'id="chapter-' + school["chapters"]["Ohm"].slug not in body
    assert "1 of 3 chapters finished" not in body and "0 of 3 chapters finished, 17% of the steps" in body


def test_drilldown_change_forms_name_their_own_step(teacher_client, school):
    url = reverse("reports:learner", args=[school["asha"].pk])
    html = teacher_client.get(url).content.decode()
    steps = steps_of(school["chapters"]["Ohm"]) + steps_of(school["chapters"]["Lens"])
    forms = re.findall(r'<input type="hidden" name="step" value="([^"]+)">', html)
    assert forms == [str(s.pk) for s in steps]
    for step in steps:
        assert f'id="reason-{school["asha"].pk}-{step.pk}"' in html
        assert f"Reason for changing “{step.title}”" in html
    assert "step-title-placeholder" not in html and "step-pk-placeholder" not in html
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]*)"', html)
    assert len(tokens) >= len(steps) and all(tokens)


def test_drilldown_unknown_subject_is_a_404(teacher_client, school):
    response = teacher_client.get(reverse("reports:learner", args=[school["asha"].pk]) + "?subject=bio")
    assert response.status_code == 404
    assert "has no subject “bio”" in response.content.decode()


def test_a_teacher_cannot_reach_another_class_by_subject(teacher_client, school):
    stranger = UserFactory(grade=12)
    other = make_classroom(teachers=[make_teacher()], learners=[stranger], grade=12)
    for name in ("reports:matrix", "reports:matrix-csv"):
        assert teacher_client.get(reverse(name, args=[other.pk]) + "?subject=phy").status_code == 404
    assert teacher_client.get(reverse("reports:learner", args=[stranger.pk]) + "?subject=phy").status_code == 404


# ---------------------------------------------------------------- query budgets at two sizes


def build(teacher, *, learners, subjects, chapters):
    codes = []
    for s in range(subjects):
        subject = SubjectFactory(code=f"s{s}", order=s)
        codes.append(subject.code)
        for c in range(chapters):
            make_chapter(steps=3, subject=subject, order_index=c + 1, title=f"S{s} C{c}")
    people = [UserFactory(username=f"p{i:03d}", grade=12) for i in range(learners)]
    every = list(LearningStep.objects.order_by("chapter__subject__order", "chapter__order_index", "order_index"))
    for i, person in enumerate(people):
        done(person, every[: (i * 7) % len(every)])
    return make_classroom(teachers=[teacher], learners=people, grade=12), people, codes


@pytest.mark.parametrize(("learners", "subjects", "chapters"), [(5, 2, 3), (40, 4, 12)])
def test_subject_pages_keep_their_query_budget(teacher_client, teacher, django_assert_max_num_queries,
                                               learners, subjects, chapters):
    classroom, people, codes = build(teacher, learners=learners, subjects=subjects, chapters=chapters)
    matrix_url = reverse("reports:matrix", args=[classroom.pk])
    teacher_client.get(matrix_url)  # the curriculum is read into its cache once
    # session, user, 2 × permissions, classroom, learners, cells, overall
    with django_assert_max_num_queries(8):
        response = teacher_client.get(matrix_url + f"?subject={codes[-1]}")
    assert response.content.decode().count("<tr data-learner=") == learners
    for query in ("", f"?subject={codes[0]}"):
        with django_assert_max_num_queries(8):
            response = teacher_client.get(reverse("reports:matrix-csv", args=[classroom.pk]) + query)
            rows = parse_csv(response)  # the streamed body is read inside the budget
        assert len(rows) == learners + 1
    with django_assert_max_num_queries(10):
        assert teacher_client.get(
            reverse("reports:learner", args=[people[-1].pk]) + f"?subject={codes[-1]}").status_code == 200
