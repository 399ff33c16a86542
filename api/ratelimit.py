"""A fixed-window request limit per caller, kept in the Django cache.

``API_RATE_LIMIT`` reads like ``600/minute``. Each caller (a token, or a
signed-in user) gets that many requests per window; the window is aligned to
the clock, so ``Retry-After`` is the time left until the next one starts.

The count lives in the cache: with the default local-memory cache every app
process counts on its own (N processes allow up to N times the limit); set
``CACHE_URL`` to Redis so all processes share one count.
"""

import functools
import math
import re
import time
from dataclasses import dataclass

from django.conf import settings

from mars_labs import cache as shared_cache

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
RATE_PATTERN = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")


@functools.lru_cache(maxsize=16)  # the setting's one value, parsed on every request otherwise
def parse_rate(text):
    """``"600/minute"`` -> ``(600, 60)``. Raises ValueError for anything else."""
    match = RATE_PATTERN.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a rate like 600/minute")
    return int(match[1]), PERIODS[match[2]]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until the window resets


def hit(caller_key, *, rate=None, now=None):
    """Count one request for ``caller_key`` and say whether it is within the limit.

    One count in the cache (``mars_labs.cache.count``: one round trip with Redis). A cache that
    cannot count (Redis unreachable) limits nothing.
    """
    limit, period = parse_rate(rate or settings.API_RATE_LIMIT)
    now = time.time() if now is None else now
    window = int(now // period)
    count = shared_cache.count(f"api-rate:{caller_key}:{window}", timeout=period + 1) or 1
    retry_after = max(1, math.ceil((window + 1) * period - now))
    return Verdict(allowed=count <= limit, limit=limit, remaining=max(0, limit - count), retry_after=retry_after)
