"""``{% status_badge status label compact=False %}``: a step's status badge, drawn once per language and reused.

The badge (templates/progress/_status_badge.html) depends only on the status,
the optional label, ``compact`` and the language. The subject page draws one
per step type of each of its chapters (250 at district scale): as an
``{% include %}`` each was a template render, a fifth of the page's time.
Here each distinct badge is rendered from the same template the first time
and then reused. ``DEBUG`` (a developer editing the template) draws every time.
"""

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

register = template.Library()

_drawn = {}  # (language, status, label, compact) -> SafeString
MAX_BADGES = 512  # 4 statuses x a handful of labels x 2 x the languages; more means a caller varies something odd


@register.simple_tag
def status_badge(status, label="", compact=False):
    key = (get_language(), status, str(label), bool(compact))
    html = _drawn.get(key)
    if html is None:
        html = mark_safe(render_to_string(  # noqa: S308 - our own template, label escaped by it
            "progress/_status_badge.html", {"status": status, "label": label, "compact": compact}
        ))
        if settings.DEBUG:
            return html
        if len(_drawn) >= MAX_BADGES:
            _drawn.clear()
        _drawn[key] = html
    return html


def _forget(**_kwargs):
    _drawn.clear()


setting_changed.connect(_forget, dispatch_uid="mars-badges-forget")
