"""Which language a page uses: the profile for a signed-in user, else the browser; the switcher changes it."""

import re

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from learners.models import UserProfile
from tests.factories import UserFactory, make_chapter

pytestmark = pytest.mark.django_db

SWITCH_URL = reverse("learners:set_language")


def hindi_learner(**kwargs):
    learner = UserFactory(grade=12, **kwargs)
    learner.profile.preferred_language = "hi"
    learner.profile.save(update_fields=["preferred_language"])
    return learner


def page_language(response):
    html = response.content.decode()
    return html.split('<html lang="', 1)[1].split('"', 1)[0]


# --- anonymous visitors: the browser decides ------------------------------------------------------


def test_login_page_follows_accept_language_hindi(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="hi-IN,hi;q=0.9,en;q=0.5")

    assert page_language(response) == "hi"
    assert "लॉग इन" in response.content.decode()
    assert response["Content-Language"] == "hi"


def test_login_page_is_english_for_an_english_browser(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.8")

    assert page_language(response) == "en"
    assert "Log in" in response.content.decode()


def test_login_page_falls_back_to_english_for_an_unsupported_language(client):
    assert page_language(client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="fr")) == "en"


# --- signed-in users: the profile decides ----------------------------------------------------------


def test_profile_language_wins_over_accept_language(client):
    client.force_login(hindi_learner())

    response = client.get(reverse("progress:home"), HTTP_ACCEPT_LANGUAGE="en")

    assert page_language(response) == "hi"
    assert "डैशबोर्ड" in response.content.decode()


def test_profile_language_wins_over_the_language_cookie(client):
    learner = UserFactory(grade=12)  # preferred_language "en"
    client.force_login(learner)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "hi"

    response = client.get(reverse("progress:home"), HTTP_ACCEPT_LANGUAGE="hi")

    assert page_language(response) == "en"


def test_switching_language_changes_the_dashboard(client):
    learner = UserFactory(grade=12)
    make_chapter(steps=2)
    client.force_login(learner)
    english = client.get(reverse("progress:home")).content.decode()

    response = client.post(SWITCH_URL, {"language": "hi", "next": reverse("progress:home")})
    hindi = client.get(reverse("progress:home")).content.decode()

    assert response.status_code == 302
    assert response["Location"] == reverse("progress:home")
    assert "Your subjects" in english and "आपके विषय" not in english
    assert "आपके विषय" in hindi and "Your subjects" not in hindi
    assert '<html lang="hi">' in hindi


def test_switcher_saves_the_choice_to_the_profile(client):
    learner = UserFactory()
    client.force_login(learner)

    client.post(SWITCH_URL, {"language": "hi"})

    assert UserProfile.objects.get(user=learner).preferred_language == "hi"


def test_switcher_choice_follows_the_learner_to_another_computer(client, django_user_model):
    learner = UserFactory()
    client.force_login(learner)
    client.post(SWITCH_URL, {"language": "hi"})

    other_computer = type(client)()
    other_computer.force_login(learner)

    assert page_language(other_computer.get(reverse("progress:home"))) == "hi"


def test_switcher_rejects_an_unknown_language_and_changes_nothing(client):
    learner = hindi_learner()
    client.force_login(learner)

    response = client.post(SWITCH_URL, {"language": "xx"})

    assert response.status_code == 400
    assert "xx" in response.content.decode() and "en, hi" in response.content.decode()
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert UserProfile.objects.get(user=learner).preferred_language == "hi"


def test_switcher_rejects_a_missing_language(client):
    assert client.post(SWITCH_URL, {}).status_code == 400


def test_switcher_refuses_get(client):
    assert client.get(SWITCH_URL, {"language": "hi"}).status_code == 405


def test_switcher_needs_the_csrf_token(db):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(SWITCH_URL, {"language": "hi"})

    assert response.status_code == 403


def test_switcher_for_an_anonymous_visitor_sets_the_cookie(client):
    response = client.post(SWITCH_URL, {"language": "hi", "next": reverse("login")})

    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "hi"
    assert page_language(client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en")) == "hi"


def test_switcher_does_not_redirect_to_another_site(client):
    response = client.post(SWITCH_URL, {"language": "hi", "next": "https://evil.example/"})

    assert response["Location"] == "/"


def test_navigation_offers_the_switcher_in_both_languages(client):
    client.force_login(UserFactory())

    html = client.get(reverse("progress:home")).content.decode()

    assert f'action="{SWITCH_URL}"' in html
    assert 'value="en" lang="en"' in html and 'value="hi" lang="hi"' in html
    assert ">हिन्दी<" in html and ">English<" in html


# --- no query for the language ------------------------------------------------------------------------


PAGES = {
    "dashboard": lambda chapter: reverse("progress:home"),
    "path": lambda chapter: reverse("progress:path"),
    "profile": lambda chapter: reverse("learners:profile"),
    "subject": lambda chapter: chapter.subject.get_absolute_url(),
    "chapter": lambda chapter: chapter.get_absolute_url(),
    "step": lambda chapter: chapter.steps.order_by("order_index").first().get_absolute_url(),
}


@pytest.mark.parametrize("chapters", [1, 8])
@pytest.mark.parametrize("page", list(PAGES))
def test_a_hindi_page_costs_the_same_queries_as_an_english_one(client, page, chapters):
    """Translation adds no query, at two curriculum sizes (the pages' own budgets live in tests/progress)."""
    first = make_chapter(steps=3)
    for _ in range(chapters - 1):
        make_chapter(steps=3, subject=first.subject)
    url = PAGES[page](first)
    counts = {}
    for language in ("en", "hi"):
        learner = UserFactory(grade=12)
        learner.profile.preferred_language = language
        learner.profile.save(update_fields=["preferred_language"])
        client.force_login(learner)
        client.get(url)  # the first visit builds the learner's path (and opens a step)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        assert page_language(response) == language
        counts[language] = len(queries)
    assert counts["hi"] == counts["en"]


def test_the_language_middleware_adds_no_query(client, settings):
    """The profile is joined to the user row, so reading preferred_language costs nothing extra."""
    make_chapter(steps=3)
    learner = hindi_learner()
    client.force_login(learner)
    client.get(reverse("progress:home"))  # first visit builds the learner's path
    middleware = "learners.middleware.ProfileLanguageMiddleware"
    all_middleware = list(settings.MIDDLEWARE)
    counts = {}
    for installed in (False, True):
        settings.MIDDLEWARE = [m for m in all_middleware if installed or m != middleware]
        client = type(client)()  # a new client loads the middleware again
        client.force_login(learner)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("progress:home"))
        counts[installed] = len(queries)
        assert page_language(response) == ("hi" if installed else "en")
        # The user row and its profile come in one statement, the session's (mars_labs/session_store.py).
        joined = [q["sql"] for q in queries if re.search(r"\Wlearners_user\W.*JOIN \W?learners_userprofile\W",
                                                            q["sql"], re.S)]
        assert len(joined) == 1, [q["sql"][:120] for q in queries]
    assert counts[True] == counts[False]


def test_an_api_token_request_never_loads_a_session_user(client):
    """A token-authenticated request is judged by its token: the middleware must not load the session user."""
    client.force_login(hindi_learner())
    with CaptureQueriesContext(connection) as queries:
        client.get("/healthz", HTTP_AUTHORIZATION="Bearer nonsense")
    assert not [q for q in queries if "learners_session" in q["sql"] or "learners_user" in q["sql"]]
