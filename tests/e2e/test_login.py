import pytest

from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_login_in_real_browser_shows_dashboard(page, login, password):
    UserFactory(username="asha", first_name="Asha", grade=12)

    login("asha", password)

    assert page.get_by_role("heading", level=1).first.inner_text().strip() != ""
    assert "Asha" in page.content()


def test_login_wrong_password_stays_on_login(page, password):
    UserFactory(username="asha", grade=12)

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("asha")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Log in").click()

    assert "/accounts/login/" in page.url
    assert page.locator(".alert-danger, .invalid-feedback, .errorlist").count() >= 1
