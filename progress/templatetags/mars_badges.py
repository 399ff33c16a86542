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
learners share most cards (0 of 50 chapters done, say). A card not drawn
before is filled in from its subject's *blank*: the template drawn once per
subject, language and accent with markers where the numbers and the ring go
(``_blank_card``). From the template each new card cost 0.36 ms, and a
learner far along the curriculum has 16 cards nobody else has; filling the
blank costs the ring and seven ``str.replace``.

``{% drawn value ... %}...{% enddrawn %}``: any fragment of a template, kept
under the values named (resolved in the template's context), the language,
the script prefix and which tag it is. Name every value the
fragment shows. The dashboard's recommendations and continue card use it: a
class's learners at the same place see the same items.
"""

import itertools
from types import SimpleNamespace
from uuid import UUID

from django import template
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils.translation import get_language

from progress.drawn import Drawn

from .mars_charts import progress_ring

register = template.Library()

badges = Drawn(512)  # 4 statuses x a handful of labels x 2 x the languages; more means a caller varies something odd
cards = Drawn(8192)  # ~16 subjects x the count combinations learners are at; ~1 KB each
blank_cards = Drawn(1024)  # ~16 subjects x 6 accents x with/without simulations x the languages
fragments = Drawn(8192)  # {% drawn %}: per fragment of a template x the values it shows; ~0.5-1 KB each


# ---------------------------------------------------------------- status badge


@register.simple_tag
def status_badge(status, label="", compact=False):
    key = (get_language(), status, str(label), bool(compact))
    context = {"status": status, "label": label, "compact": compact}
    return badges.get(key, lambda: render_to_string("progress/_status_badge.html", context))


# ---------------------------------------------------------------- subject card

CARD_RING = (84, 9)  # the ring's size and stroke on a subject card
# What a blank card holds where a card's numbers go. A name holding NUL is drawn whole instead (_fill).
_MARK = "\x00{}\x00"
_NUMBERS = ("chapters_done", "chapters_total", "steps_done", "steps_total", "simulations_done", "simulations_total")


@register.simple_tag
def subject_card(card):
    """``card``: a progress.dashboard.SubjectCard."""
    subject, rollup = card.subject, card.rollup
    key = (get_language(), get_script_prefix(), card.accent, subject.code, subject.name,
           subject.content_language, rollup.steps_done, rollup.steps_total, rollup.chapters_done,
           rollup.chapters_total, card.simulations_done, card.simulations_total)
    return cards.get(key, lambda: _fill(card))


def draw_card(card):
    """``card`` drawn from templates/progress/_subject_card.html (the reference ``_fill`` is held to)."""
    return render_to_string("progress/_subject_card.html", {"card": card, "ring": _ring(card)})


def _ring(card):
    return progress_ring(card.percentage, card.ring_label, *CARD_RING)


def _fill(card):
    """``card`` as ``draw_card`` draws it: its blank with the numbers and the ring put in."""
    subject = card.subject
    if "\x00" in subject.name or "\x00" in subject.code:
        return draw_card(card)  # a name holding a marker's character: no blank can tell them apart
    blank_key = (get_language(), get_script_prefix(), card.accent, subject.code, subject.name,
                 subject.content_language, bool(card.simulations_total))
    html = blank_cards.get(blank_key, lambda: _blank_card(card))
    rollup = card.rollup
    values = (rollup.chapters_done, rollup.chapters_total, rollup.steps_done, rollup.steps_total,
              card.simulations_done, card.simulations_total)  # in _NUMBERS' order
    for name, value in zip(_NUMBERS, values, strict=True):
        html = html.replace(_MARK.format(name), str(int(value)))
    return html.replace(_MARK.format("ring"), _ring(card))


def _blank_card(card):
    """The card's template drawn with markers for the numbers and the ring: what every card of this
    subject, accent and language shares. ``simulations_total`` stays falsy when it is 0 (the row is left out)."""
    marks = {name: _MARK.format(name) for name in _NUMBERS}
    blank = SimpleNamespace(
        accent=card.accent, subject=card.subject,
        rollup=SimpleNamespace(**{name: marks[name] for name in _NUMBERS[:4]}),
        simulations_done=marks["simulations_done"],
        simulations_total=marks["simulations_total"] if card.simulations_total else 0,
    )
    return render_to_string("progress/_subject_card.html", {"card": blank, "ring": _MARK.format("ring")})


# ---------------------------------------------------------------- {% drawn %} fragments

_fragment_numbers = itertools.count()


@register.tag
def drawn(parser, token):
    """``{% drawn value ... %}...{% enddrawn %}``: see the module docstring."""
    bits = token.split_contents()[1:]
    if not bits:
        raise template.TemplateSyntaxError("drawn needs the values its fragment shows")
    nodelist = parser.parse(("enddrawn",))
    parser.delete_first_token()
    # Each tag compiled gets its own number: two fragments with the same values are still two fragments.
    return DrawnNode(nodelist, [parser.compile_filter(bit) for bit in bits], next(_fragment_numbers))


class DrawnNode(template.Node):
    child_nodelists = ("nodelist",)

    def __init__(self, nodelist, values, number):
        self.nodelist, self.values, self.number = nodelist, values, number  # (the parser sets ``origin``)

    def render(self, context):
        values = tuple(_hashable(value.resolve(context)) for value in self.values)
        key = (self.number, get_language(), get_script_prefix(), *values)
        return fragments.get(key, lambda: self.nodelist.render(context))


def _hashable(value):
    """A key part: strings, numbers, UUIDs and None as they are, anything else (a lazy string) as its text."""
    return value if value is None or isinstance(value, int | str | UUID) else str(value)
