"""progress/drawn.py's stores and the pieces drawn through them: ``{% subject_card %}`` and ``{% activity_chart %}``
are drawn from their templates once per distinct input and reused, and any input that shows makes another piece."""

import re
from datetime import date, timedelta

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.test import override_settings
from django.utils import translation

from curriculum.models import Subject
from progress import drawn
from progress.dashboard import SubjectCard
from progress.engine import DayActivity, SubjectRollup
from progress.templatetags import mars_badges, mars_charts


@pytest.fixture(autouse=True)
def _empty():
    drawn._forget()
    yield
    drawn._forget()


def card(name="Physics", code="phy", pk=1, language="", steps_done=10, chapters_done=2, sims=(1, 5), accent=0):
    subject = Subject(pk=pk, code=code, name=name, language=language)
    rollup = SubjectRollup(subject=subject, steps_total=250, steps_done=steps_done, chapters_total=50,
                           chapters_done=chapters_done)
    return SubjectCard(rollup=rollup, accent=accent, simulations_done=sims[0], simulations_total=sims[1])


def tag(a_card):
    return Template("{% load mars_badges %}{% subject_card card %}").render(Context({"card": a_card}))


def fortnight(today, minutes):
    return [DayActivity(day=today - timedelta(days=len(minutes) - 1 - n), seconds=60 * m)
            for n, m in enumerate(minutes)]


def chart(days, today):
    return Template("{% load mars_charts %}{% activity_chart days today %}").render(
        Context({"days": days, "today": today}))


def test_a_card_is_what_its_template_draws_and_shows_its_numbers():
    html = tag(card(steps_done=10, chapters_done=2, sims=(1, 5)))
    assert html == mars_badges.draw_card(card(steps_done=10, chapters_done=2, sims=(1, 5)))
    assert 'data-subject="phy"' in html and 'href="/subjects/phy/"' in html
    assert '<dd data-count="chapters">2 / 50</dd>' in html
    assert '<dd data-count="steps">10 / 250</dd>' in html
    assert '<dd data-count="simulations">1 / 5</dd>' in html
    assert 'aria-valuenow="4"' in html  # 10 of 250 steps


def test_the_same_card_is_drawn_once_and_reused():
    first = tag(card())
    assert len(mars_badges.cards) == 1
    assert tag(card()) is not None and tag(card()) == first
    assert len(mars_badges.cards) == 1


@pytest.mark.parametrize("change", [
    {"name": "Physics & Lab"}, {"code": "phx"}, {"language": "hi"}, {"steps_done": 11},
    {"chapters_done": 3}, {"sims": (2, 5)}, {"sims": (0, 0)}, {"accent": 3},
])
def test_anything_a_card_shows_makes_another_card(change):
    before = tag(card())
    after = tag(card(**change))
    assert after != before
    assert after == mars_badges.draw_card(card(**change))
    assert len(mars_badges.cards) == 2


@pytest.mark.parametrize("name", ["Physics", "<b>R&D</b>", 'Say "hi" {0} {steps_done} %s',
                                  "Ganit \u0917\u0923\u093f\u0924", "\x00steps_done\x00", "0 / 50"])
@pytest.mark.parametrize("language", ["en", "hi"])
def test_a_card_filled_in_from_its_blank_is_the_card_its_template_draws(name, language):
    """Every number and ring put into a subject's blank card gives exactly what the template draws."""
    with translation.override(language):
        for steps_done, chapters_done, sims in [(0, 0, (0, 0)), (0, 0, (0, 5)), (10, 2, (1, 5)), (250, 50, (5, 5)),
                                                (125, 25, (3, 7)), (1, 0, (0, 0))]:
            a_card = card(name=name, steps_done=steps_done, chapters_done=chapters_done, sims=sims)
            assert tag(a_card) == mars_badges.draw_card(a_card), (name, steps_done, chapters_done, sims)
    assert len(mars_badges.blank_cards) == (0 if "\x00" in name else 2)  # with and without simulations


def test_cards_of_one_subject_share_its_blank_and_each_shows_its_own_numbers():
    low, high = tag(card(steps_done=0, chapters_done=0)), tag(card(steps_done=200, chapters_done=40))
    assert len(mars_badges.blank_cards) == 1 and len(mars_badges.cards) == 2
    assert '<dd data-count="steps">0 / 250</dd>' in low and 'aria-valuenow="0"' in low
    assert '<dd data-count="steps">200 / 250</dd>' in high and 'aria-valuenow="80"' in high
    assert "\x00" not in low + high


def test_a_subject_name_is_escaped():
    html = tag(card(name="<b>R&D</b>"))
    assert "&lt;b&gt;R&amp;D&lt;/b&gt;" in html and "<b>" not in html


def test_a_card_follows_the_language():
    with translation.override("en"):
        english = tag(card())
    with translation.override("hi"):
        hindi = tag(card())
    assert "Chapters" in english and "Chapters" not in hindi
    assert len(mars_badges.cards) == 2


