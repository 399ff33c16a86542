"""Hostile Markdown renders inert in a real Chromium: no dialog opens, and no script hooks reach the DOM.

Teachers write step content in Markdown and may paste HTML; the step page
sanitises it with nh3 (progress/templatetags/mars_markdown.py), and the site's
Content-Security-Policy forbids inline script as a second layer. The learner
test runs twice: with the real CSP, and with the CSP bypassed, so that the
sanitiser alone is shown to be enough. A control alert proves the dialog
listener would have noticed. Every link in the content is clicked, every
element hovered. The admin's server-side preview is checked the same way.
"""

import contextlib
import re

import pytest
from django.urls import reverse
from playwright.sync_api import Error as PlaywrightError

from curriculum.enums import StepType
from tests.admin import make_teacher
from tests.factories import ChapterFactory, QuizStepFactory, StepFactory, SubjectFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HOSTILE = """# Hostile content

[a safe link](https://example.org/ok) and **bold** survive.

<script>alert(1)</script>
<img src=x onerror=alert(2)>
[md javascript](javascript:alert(3))
[md mixed case](JaVaScRiPt:alert(4))
[md tab](java&#x09;script:alert(5))
<a href="javascript:alert(6)">html javascript</a>
<a href=" javascript:alert(7)">html leading space</a>
<svg onload=alert(8)><circle r="5"></circle></svg>
<iframe src=javascript:alert(9)></iframe>
<iframe srcdoc="<script>alert(10)</script>"></iframe>
[md data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxMSk8L3NjcmlwdD4=)
<a href="data:text/html,<script>alert(12)</script>">html data</a>
<object data="javascript:alert(13)"></object>
<embed src="javascript:alert(14)">
<details open ontoggle=alert(15)><summary>details</summary>inside</details>
<b onmouseover=alert(16)>hover me</b>
<form action="javascript:alert(17)"><button>form button</button></form>
<math><mtext><table><mglyph><style><img src=x onerror=alert(18)></style></mglyph></table></mtext></math>
<style>@import 'javascript:alert(19)';</style>
![md image](javascript:alert(20))
<input autofocus onfocus=alert(21)>
<video><source onerror=alert(22)></video>
<body onload=alert(23)>
<meta http-equiv="refresh" content="0;url=javascript:alert(24)">
<base href="javascript:alert(25)//">
<a href="vbscript:msgbox(26)">html vbscript</a>
<a href="/" onclick="alert(27)">onclick</a>
<p style="background:url(javascript:alert(28))">styled</p>
"""
QUESTION = '<img src=x onerror=alert(30)> Which <script>alert(31)</script> is right?'
CHOICES = ["<b onmouseover=alert(32)>one</b>", "javascript:alert(33)"]

# Run in the page: every attribute of every element in the step content that could run script.
DANGEROUS_NODES = """() => {
  const bad = [];
  const scheme = /^(javascript|data|vbscript):/;
  for (const region of document.querySelectorAll('.step-content, form.quiz, [data-quiz], main')) {
    for (const el of [region, ...region.querySelectorAll('*')]) {
      const tag = el.tagName.toLowerCase();
      if (['script', 'iframe', 'object', 'embed', 'base', 'meta', 'frame'].includes(tag) && region !== el
          && el.closest('.step-content')) bad.push('<' + tag + '>');
      for (const attr of el.attributes) {
        const name = attr.name.toLowerCase();
        const value = attr.value.replace(/[\\u0000-\\u0020]/g, '').toLowerCase();
        if (name.startsWith('on')) bad.push(tag + '[' + name + ']');
        if (['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'srcdoc', 'poster'].includes(name)
            && (scheme.test(value) || name === 'srcdoc')) bad.push(tag + '[' + name + '=' + attr.value + ']');
        if (name === 'style' && value.includes('javascript:')) bad.push(tag + '[style]');
      }
    }
  }
  return bad;
}"""


@pytest.fixture
def hostile_chapter():
    chapter = ChapterFactory(subject=SubjectFactory(code="phy", name="Physics"), grade=12, title="Hostile")
    reading = StepFactory(chapter=chapter, order_index=1, title="Reading", content=HOSTILE)
    exercise = StepFactory(chapter=chapter, order_index=2, title="Exercise", step_type=StepType.EXERCISE,
                           content=HOSTILE, activity={"instructions": HOSTILE},
                           required_completion_criteria={"type": "submission"})
    quiz = QuizStepFactory(chapter=chapter, order_index=3, title="Quiz", content=HOSTILE, activity={
        "questions": [{"text": QUESTION, "choices": CHOICES, "answer": 0, "explanation": "<script>alert(34)"}]})
    return [reading, exercise, quiz]


