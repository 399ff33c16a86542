"""A student's whole journey in a real Chromium: dashboard, subject, a timed reading, a quiz, profile."""

import os
import re

import pytest
from django.core.management import call_command

from curriculum.enums import StepType
from tests.e2e.conftest import SCREENSHOTS
from tests.factories import ChapterFactory, QuizStepFactory, StepFactory, SubjectFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

READING_SECONDS = 4


@pytest.fixture
def school(password):
    """Physics (a 4-second reading, then a quiz) and Chemistry for class 12; one class-11 chapter."""
    physics = SubjectFactory(code="phy", name="Physics", order=1)
    chemistry = SubjectFactory(code="chem", name="Chemistry", order=2)
    ohm = ChapterFactory(subject=physics, grade=12, title="Ohm's Law", order_index=1)
    StepFactory(chapter=ohm, order_index=1, title="Theory", content="# Ohm's law\n\nV = I × R",
                required_completion_criteria={"type": "time", "value": READING_SECONDS})
    QuizStepFactory(chapter=ohm, order_index=2, title="Quiz")
    acids = ChapterFactory(subject=chemistry, grade=12, title="Acids and Bases", order_index=1)
    StepFactory(chapter=acids, order_index=1, title="Theory")
    StepFactory(chapter=acids, order_index=2, title="Indicators", step_type=StepType.VIDEO)
    junior = ChapterFactory(subject=chemistry, grade=11, title="Atoms", order_index=1)
    for n in range(1, 4):
        StepFactory(chapter=junior, order_index=n, title=f"Atoms {n}")
    return UserFactory(username="asha", first_name="Asha", last_name="Verma", grade=12)


def ring(page, subject):
    return page.locator(f'[role="progressbar"][aria-label^="{subject}"]')


def recommendations(page):
    return page.locator('[data-section="recommendations"]').inner_text()


def test_student_reads_fails_then_passes_quiz_and_dashboard_follows(page, login, school, password):
    login("asha", password)
    assert ring(page, "Physics").get_attribute("aria-valuenow") == "0"
    assert "Physics" in recommendations(page)

    page.get_by_role("link", name="Physics").click()
    page.get_by_role("link", name=re.compile("Start")).first.click()
    assert page.get_by_role("heading", name="Ohm's law").is_visible()

    # The countdown runs only while the page is visible; the heartbeat completes the step.
    assert page.locator("[data-countdown]").is_visible()
    assert page.get_by_role("button", name="Mark complete").is_disabled()
    page.locator("[data-done-block]").wait_for(state="visible", timeout=(READING_SECONDS + 10) * 1000)
    page.get_by_role("link", name=re.compile("Next step")).first.click()

    page.get_by_label("3").check()  # 2 + 2 = ? (wrong)
    page.get_by_label("volt").check()  # unit of resistance (wrong)
    page.get_by_role("button", name="Check my answers").click()
    assert "Your score: 0%" in page.locator("#quiz-result").inner_text()
    page.get_by_role("link", name="Retry").click()
    page.get_by_label("4").check()
    page.get_by_label("ohm").check()
    page.get_by_role("button", name="Check my answers").click()
    assert "Your score: 100%" in page.locator("#quiz-result").inner_text()

    page.get_by_role("link", name="Dashboard").first.click()
    assert ring(page, "Physics").get_attribute("aria-valuenow") == "100"
    assert "Chemistry" in recommendations(page)
    assert "Ohm's Law" not in recommendations(page)


def test_profile_class_change_changes_dashboard_counts(page, login, school, password):
    login("asha", password)
    chemistry_card = page.locator(".subject-card", has_text="Chemistry")
    assert "0 / 2" in chemistry_card.inner_text()

    page.get_by_role("link", name="Profile").first.click()
    page.get_by_label("Class").select_option("11")
    page.get_by_role("button", name=re.compile("Save")).click()

    page.wait_for_url("**/")
    assert "0 / 3" in page.locator(".subject-card", has_text="Chemistry").inner_text()
    assert page.locator(".subject-card", has_text="Physics").count() == 0


@pytest.mark.parametrize("path", ["/", "/subjects/phy/", "/path/", "/profile/"])
def test_pages_do_not_overflow_a_360px_phone(browser, live_server, school, password, path):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("asha")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")

    page.goto(path)

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{path} is {width}px wide at a 360px viewport"
    context.close()


def test_dashboard_screenshot(page, login, tmp_path):
    """The README's picture. `make screenshots` (MARS_SCREENSHOTS=1) writes it into docs/screenshots/."""
    call_command("seed_demo", verbosity=0)
    login("asha", "mars-student")
    target = SCREENSHOTS if os.environ.get("MARS_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)

    page.screenshot(path=str(target / "dashboard.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 740})
    page.screenshot(path=str(target / "dashboard-360.png"), full_page=True)

    assert (target / "dashboard.png").stat().st_size > 10_000
