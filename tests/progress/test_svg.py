"""progress/svg.py and the mars_charts template tags: geometry and accessible markup."""

import math
import re
from datetime import date, timedelta

import pytest
from django.template import Context, Template
from django.utils import translation

from progress import svg
from progress.engine import DayActivity


def render(source, **context):
    return Template("{% load mars_charts %}" + source).render(Context(context))


@pytest.mark.parametrize(("value", "expected"), [(0, 0), (45.4, 45), (45.6, 46), (100, 100), (140, 100), (-3, 0),
                                                 (None, 0), ("abc", 0), (float("nan"), 0)])
def test_clamp_percentage_keeps_0_to_100(value, expected):
    assert svg.clamp_percentage(value) == expected


def test_ring_dash_offset_matches_percentage():
    ctx = svg.ring(25, label="Physics", size=100, stroke=10)
    circumference = 2 * math.pi * 45
    assert ctx["radius"] == "45"
    assert float(ctx["circumference"]) == pytest.approx(circumference, abs=0.01)
    # A quarter drawn: three quarters of the dash hidden.
    assert float(ctx["offset"]) == pytest.approx(circumference * 0.75, abs=0.01)
    assert ctx["show_arc"] is True


def test_ring_empty_and_full_edges():
    assert svg.ring(0, label="x")["show_arc"] is False
    assert svg.ring(100, label="x")["offset"] == "0"


def test_ring_numbers_use_a_dot_in_any_language():
    with translation.override("de"):
        html = render("{% progress_ring 33 'Chemie' 90 9 %}")
    assert re.search(r'r="40\.5"', html)
    assert "," not in re.search(r'stroke-dasharray="([^"]+)"', html).group(1)


def test_progress_ring_tag_is_an_accessible_progressbar():
    html = render("{% progress_ring 42 'Physics: 42% of steps done' %}")
    assert 'role="progressbar"' in html
    assert 'aria-valuenow="42"' in html
    assert 'aria-valuemin="0"' in html
    assert 'aria-valuemax="100"' in html
    assert 'aria-label="Physics: 42% of steps done"' in html
    assert "<title>Physics: 42% of steps done</title>" in html
    assert ">42%</text>" in html


def test_progress_ring_tag_escapes_the_label():
    html = render("{% progress_ring 10 label %}", label='<script>"x"</script>')
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_bar_chart_scales_to_a_round_maximum():
    start = date(2025, 3, 1)
    ctx = svg.bar_chart([(start, 7), (start + timedelta(days=1), 0), (start + timedelta(days=2), 3)], height=120)
    assert ctx["scale_max"] == 10
    first, empty, third = ctx["bars"]
    plot_height = float(ctx["baseline_y"]) - float(ctx["top_y"])
    assert float(first["height"]) == pytest.approx(plot_height * 0.7, abs=0.01)
    assert float(third["height"]) == pytest.approx(plot_height * 0.3, abs=0.01)
    assert empty["is_empty"] and float(empty["height"]) == 0
    assert ctx["total_minutes"] == 10
    assert ctx["active_days"] == 2


def test_bar_chart_gives_tiny_values_a_visible_sliver():
    start = date(2025, 3, 1)
    ctx = svg.bar_chart([(start, 1), (start + timedelta(days=1), 300)])
    assert float(ctx["bars"][0]["height"]) >= 2


def test_bar_chart_with_no_activity_draws_no_bars():
    start = date(2025, 3, 1)
    ctx = svg.bar_chart([(start + timedelta(days=n), 0) for n in range(14)])
    assert ctx["scale_max"] == 0
    assert all(bar["is_empty"] for bar in ctx["bars"])