def browse(browser, live_server, *, bypass_csp):
    """A new browser context whose page records every dialog (and dismisses it), offline but for the site."""
    context = browser.new_context(base_url=live_server.url, bypass_csp=bypass_csp)
    page = context.new_page()
    page.set_default_timeout(10_000)
    dialogs = []

    def record(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    # Nothing leaves the machine: a link to another site is simply aborted.
    page.route(re.compile(r"^https?://(?!" + re.escape(live_server.url.split("//", 1)[1]) + r")"),
               lambda route: route.abort())
    return context, page, dialogs


def log_in(page, username, password):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


# Fire at every element the events inline handlers listen for: had one survived, it would run now.
FIRE_EVENTS = """elements => elements.forEach(element =>
  ['mouseover', 'mouseenter', 'focus', 'error', 'load', 'toggle', 'animationstart', 'begin']
    .forEach(type => element.dispatchEvent(new Event(type))))"""


def hover_everything(scope):
    elements = scope.locator(".step-content *")
    for element in elements.all():
        if element.is_visible():
            element.hover(force=True, timeout=1_000)
    elements.evaluate_all(FIRE_EVENTS)


def poke_everything(page, url):
    """Hover every element and click every link and button in the content, coming back to ``url`` if one leaves."""
    hover_everything(page)
    targets = page.locator(".step-content a, .step-content button")
    for index in range(targets.count()):
        target = targets.nth(index)
        if target.is_visible():
            # A link to another site is aborted (see browse); its click may time out.
            with contextlib.suppress(PlaywrightError):
                target.click(timeout=2_000)
            page.wait_for_timeout(100)
        if not page.url.endswith(url):
            page.goto(url)
    page.wait_for_timeout(300)


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "sanitiser-alone"])
def test_hostile_markdown_on_step_pages_opens_no_dialog(browser, live_server, password, hostile_chapter, bypass_csp):
    UserFactory(username="asha", grade=12)
    context, page, dialogs = browse(browser, live_server, bypass_csp=bypass_csp)
    try:
        log_in(page, "asha", password)
        for step in hostile_chapter:
            url = step.get_absolute_url()
            page.goto(url)
            page.locator(".step-content").first.wait_for()
            assert page.locator(".step-content").first.get_by_role("link", name="a safe link").count() == 1
            assert page.evaluate(DANGEROUS_NODES) == [], step.title
            poke_everything(page, url)
            assert page.evaluate(DANGEROUS_NODES) == [], step.title
            if step.title == "Exercise":  # done, so the quiz after it opens
                page.get_by_label("Your answer").fill("done")
                page.get_by_role("button", name="Check my answer").click()
                page.wait_for_load_state()
            if step.title == "Quiz":
                # The question and its choices are escaped text, not markup.
                assert "<img src=x onerror=alert(30)>" in page.locator("main").inner_text()
                page.get_by_label(re.compile("one")).check()
                page.get_by_role("button", name="Check my answers").click()
                page.wait_for_load_state()
                assert page.evaluate(DANGEROUS_NODES) == []
        assert dialogs == []

        # The control: a dialog that does open is recorded, so the empty list above means something.
        if bypass_csp:  # an inline handler runs once the CSP is out of the way
            page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=alert(\"control\")>')")
        else:
            page.evaluate("alert('control')")
        page.wait_for_timeout(500)
        assert dialogs == ["control"]
    finally:
        context.close()


def test_admin_markdown_preview_of_hostile_content_opens_no_dialog(browser, live_server, password, hostile_chapter):
    make_teacher(username="tara")
    context, page, dialogs = browse(browser, live_server, bypass_csp=True)
    try:
        log_in(page, "tara", password)
        reading = hostile_chapter[0]
        page.goto(reverse("admin:curriculum_learningstep_change", args=[reading.pk]))
        assert "<script>alert(1)</script>" in page.locator("textarea[name=content]").input_value()  # as text
        page.get_by_role("button", name="Preview as learners see it").click()
        frame = page.frame_locator(".markdown-preview iframe")
        frame.get_by_role("link", name="a safe link").wait_for()
        preview = next(f for f in page.frames if f != page.main_frame)
        assert preview.evaluate(DANGEROUS_NODES) == []
        hover_everything(frame)
        page.wait_for_timeout(500)
        assert preview.evaluate(DANGEROUS_NODES) == []
        # The preview frame itself may run nothing: sandboxed without allow-scripts.
        assert page.locator(".markdown-preview iframe").get_attribute("sandbox") == ""
        assert dialogs == []
    finally:
        context.close()
