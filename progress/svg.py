"""Server-rendered SVG charts: geometry only, as template context (no JavaScript, no chart library).

Pure functions: the same input gives the same context. Every number is
pre-formatted as a string with a dot, so a locale with a decimal comma can
never break an SVG attribute. The markup lives in the ``mars_charts``
template tags (progress/templatetags/mars_charts.py) and
templates/progress/_activity_chart.html.
"""

import math
from collections.abc import Sequence
from datetime import date
from functools import lru_cache

from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _


def _num(value):
    """An SVG number: at most two decimals, no trailing zeros, always a dot."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


@lru_cache(maxsize=1024)
def _day_label(language, day, fmt):
    return date_format(day, fmt)


def day_label(day, fmt):
    """``date_format(day, fmt)`` in the active language, remembered: every chart draws the same fourteen days."""
    return _day_label(get_language(), day, fmt)


def clamp_percentage(value):
    """A whole percentage in 0..100 (None and garbage count as 0)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    if number != number:  # NaN
        return 0
    return int(min(100, max(0, round(number))))


def ring(percentage, *, label, size=96, stroke=10):
    """Context for a circular progress ring filled to ``percentage`` (0-100).

    The arc is a circle whose dash covers ``percentage`` of its circumference,
    rotated so it starts at twelve o'clock. ``label`` names it for assistive
    technology (aria-label and <title>). At 0 % no arc is drawn, because a
    round line cap would still paint a dot.
    """
    pct = clamp_percentage(percentage)
    radius = (size - stroke) / 2
    circumference = 2 * math.pi * radius
    return {
        "percentage": pct,
        "label": label,
        "size": _num(size),
        "center": _num(size / 2),
        "radius": _num(radius),
        "stroke": _num(stroke),
        "circumference": _num(circumference),
        "offset": _num(circumference * (100 - pct) / 100),
        "show_arc": pct > 0,
    }


def _nice_ceiling(value):
    """The smallest of 5, 10, 15, 20, 30, 45, 60, then multiples of 30, that is ≥ value (minutes)."""
    for step in (5, 10, 15, 20, 30, 45, 60):
        if value <= step:
            return step
    return 30 * math.ceil(value / 30)


def bar_chart(points: Sequence[tuple[date, int]], *, today=None, width=280, height=120):
    """Context for a bar chart of minutes per day.

    ``points`` is ``[(day, minutes), ...]`` oldest first. Bars are scaled to a
    round maximum (so 7 minutes does not look like a full day), a day with any
    activity gets at least a sliver, and ``today`` is highlighted. Each bar
    carries its spoken text ("Mon 3 Mar: 12 min") for <title> and the
    visually-hidden table.
    """
    chart = chart_frame(points, width=width, height=height)
    chart["bars"] = [bar(chart, index, day, minutes, today=today) for index, (day, minutes) in enumerate(points)]
    return chart


def chart_frame(points: Sequence[tuple[date, int]], *, width=280, height=120):
    """``bar_chart`` without its bars: the scale, the frame's numbers and the totals (``bar`` draws each bar)."""
    label_height, top = 16, 14
    plot_height = height - label_height - top
    count = max(1, len(points))
    peak = max((minutes for _day, minutes in points), default=0)
    total = sum(minutes for _day, minutes in points)
    return {
        "width": _num(width),
        "height": _num(height),
        "baseline_y": _num(top + plot_height),
        "label_y": _num(height - 4),
        "top_y": _num(top),
        "scale_label_y": _num(top - 4),
        "scale_max": _nice_ceiling(peak) if peak else 0,
        "total_minutes": total,
        "active_days": sum(1 for _day, minutes in points if minutes),
        "days": len(points),
        # For bar(): the slot each day gets and the plot's top and height, in numbers.
        "slot": width / count,
        "top": top,
        "plot_height": plot_height,
    }


def bar(frame, index, day, minutes, *, today=None):
    """The ``index``-th bar of a chart with ``frame`` (``chart_frame``): ``minutes`` on ``day``.

    It depends on the frame only through its slot, its plot and ``scale_max``.
    """
    slot, top, plot_height, scale_max = frame["slot"], frame["top"], frame["plot_height"], frame["scale_max"]
    bar_width = max(2.0, slot * 0.7)
    bar_height = plot_height * minutes / scale_max if scale_max else 0
    if minutes and bar_height < 2:
        bar_height = 2
    return {
        "day": day,
        "minutes": minutes,
        "text": _("%(day)s: %(minutes)d min") % {"day": day_label(day, "D j M"), "minutes": minutes},
        "x": _num(index * slot + (slot - bar_width) / 2),
        "y": _num(top + plot_height - bar_height),
        "width": _num(bar_width),
        "height": _num(bar_height),
        "label_x": _num(index * slot + slot / 2),
        "label": day_label(day, "j"),
        "is_today": day == today,
        "is_empty": not minutes,
    }
