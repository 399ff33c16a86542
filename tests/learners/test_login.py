"""Logging in and out: Django's auth views with the MARS Labs login form."""

from html.parser import HTMLParser

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.staticfiles import finders
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

WRONG_PASSWORD_MESSAGE = "Please enter a correct username and password."


class AssetCollector(HTMLParser):
    """Collects every address the page makes the browser fetch by itself."""

    def __init__(self):
        super().__init__()
        self.assets = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("href"):
            self.assets.append(attrs["href"])
        elif tag in ("script", "img", "iframe", "source", "video", "audio") and attrs.get("src"):
            self.assets.append(attrs["src"])


def assets_of(response):
    collector = AssetCollector()
    collector.feed(response.content.decode())
    return collector.assets


def test_login_page_renders_crispy_form(client):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert "registration/login.html" in [t.name for t in response.templates]
    html = response.content.decode()
    # crispy-bootstrap5 wraps each field in a div with a Bootstrap label and control.
    assert 'id="div_id_username"' in html
    assert 'id="div_id_password"' in html
    assert 'class="form-label requiredField"' in html
    assert 'autocomplete="current-password"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_login_page_loads_only_local_static_assets(client):
    assets = assets_of(client.get(reverse("login")))

    assert assets, "the page should at least load its stylesheet and script"
    for address in assets:
        assert address.startswith("/static/"), address
        assert "http:" not in address and "https:" not in address and not address.startswith("//")


def test_login_page_static_assets_exist(client):
    for address in assets_of(client.get(reverse("login"))):
        assert finders.find(address.removeprefix("/static/")), f"{address} is not in any static folder"


def test_login_right_password_redirects_home(client, learner, password):
    response = client.post(reverse("login"), {"username": learner.username, "password": password})

    assert response.status_code == 302
    assert response["Location"] == reverse("progress:home")
    assert client.session[SESSION_KEY] == str(learner.pk)


def test_login_with_next_redirects_there(client, learner, password):
    response = client.post(
        reverse("login"), {"username": learner.username, "password": password, "next": "/admin/"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_login_with_offsite_next_redirects_home(client, learner, password):
    response = client.post(
        reverse("login"),
        {"username": learner.username, "password": password, "next": "https://evil.example/steal"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("progress:home")


def test_login_wrong_password_shows_error_and_stays_anonymous(client, learner):
    response = client.post(reverse("login"), {"username": learner.username, "password": "not-the-password"})

    assert response.status_code == 200
    assert WRONG_PASSWORD_MESSAGE in response.content.decode()
    assert SESSION_KEY not in client.session
    assert response.context["user"].is_anonymous


def test_login_unknown_user_shows_same_error(client, db):
    response = client.post(reverse("login"), {"username": "nobody", "password": "whatever-it-is"})

    assert response.status_code == 200
    assert WRONG_PASSWORD_MESSAGE in response.content.decode()
    assert SESSION_KEY not in client.session


def test_login_inactive_user_refused(client, password):
    user = UserFactory(username="left-school", is_active=False)

    client.post(reverse("login"), {"username": user.username, "password": password})

    assert SESSION_KEY not in client.session


def test_login_page_redirects_signed_in_user_home(learner_client):
    response = learner_client.get(reverse("login"))

    assert response.status_code == 302
    assert response["Location"] == reverse("progress:home")


def test_home_anonymous_redirects_to_login_with_next(client, db):
    response = client.get(reverse("progress:home"))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/"


def test_logout_post_logs_out(learner_client):
    response = learner_client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert SESSION_KEY not in learner_client.session
    home = learner_client.get(reverse("progress:home"))
    assert home.status_code == 302
    assert home["Location"].startswith(reverse("login"))


def test_logout_get_refused_and_stays_logged_in(learner_client, learner):
    # A link or an <img> on another site must not be able to log a learner out.
    response = learner_client.get(reverse("logout"))

    assert response.status_code == 405
    assert learner_client.session[SESSION_KEY] == str(learner.pk)
