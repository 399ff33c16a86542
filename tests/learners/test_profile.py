"""The learner's profile page at /profile/ (learners/views.py, learners/forms.py ProfileForm)."""

import re

from django.conf import settings
from django.urls import reverse

from learners.forms import ProfileForm
from learners.models import UserProfile
from tests.factories import SubjectFactory, UserFactory, make_chapter

PROFILE = "/profile/"


def steps_count(html, code):
    card = re.search(rf'<article[^>]*data-subject="{code}".*?</article>', html, re.S).group(0)
    return re.search(r'data-count="steps">([^<]+)</dd>', card).group(1).strip()


def test_profile_url_is_profile():
    assert reverse("learners:profile") == PROFILE


def test_profile_anonymous_redirects_to_login(client, db):
    response = client.get(PROFILE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_profile_page_shows_the_learners_current_values(learner_client):
    response = learner_client.get(PROFILE)
    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'<option value="12" selected>Class 12</option>', html)
    assert re.search(r'<option value="beginner" selected>Beginner</option>', html)
    assert 'name="preferred_language"' in html
    assert "csrfmiddlewaretoken" in html


def test_profile_save_redirects_with_success_message(learner, learner_client):
    response = learner_client.post(
        PROFILE, {"grade": "11", "background_level": "advanced", "preferred_language": "hi"}, follow=True
    )
    assert response.redirect_chain == [(reverse("progress:home"), 302)]
    assert "Profile saved. Your dashboard now follows class 11." in response.content.decode()
    profile = UserProfile.objects.get(user=learner)
    assert (profile.grade, profile.background_level, profile.preferred_language) == (11, "advanced", "hi")


def test_profile_save_sets_the_interface_language(learner_client):
    response = learner_client.post(PROFILE, {"grade": "12", "background_level": "beginner",
                                             "preferred_language": "hi"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "hi"


def test_profile_grade_13_is_rejected_and_nothing_saved(learner, learner_client):
    response = learner_client.post(
        PROFILE, {"grade": "13", "background_level": "advanced", "preferred_language": "hi"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["grade"]
    assert "is-invalid" in response.content.decode()
    profile = UserProfile.objects.get(user=learner)
    assert (profile.grade, profile.background_level, profile.preferred_language) == (12, "beginner", "en")


def test_profile_form_rejects_missing_and_out_of_range_grades(db):
    for grade in ("", "0", "13", "twelve"):
        form = ProfileForm(data={"grade": grade, "background_level": "beginner", "preferred_language": "en"})
        assert not form.is_valid()
        assert "grade" in form.errors


def test_profile_form_rejects_unknown_level_and_language(db):
    form = ProfileForm(data={"grade": "5", "background_level": "wizard", "preferred_language": "xx"})
    assert not form.is_valid()
    assert set(form.errors) == {"background_level", "preferred_language"}


def test_profile_post_only_changes_the_signed_in_learner(learner, learner_client):
    other = UserFactory(username="bela", grade=7)
    learner_client.post(PROFILE, {"grade": "9", "background_level": "beginner", "preferred_language": "en",
                                  "user": other.pk})
    assert UserProfile.objects.get(user=other).grade == 7
    assert UserProfile.objects.get(user=learner).grade == 9


def test_profile_change_of_class_changes_dashboard_counts(learner, learner_client):
    physics = SubjectFactory(code="phy", name="Physics")
    make_chapter(steps=5, subject=physics, order_index=1, grade=12)
    make_chapter(steps=4, subject=physics, order_index=2, grade=12)
    make_chapter(steps=3, subject=physics, order_index=1, grade=11)
    make_chapter(steps=2, subject=physics, order_index=9, grade=None)
    make_chapter(steps=6, subject=physics, order_index=3, grade=11, is_active=False)
    assert steps_count(learner_client.get("/").content.decode(), "phy") == "0 / 11"

    learner_client.post(PROFILE, {"grade": "11", "background_level": "beginner", "preferred_language": "en"})

    # Class 11 plus the grade-less chapter; the inactive class-11 chapter never counts.
    assert steps_count(learner_client.get("/").content.decode(), "phy") == "0 / 5"
