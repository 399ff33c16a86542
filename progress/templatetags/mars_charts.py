"""Template tags for the server-rendered SVG charts (geometry in progress/svg.py).

    {% load mars_charts %}
    {% progress_ring card.percentage card.ring_label %}
    {% activity_chart dashboard.activity today=dashboard.today %}
"""

from django import template

from progress import svg

register = template.Library()


@register.inclusion_tag("progress/_ring.svg.html")
def progress_ring(percentage, label, size=96, stroke=10):
    """An accessible circular progress ring (role="progressbar") filled to ``percentage``."""
    return svg.ring(percentage, label=label, size=size, stroke=stroke)


@register.inclusion_tag("progress/_activity_chart.html")
def activity_chart(days, today=None):
    """A 14-day bar chart of active minutes, with a visually-hidden table of the same numbers.

    ``days`` is a list of engine.DayActivity (anything with ``day`` and ``minutes``).
    """
    return svg.bar_chart([(d.day, d.minutes) for d in days], today=today)