def test_the_same_fortnight_is_drawn_once_and_another_is_drawn_afresh():
    today = date(2026, 12, 7)
    quiet = chart(fortnight(today, [0] * 14), today)
    assert chart(fortnight(today, [0] * 14), today) == quiet
    assert len(mars_charts.charts) == 1
    busy = chart(fortnight(today, [0] * 13 + [12]), today)
    assert busy != quiet and re.search(r'<td>12</td></tr>\s*$', busy.split("</tbody>")[0])
    tomorrow = date(2026, 12, 8)
    moved = chart(fortnight(tomorrow, [0] * 14), tomorrow)
    assert "Tuesday 8 December" in moved and "Tuesday 8 December" not in quiet
    assert len(mars_charts.charts) == 3


def test_a_full_store_starts_again():
    store = drawn.Drawn(2)
    assert store.get("a", lambda: "A") == "A" and store.get("b", lambda: "B") == "B"
    assert len(store) == 2
    assert store.get("c", lambda: "C") == "C"
    assert len(store) == 1
    assert store.get("a", lambda: "A again") == "A again"  # forgotten, drawn afresh


@override_settings(DEBUG=True)
def test_debug_draws_every_time():
    calls = []
    store = drawn.Drawn(10)
    store.get("k", lambda: calls.append(1) or "x")
    store.get("k", lambda: calls.append(1) or "x")
    assert len(calls) == 2 and len(store) == 0


FRAGMENT = Template(
    "{% load mars_badges %}{% for item in items %}"
    "{% drawn item.name item.n %}<li>{{ item.name }}: {{ item.n }} {{ forloop.counter }} {{ secret }}</li>"
    "{% enddrawn %}"
    "{% endfor %}|{% drawn 'same' %}first{% enddrawn %}|{% drawn 'same' %}second{% enddrawn %}"
)


def fragment(items, **extra):
    return FRAGMENT.render(Context({"items": items, **extra}))


def test_a_drawn_fragment_is_drawn_once_per_distinct_value_it_names():
    html = fragment([{"name": "Ohm's law", "n": 1}, {"name": "Ohm's law", "n": 1}, {"name": "Ohm's law", "n": 2}])
    items = html.split("|")[0]
    # The second item is the first one's fragment again (its forloop.counter was not named): shared.
    assert items == "<li>Ohm&#x27;s law: 1 1 </li><li>Ohm&#x27;s law: 1 1 </li><li>Ohm&#x27;s law: 2 3 </li>"
    assert len(mars_badges.fragments) == 4  # two items, and the two 'same' tags


def test_two_drawn_tags_with_the_same_values_are_two_fragments():
    assert fragment([]).split("|")[1:] == ["first", "second"]


def test_a_drawn_fragment_follows_the_language():
    page = Template("{% load i18n mars_badges %}{% drawn 'x' %}{% translate 'Chapters' %}{% enddrawn %}")
    with translation.override("en"):
        english = page.render(Context())
    with translation.override("hi"):
        hindi = page.render(Context())
    assert english == "Chapters" and hindi != english


def test_a_drawn_tag_needs_values():
    with pytest.raises(TemplateSyntaxError):
        Template("{% load mars_badges %}{% drawn %}x{% enddrawn %}")


@override_settings(DEBUG=True)
def test_debug_draws_fragments_every_time():
    assert fragment([{"name": "a", "n": 1}], secret="s1").startswith("<li>a: 1 1 s1</li>")
    assert fragment([{"name": "a", "n": 1}], secret="s2").startswith("<li>a: 1 1 s2</li>")


def test_charts_share_their_days_bars_and_each_is_the_chart_drawn_afresh():
    """Bars and table rows are kept per distinct bar; a chart put together from them is the one drawn
    with nothing kept (DEBUG), for random fortnights, scales and days, in two languages."""
    import random

    rng = random.Random(7)
    today = date(2026, 12, 7)
    cases = [(language, today - timedelta(days=rng.randrange(3)),
              [rng.choice([0, 0, 0, 0, 1, 2, 7, 12, 45, 61, 130]) for _ in range(14)])
             for _ in range(60) for language in ("en", "hi")]

    def draw_all():
        drawn_charts = []
        for language, day, minutes in cases:
            with translation.override(language):
                drawn_charts.append(chart(fortnight(day, minutes), today))
        return drawn_charts

    with override_settings(DEBUG=True):
        fresh = draw_all()
    assert draw_all() == fresh
    assert 0 < len(mars_charts.bars) < len(cases) * 14  # days shared between fortnights were drawn once


def test_a_bar_is_drawn_once_for_every_chart_that_has_it():
    today = date(2026, 12, 7)
    chart(fortnight(today, [0] * 13 + [12]), today)
    drawn_bars = len(mars_charts.bars)
    assert drawn_bars == 14 and len(mars_charts.table_rows) == 14
    other = chart(fortnight(today, [0] * 12 + [3, 12]), today)  # one day changed; the scale (15 min) kept
    assert len(mars_charts.bars) == drawn_bars + 1 and len(mars_charts.table_rows) == 15
    assert "<td>3</td>" in other and "<td>12</td>" in other
