"""Query helpers for the API's hot paths."""


def one(queryset):
    """The first row of ``queryset`` or None: ``.first()`` without its ORDER BY.

    For lookups by a unique key, where ``.first()``'s ordering (models' Meta.ordering
    or the pk) only costs query compilation time on the API's hot path.
    """
    return next(iter(queryset.order_by()[:1]), None)
