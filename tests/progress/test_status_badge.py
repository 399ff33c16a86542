"""``{% status_badge %}`` (progress/templatetags/mars_badges.py): the badge template's own output, drawn once per
language and reused."""

import itertools

import pytest
from django.template import Context, Template
from django.template.loader import render_to_string
from django.test import override_settings
from django.utils import translation

from progress.templatetags import mars_badges

STATUSES = ["done", "in_progress", "locked", "available"]


def tag(status, label="", compact=False):
    return Template("{% load mars_badges %}{% status_badge status label compact=compact %}").render(
        Context({"status": status, "label": label, "compact": compact}))


def include(status, label="", compact=False):
    return render_to_string("progress/_status_badge.html", {"status": status, "label": label, "compact": compact})


@pytest.fixture(autouse=True)
def _empty():
    mars_badges.badges.clear()
    yield
    mars_badges.badges.clear()


@pytest.mark.parametrize("language", ["en", "hi"])
def test_every_badge_is_what_the_template_draws(language):
    with translation.override(language):
        for status, label, compact in itertools.product(STATUSES, ["", "Quiz"], [False, True]):
            first, again = tag(status, label, compact), tag(status, label, compact)
            assert first == again == include(status, label, compact)


def test_a_badge_is_drawn_once_per_language():
    with translation.override("en"):
        english = tag("done")
        assert tag("done") == english and len(mars_badges.badges) == 1
    with translation.override("hi"):
        hindi = tag("done")
    assert "Done" in english and "Done" not in hindi
    assert len(mars_badges.badges) == 2


def test_a_label_is_escaped_and_keys_its_own_badge():
    html = tag("locked", "<b>Quiz</b>")
    assert "&lt;b&gt;Quiz&lt;/b&gt;" in html and "<b>" not in html
    assert tag("locked", "Reading") != html


@override_settings(DEBUG=True)
def test_debug_draws_every_time():
    assert tag("available") == include("available")
    assert len(mars_badges.badges) == 0
