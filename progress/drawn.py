"""Pieces of HTML drawn once per distinct input and then reused, in each process.

A piece qualifies when its output is a function of a few plain values (a
status badge, a dashboard subject card, a 14-day activity chart): the store's
key names every one of them, the language included, so another input is
another key and never a stale copy. Rendering those pieces from their
templates was most of the time a dashboard or subject page took to render
afresh (docs/performance.md), and most learners share most pieces.

Each store is bounded: when full it starts again (no eviction bookkeeping on
the hot path). ``DEBUG`` (a developer editing a template) draws every time.
"""

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.safestring import mark_safe

_stores = []


class Drawn:
    def __init__(self, limit):
        self.limit = limit
        self.pieces = {}
        _stores.append(self)

    def get(self, key, draw):
        """The piece for ``key``: ``draw()`` (HTML the caller has escaped) the first time, then the same string."""
        html = self.pieces.get(key)
        if html is None:
            html = mark_safe(draw())  # noqa: S308 - our own templates and format_html, which escape
            if settings.DEBUG:
                return html
            if len(self.pieces) >= self.limit:
                self.pieces.clear()
            self.pieces[key] = html
        return html

    def __len__(self):
        return len(self.pieces)

    def clear(self):
        self.pieces.clear()


def _forget(**_kwargs):
    for store in _stores:
        store.clear()


setting_changed.connect(_forget, dispatch_uid="progress-drawn-forget")
