"""Every page of the demo, rendered in Hindi, has no English interface words left.

Curriculum content stays in the language it was written in (English in the demo),
so the scan leaves out elements marked with another ``lang`` (the templates mark
content regions: correct HTML for screen readers too) and any text that is
curriculum or a person's name in the database. What remains is interface text,
and none of it may be one of the English words below.
"""

import contextlib
import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse

from curriculum.enums import StepType
from curriculum.models import Chapter, LearningStep, Subject
from learners.models import Classroom
from progress import engine
from tests.factories import ChapterFactory, StepFactory

pytestmark = pytest.mark.django_db

# English interface words a Hindi page must not show (matched as whole words, any case).
ENGLISH_UI_WORDS = (
    "Dashboard", "Continue", "Locked", "Completed", "Profile", "Log out", "Log in", "Next", "Previous", "Start",
    "Submit", "minutes", "min", "Progress", "Subject", "Subjects", "Chapter", "Chapters", "Step", "Steps",
    "Recommended", "Welcome", "Class", "Overall", "Level", "Your", "Save", "Back", "Done", "Skip", "Reset",
    "Excuse", "Learner", "Learners", "Quiz", "Score", "Answer", "Reports", "Password", "Username", "Language",
    "Recent", "activity", "Edit", "Open", "Finish", "Time", "Retry", "Check", "Skip to main content",
    "not started", "In progress", "To do", "Beginner", "Intermediate", "Advanced", "Reading", "Video",
    "Simulation", "Exercise", "What to do next", "the", "and", "of", "you", "your", "is", "are", "this",
)
WORDS_RE = re.compile(r"(?<![\w'])(" + "|".join(re.escape(w) for w in ENGLISH_UI_WORDS) + r")(?![\w'])", re.I)
USER_FACING_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt")
VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class InterfaceText(HTMLParser):
    """Visible text and user-facing attributes, minus scripts, styles and other-language content."""

    def __init__(self, page_language):
        super().__init__(convert_charrefs=True)
        self.page_language = page_language
        self.stack = []  # one flag per open element: True when it (or an ancestor) is skipped
        self.chunks = []

    def _skipping(self):
        return bool(self.stack) and self.stack[-1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        lang = attrs.get("lang")
        skip = (
            self._skipping()
            or tag in ("script", "style")
            or (lang is not None and lang.split("-")[0] != self.page_language)
        )
        if not skip:
            self.chunks.extend(attrs[a] for a in USER_FACING_ATTRIBUTES if attrs.get(a))
            if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
                self.chunks.append(attrs["value"])
        if tag not in VOID_ELEMENTS:
            self.stack.append(skip)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag not in VOID_ELEMENTS and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self._skipping() and data.strip():
            self.chunks.append(data)


def content_strings():
    """Text that is curriculum or a name: allowed in any language, longest first."""
    strings = set()
    strings.update(Subject.objects.values_list("name", flat=True))
    strings.update(Subject.objects.values_list("code", flat=True))
    for title, description in Chapter.objects.values_list("title", "description"):
        strings.update((title, description))
    for step in LearningStep.objects.all():
        strings.add(step.title)
        for question in (step.activity or {}).get("questions", []):
            strings.add(question.get("text", ""))
            strings.update(question.get("choices", []))
    for user in get_user_model().objects.all():
        strings.update((user.username, user.first_name, user.last_name, user.get_full_name(), user.email))
    strings.update(Classroom.objects.values_list("name", flat=True))
    return sorted((s for s in strings if s and len(s) > 1), key=len, reverse=True)


def english_on(html, content):
    """``{english word: the interface text it was found in}`` for one page."""
    parser = InterfaceText("hi")
    parser.feed(html)
    found = {}
    for chunk in parser.chunks:
        text = chunk
        for string in content:
            text = text.replace(string, " ")
        text = text.replace("MARS Labs", " ").replace("MARS-labs", " ").replace("OLabs", " ")
        for match in WORDS_RE.finditer(text):
            found.setdefault(match.group(0), " ".join(chunk.split())[:120])
    return found


def english_words_on(html, content):
    return sorted(english_on(html, content))


def set_language(username, language):
    user = get_user_model().objects.get(username=username)
    user.profile.preferred_language = language
    user.profile.save(update_fields=["preferred_language"])
    return user


def learner_pages(user):
    """Every page a learner meets in the demo: dashboard, path, profile, subjects, chapters, one step of each kind."""
    pages = ["/", "/path/", "/profile/"]
    with contextlib.suppress(NoReverseMatch):  # the password page, where this build has one
        pages.append(reverse("learners:password"))
    states = engine.curriculum_states(learner=user)
    seen_kinds = set()
    subjects = set()
    locked = set()  # a locked step's page says why, with status 403
    for chapter_state in states.values():
        chapter = chapter_state.chapter
        pages.append(chapter.get_absolute_url())
        subjects.add(chapter.subject.get_absolute_url())
        for step_state in chapter_state.steps:
            kind = (step_state.step.step_type, bool(step_state.lock_reason), step_state.is_done)
            if kind not in seen_kinds:
                seen_kinds.add(kind)
                pages.append(step_state.step.get_absolute_url())
                if step_state.lock_reason:
                    locked.add(step_state.step.get_absolute_url())
    return pages + sorted(subjects), locked


class TestHindiPagesHaveNoEnglishInterfaceWords:
    @pytest.mark.parametrize("username", ["asha", "ravi", "kabir", "meera"])
    def test_learner_pages(self, demo_school, client, username):
        user = set_language(username, "hi")
        # The demo curriculum has no exercise step: add a grade-less chapter with one, so its page is scanned too.
        ChapterFactory(subject=Subject.objects.get(code="phy"), grade=None, title="Exercise chapter", order_index=99)
        StepFactory(chapter=Chapter.objects.get(title="Exercise chapter"), title="Write the unit",
                    step_type=StepType.EXERCISE, order_index=0,
                    required_completion_criteria={"type": "submission"}, activity={"expected_answer": "ohm"})
        client.force_login(user)
        content = content_strings()
        pages, locked = learner_pages(user)
        assert len(pages) > 5
        step_types = {LearningStep.objects.get(pk=p.split("/")[2]).step_type for p in pages if p.startswith("/steps/")}
        if username == "asha":  # the learner with the most varied progress meets every kind of step there is
            assert step_types == set(StepType.values)
        failures = {}
        for url in pages:
            response = client.get(url)
            assert response.status_code in ((200, 403) if url in locked else (200,)), url
            html = response.content.decode()
            assert '<html lang="hi">' in html, url
            if found := english_on(html, content):
                failures[url] = found
        assert failures == {}

    def test_teacher_report_pages(self, demo_school, client):
        teacher = set_language("teacher", "hi")
        client.force_login(teacher)
        content = content_strings()
        classroom = Classroom.objects.first()
        learner = classroom.learners.first()
        failures = {}
        for url in ["/", "/reports/", f"/reports/classrooms/{classroom.pk}/",
                    f"/reports/classrooms/{classroom.pk}/attention/", f"/reports/learners/{learner.pk}/"]:
            response = client.get(url)
            assert response.status_code == 200, url
            if found := english_on(response.content.decode(), content):
                failures[url] = found
        assert failures == {}

    def test_login_page_for_a_hindi_browser(self, demo_school, client):
        response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="hi")
        html = response.content.decode()
        assert '<html lang="hi">' in html
        assert english_words_on(html, content_strings()) == []

    def test_the_scanner_finds_an_english_word(self, demo_school, client):
        """The scan itself works: an English page fails it, content marked lang="en" does not."""
        user = set_language("asha", "en")
        client.force_login(user)
        html = client.get("/").content.decode().replace('<html lang="en">', '<html lang="hi">')
        assert {"Dashboard", "Continue"} <= set(english_words_on(html, content_strings()))
        assert english_words_on('<p lang="en">Dashboard</p><p>डैशबोर्ड</p>', []) == []
