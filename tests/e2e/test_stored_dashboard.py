"""The stored dashboard page (progress/dashboard.py ``dashboard_response``) in a real Chromium: its forms post."""

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_forms_on_a_stored_dashboard_carry_a_working_csrf_token(page, login):
    call_command("seed_demo", verbosity=0)
    login("asha", "mars-student")
    page.reload()  # drawn and stored by the first visit; these are served from the cache
    page.reload()
    assert page.get_by_role("heading", name="Welcome, Asha").is_visible()

    page.get_by_role("button", name="हिन्दी").click()  # the language switcher: a POST with the page's token
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "hi"
    assert "स्वागत है" in page.locator("h1").inner_text()

    page.get_by_role("button", name="लॉग आउट").click()  # log out: the other form of the stored page
    page.wait_for_load_state()
    assert "/accounts/login/" in page.url
