"""Learning paths in the admin: a read-only sequence with titles, a rebuild action, rules teachers can change."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from progress.enums import PathType
from progress.models import LearningPath, PathRule
from progress.paths import rebuild_main_path
from tests.admin import make_classroom, make_teacher
from tests.factories import ChapterFactory, QuizStepFactory, StepFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def school():
    tara = make_teacher(username="tara")
    mina = UserFactory(username="mina", grade=12)
    make_classroom(name="Mine", teachers=[tara], learners=[mina])
    chapter = ChapterFactory(title="Ohm's Law")
    StepFactory(chapter=chapter, order_index=1, title="Theory", optional_for_intermediate=True)
    QuizStepFactory(chapter=chapter, order_index=2, title="Quiz")
    mina.profile.background_level = "intermediate"
    mina.profile.save()
    path = rebuild_main_path(learner=mina).path
    return {"tara": tara, "mina": mina, "path": path}


def test_path_page_lists_steps_with_titles_and_left_out_reasons(client, school):
    client.force_login(school["tara"])

    page = client.get(reverse("admin:progress_learningpath_change", args=[school["path"].pk])).content.decode()

    assert "Ohm&#x27;s Law › <strong>Quiz</strong>" in page
    assert "left out: optional for intermediate learners" in page
    assert 'name="steps_sequence"' not in page  # read-only: no raw JSON to edit


def test_rebuild_action_applies_a_changed_rule(client, school):
    client.force_login(school["tara"])
    PathRule.objects.filter(background_level="intermediate").update(leave_out_optional=False)

    response = client.post(reverse("admin:progress_learningpath_changelist"), {
        "action": "rebuild", ACTION_CHECKBOX_NAME: [school["path"].pk],
    }, follow=True)

    path = LearningPath.objects.get(user=school["mina"], is_active=True)
    assert path.path_type == PathType.DEFAULT
    assert len(path.steps_sequence) == 2
    assert "1 of 1 learner&#x27;s path changed." in response.content.decode()


def test_teacher_can_change_a_path_rule_but_not_add_one(client, school):
    client.force_login(school["tara"])
    rule = PathRule.objects.get(background_level="advanced")

    response = client.post(reverse("admin:progress_pathrule_change", args=[rule.pk]), {
        "leave_out_optional": "on", "test_out": "on",
    })

    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.leave_out_optional and rule.test_out
    assert client.get(reverse("admin:progress_pathrule_add")).status_code == 403


def test_teacher_role_includes_path_rules(school):
    assert school["tara"].has_perm("progress.change_pathrule")
    assert not school["tara"].has_perm("progress.add_pathrule")
