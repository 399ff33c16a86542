"""The dashboard in Hindi in a real Chromium: Devanagari in the vendored font, no overflow on a phone.

`make screenshots` (MARS_SCREENSHOTS=1) writes docs/screenshots/dashboard-hi.png.
"""

import os

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.e2e.conftest import SCREENSHOTS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FONT_DIR = "/static/vendor/noto-sans-devanagari/files/"


@pytest.fixture
def hindi_demo():
    """The demo school, with Asha (the learner with the most to show) reading in Hindi."""
    call_command("seed_demo", verbosity=0)
    asha = get_user_model().objects.get(username="asha")
    asha.profile.preferred_language = "hi"
    asha.profile.save(update_fields=["preferred_language"])
    return asha


def fonts_loaded_from(page):
    return page.evaluate(
        "performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)"
        ".filter(p => p.endsWith('.woff2'))"
    )


def test_hindi_dashboard_screenshot(page, login, hindi_demo, tmp_path):
    login("asha", "mars-student")
    page.evaluate("document.fonts.ready")

    assert page.locator("html").get_attribute("lang") == "hi"
    assert page.get_by_role("heading", name="आपके विषय").is_visible()
    assert page.evaluate("""document.fonts.check('16px "Noto Sans Devanagari"', 'हिन्दी')""")
    body_font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert body_font.startswith('"Noto Sans Devanagari"'), body_font
    fonts = fonts_loaded_from(page)
    assert fonts and all(path.startswith(FONT_DIR) for path in fonts), fonts
    assert any("devanagari-400" in path for path in fonts), fonts

    target = SCREENSHOTS if os.environ.get("MARS_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / "dashboard-hi.png"), full_page=True)
    assert (target / "dashboard-hi.png").stat().st_size > 10_000

    page.set_viewport_size({"width": 360, "height": 740})
    page.evaluate("document.fonts.ready")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the Hindi dashboard is {width}px wide at a 360px viewport"
    page.screenshot(path=str(target / "dashboard-hi-360.png"), full_page=True)


@pytest.mark.parametrize(
    "path", ["/", "/path/", "/profile/", "/subjects/phy/", "/chapters/focal-length-of-a-convex-lens-class-12/"]
)
def test_hindi_pages_do_not_overflow_a_360px_phone(browser, live_server, hindi_demo, path):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("asha")
    page.get_by_label("Password").fill("mars-student")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")

    page.goto(path)
    page.evaluate("document.fonts.ready")

    assert page.locator("html").get_attribute("lang") == "hi"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{path} is {width}px wide at a 360px viewport"
    context.close()


def test_switcher_in_the_navigation_changes_the_language_and_the_profile(page, login, hindi_demo):
    login("asha", "mars-student")
    assert page.locator("html").get_attribute("lang") == "hi"

    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()

    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Your subjects").is_visible()
    hindi_demo.profile.refresh_from_db()
    assert hindi_demo.profile.preferred_language == "en"

    page.get_by_role("button", name="हिन्दी").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="आपके विषय").is_visible()


def test_an_english_page_draws_the_hindi_switcher_label_with_the_vendored_font(browser, live_server):
    """Regression: with the vendored family listed last, Debian's Chromium drew "हिन्दी" on English
    pages as boxes (a system font claimed the glyphs). The Devanagari-only family now comes first."""
    context = browser.new_context(base_url=live_server.url, locale="en-GB")
    page = context.new_page()
    page.goto("/accounts/login/")
    page.evaluate("document.fonts.ready")
    assert page.locator("html").get_attribute("lang") == "en"
    label = page.locator("[data-language-switcher] button[lang=hi]")
    assert label.inner_text() == "हिन्दी"
    page.wait_for_function(
        "[...document.fonts].some(f => f.family.includes('MARS Devanagari') && f.status == 'loaded')"
    )
    assert label.evaluate("b => getComputedStyle(b).fontFamily").startswith('"MARS Devanagari"')
    assert any(path.startswith(FONT_DIR) and "devanagari-400" in path for path in fonts_loaded_from(page))
    # Latin text on the same page is not drawn with it: only the Devanagari file was fetched.
    assert not any("latin" in path for path in fonts_loaded_from(page))
    context.close()
