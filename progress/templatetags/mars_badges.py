"""Small pieces of a page drawn from their template once per distinct input, then reused (progress/drawn.py).

``{% status_badge status label compact=False %}``: a step's status badge
(templates/progress/_status_badge.html). It depends only on the status, the
optional label, ``compact`` and the language. The subject page draws one per
step type of each of its chapters (250 at district scale): as an
``{% include %}`` each was a template render, a fifth of the page's time.

``{% subject_card card %}``: a dashboard subject card
(templates/progress/_subject_card.html). It depends only on the subject's
code, name and language, the card's counts and accent, and the page's
language. A dashboard draws one per subject (16 at district scale); most
learners share most cards (0 of 50 chapters done, say).
"""

from django import template
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils.translation import get_language

from progress.drawn import Drawn

register = template.Library()

badges = Drawn(512)  # 4 statuses x a handful of labels x 2 x the languages; more means a caller varies something odd
cards = Drawn(8192)  # ~16 subjects x the count combinations learners are at; ~1 KB each


@register.simple_tag
def status_badge(status, label="", compact=False):
    key = (get_language(), status, str(label), bool(compact))
    context = {"status": status, "label": label, "compact": compact}
    return badges.get(key, lambda: render_to_string("progress/_status_badge.html", context))


@register.simple_tag
def subject_card(card):
    """``card``: a progress.dashboard.SubjectCard."""
    subject, rollup = card.subject, card.rollup
    key = (get_language(), get_script_prefix(), card.accent, subject.code, subject.name,
           subject.content_language, rollup.steps_done, rollup.steps_total, rollup.chapters_done,
           rollup.chapters_total, card.simulations_done, card.simulations_total)
    return cards.get(key, lambda: render_to_string("progress/_subject_card.html", {"card": card}))
