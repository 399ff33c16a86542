"""Template tags for the server-rendered SVG charts (geometry in progress/svg.py).

    {% load mars_charts %}
    {% progress_ring card.percentage card.ring_label %}
    {% activity_chart dashboard.activity today=dashboard.today %}
"""

from django import template
from django.template.loader import render_to_string
from django.utils.html import conditional_escape, escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from progress import svg
from progress.drawn import Drawn

register = template.Library()


RING = (
    '<svg class="ring" viewBox="0 0 {size} {size}" width="{size}" height="{size}" role="progressbar" '
    'aria-valuenow="{percentage}" aria-valuemin="0" aria-valuemax="100" aria-label="{label}" focusable="false">\n'
    "  <title>{label}</title>\n"
    '  <circle class="ring-track" cx="{center}" cy="{center}" r="{radius}" fill="none" stroke="#e9ecef" '
    'stroke-width="{stroke}"/>\n'
    "  {arc}\n"
    '  <text class="ring-text" x="{center}" y="{center}" text-anchor="middle" dominant-baseline="central" '
    'aria-hidden="true">{percentage}%</text>\n'
    "</svg>\n"
)
RING_ARC = (
    '<circle class="ring-value" cx="{center}" cy="{center}" r="{radius}" fill="none" stroke="#7a2e1f" '
    'stroke-width="{stroke}" stroke-linecap="round" stroke-dasharray="{circumference}" '
    'stroke-dashoffset="{offset}" transform="rotate(-90 {center} {center})"/>'
)


@register.simple_tag
def progress_ring(percentage, label, size=96, stroke=10):
    """An accessible circular progress ring (role="progressbar") filled to ``percentage``.

    A simple tag filling RING with svg.ring's numbers (our own strings) and the escaped label,
    rather than an inclusion template: a dashboard draws up to 18 of them, and the template's
    ~20 variable lookups cost more than the formatting (docs/performance.md, "Page chrome and
    dashboard render"). tests/progress/test_svg.py holds the markup to the template's.
    """
    ring = svg.ring(percentage, label=label, size=size, stroke=stroke)
    ring["label"] = conditional_escape(label)  # the one value that is not our own number
    ring["arc"] = RING_ARC.format_map(ring) if ring["show_arc"] else ""
    return mark_safe(RING.format_map(ring))  # noqa: S308 - only svg.ring's formatted numbers and the escaped label


BAR = (
    '<g class="bar{today}">\n'
    "      <title>{text}</title>\n"
    "      {rect}\n"
    '      <text class="chart-label" x="{label_x}" y="{label_y}" text-anchor="middle">{label}</text>\n'
    "    </g>"
)
BAR_RECT = '<rect x="{x}" y="{y}" width="{width}" height="{height}" rx="2" fill="#c2593f"/>'
TABLE_ROW = '<tr><th scope="row">{day}</th><td>{minutes}</td></tr>'


charts = Drawn(1024)  # one per distinct fortnight (and day, language), ~3 KB each: the common ones, such as an idle one
bars = Drawn(8192)  # one per distinct bar: 14 places x the days of a fortnight x the minutes and scales seen; ~0.3 KB
table_rows = Drawn(4096)  # the hidden table's row per day and minutes; ~60 B


@register.simple_tag
def activity_chart(days, today=None):
    """A 14-day bar chart of active minutes, with a visually-hidden table of the same numbers.

    ``days`` is a list of engine.DayActivity (anything with ``day`` and ``minutes``). The bars and
    the table's rows are drawn here, with str.format, and the frame, captions and headings in
    templates/progress/_activity_chart.html: fourteen bars of ten values each cost more as
    template variables than the rest of the chart. The chart is a function of the days' minutes,
    ``today`` and the language, so each distinct one is drawn once (progress/drawn.py). That pays for
    learners with the same fortnight (an idle one above all); an active learner's is usually their
    own (93 % distinct in the district bench), so drawing one is kept cheap too (``_chart_context``).
    """
    points = tuple((d.day, d.minutes) for d in days)
    key = (get_language(), today, points)
    return charts.get(key, lambda: render_to_string("progress/_activity_chart.html", _chart_context(points, today)))


def _chart_context(points, today):
    # str.format with only the text escaped (day names and numbers from the locale); every other value is
    # one of svg's own formatted numbers: format_html escaped ~250 of those per chart. Each bar and each
    # table row is drawn once per distinct one: a learner's fortnight is usually their own, but its days
    # mostly are not (an idle day looks the same in every chart of that fortnight).
    chart = svg.chart_frame(points)
    language, scale_max = get_language(), chart["scale_max"]
    groups, rows = [], []
    for index, (day, minutes) in enumerate(points):
        # A bar depends on its place, day and minutes, and on the scale only when it is not empty.
        key = (language, len(points), index, day, minutes, scale_max if minutes else 0, day == today)
        groups.append(bars.get(key, lambda index=index, day=day, minutes=minutes: _draw_bar(
            chart, index, day, minutes, today)))
        rows.append(table_rows.get((language, day, minutes), lambda day=day, minutes=minutes: TABLE_ROW.format(
            day=escape(svg.day_label(day, "l j F")), minutes=int(minutes))))
    chart["bar_groups"] = mark_safe("\n    ".join(groups))  # noqa: S308 - our numbers and the escaped text only
    chart["table_rows"] = mark_safe("\n      ".join(rows))  # noqa: S308 - the escaped day name and an int
    return chart


def _draw_bar(chart, index, day, minutes, today):
    """A bar's ``<g>``: its rectangle, spoken text and day label."""
    bar = svg.bar(chart, index, day, minutes, today=today)
    return BAR.format(
        today=" bar-today" if bar["is_today"] else "",
        text=escape(bar["text"]),
        rect="" if bar["is_empty"] else BAR_RECT.format_map(bar),
        label_x=bar["label_x"],
        label_y=chart["label_y"],
        label=escape(bar["label"]),
    )