def test_activity_chart_tag_has_a_text_alternative_listing_every_day():
    today = date(2025, 3, 14)
    days = [DayActivity(day=today - timedelta(days=13 - n), seconds=0) for n in range(14)]
    days[-1] = DayActivity(day=today, seconds=12 * 60)
    days[0] = DayActivity(day=today - timedelta(days=13), seconds=90)
    html = render("{% activity_chart days today %}", days=days, today=today)
    table = re.search(r'<div class="visually-hidden"><table>(.*?)</table></div>', html, re.S).group(1)
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td>(\d+)</td></tr>', table)
    assert len(rows) == 14
    assert rows[0] == ("Saturday 1 March", "2")
    assert rows[-1] == ("Friday 14 March", "12")
    assert '<svg viewBox="0 0 280 120"' in html
    assert 'aria-hidden="true"' in html
    assert html.count("<rect ") == 2
    assert 'class="bar bar-today"' in html
    assert "14 min on 2 days" in html


def test_progress_ring_markup_is_unchanged_by_the_simple_tag():
    """The exact markup of the inclusion template the tag replaced (templates/progress/_ring.svg.html)."""
    html = render("{% progress_ring 25 label 100 10 %}", label="Physics & Chemistry")
    assert html == (
        '<svg class="ring" viewBox="0 0 100 100" width="100" height="100" role="progressbar" aria-valuenow="25" '
        'aria-valuemin="0" aria-valuemax="100" aria-label="Physics &amp; Chemistry" focusable="false">\n'
        "  <title>Physics &amp; Chemistry</title>\n"
        '  <circle class="ring-track" cx="50" cy="50" r="45" fill="none" stroke="#e9ecef" stroke-width="10"/>\n'
        '  <circle class="ring-value" cx="50" cy="50" r="45" fill="none" stroke="#7a2e1f" stroke-width="10" '
        'stroke-linecap="round" stroke-dasharray="282.74" stroke-dashoffset="212.06" '
        'transform="rotate(-90 50 50)"/>\n'
        '  <text class="ring-text" x="50" y="50" text-anchor="middle" dominant-baseline="central" '
        'aria-hidden="true">25%</text>\n'
        "</svg>\n"
    )


def test_progress_ring_at_zero_draws_no_arc():
    html = render("{% progress_ring 0 'Biology' %}")
    assert "ring-value" not in html
    assert "\n  \n" in html  # the arc's line stays, empty, as the template drew it
    assert ">0%</text>" in html


def test_progress_ring_keeps_an_already_escaped_label():
    html = Template(
        "{% load i18n mars_charts %}{% blocktranslate asvar label with x=name %}{{ x }}{% endblocktranslate %}"
        "{% progress_ring 5 label %}"
    ).render(Context({"name": "R&D"}))
    assert 'aria-label="R&amp;D"' in html
    assert "&amp;amp;" not in html


def test_activity_chart_day_names_follow_the_language():
    today = date(2026, 11, 22)
    days = [DayActivity(day=today - timedelta(days=13 - n), seconds=60) for n in range(14)]
    with translation.override("en"):
        english = render("{% activity_chart days today %}", days=days, today=today)
    with translation.override("hi"):
        hindi = render("{% activity_chart days today %}", days=days, today=today)
    with translation.override("en"):
        again = render("{% activity_chart days today %}", days=days, today=today)
    assert "Sunday 22 November" in english
    assert "रविवार 22 नवमबर" in hindi
    assert "November" not in hindi
    assert again == english


def test_activity_chart_escapes_the_text_it_draws(monkeypatch):
    """The bars are drawn with str.format: only the numbers are ours; a day name or a translated
    caption that holds markup must come out escaped."""
    today = date(2025, 3, 14)
    real = svg.bar

    def with_markup(frame, index, day, minutes, today=None):
        bar = real(frame, index, day, minutes, today=today)
        if index == 0:
            bar["text"] = "<b>Mon</b> & co: 3 min"
            bar["label"] = "<i>1</i>"
        return bar

    monkeypatch.setattr(svg, "bar", with_markup)
    from progress import drawn
    drawn._forget()  # drawn afresh, not an earlier test's chart or bars of the same days
    days = [DayActivity(day=today - timedelta(days=13 - n), seconds=180) for n in range(14)]
    html = render("{% activity_chart days today %}", days=days, today=today)
    assert "<title>&lt;b&gt;Mon&lt;/b&gt; &amp; co: 3 min</title>" in html
    assert ">&lt;i&gt;1&lt;/i&gt;</text>" in html
    assert "<b>" not in html and "<i>" not in html
