"""A learner's progress version: one number that changes whenever anything a progress page shows changes.

``UserProfile.progress_version`` is loaded with the user on every signed-in
request (learners/backends.py), so a page can name "this learner as they are
now" without a query, and cache what it rendered under that name
(progress/dashboard.py, progress/reports.py). It is a random 63-bit number,
not a counter: two writes racing each set a new value, neither can undo the
other's, and no old value can come back.

It is set in the same transaction as the change it stands for:

* engine writes batched by ``engine._Writes`` add it to their one statement;
* any ORM save or delete of a LearningProgress, ProgressEvent or LearningPath
  (the engine's unbatched writes, paths.py, the admin, a shell) through the
  signals below;
* bulk writes that send no signals (imports, ``recompute``) call ``bump``.

Every change to a learner's progress logs a ProgressEvent, so even a write
this list missed would be caught by the event's signal unless it also used
bulk SQL; tests/progress/test_progress_version.py drives every engine write and
checks the version moved.
"""

from __future__ import annotations

import hashlib
import secrets
import zlib

from django.conf import settings
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from curriculum import cache as curriculum_cache
from learners.models import UserProfile

from .models import LearningPath, LearningProgress, ProgressEvent

# Ids per UPDATE: far below SQLite's bound on parameters in one statement.
_CHUNK = 5000


def new_version() -> int:
    """A fresh version: random, positive, fits a BIGINT."""
    return secrets.randbits(63)


def bump(user_ids) -> int:
    """Give each of these learners a new progress version (one UPDATE per 5,000). Returns the value set."""
    version = new_version()
    ids = sorted(set(user_ids))
    for start in range(0, len(ids), _CHUNK):
        UserProfile.objects.filter(user_id__in=ids[start:start + _CHUNK]).update(progress_version=version)
    return version


def fingerprint(shown, *, digest_size=8) -> str:
    """A short stable digest of ``shown`` (a tuple of plain values a cached page shows), for its key."""
    return hashlib.blake2b(repr(shown).encode(), digest_size=digest_size).hexdigest()


def cached_html(key, render, *, level=1, curriculum=False) -> str:
    """The HTML stored under ``key``, else ``render()``'s, stored for ``PROGRESS_CACHE_SECONDS``.

    For pages keyed by progress versions (the dashboard, the class report). Kept zlib-compressed
    (``level``): rendered pages are mostly repeated markup, 8 to 35 times smaller stored, so Redis
    and each process's local memory hold that many more. No ``key`` (it cannot be named, the cache
    is down) or ``PROGRESS_CACHE_SECONDS=0``: rendered every time.

    ``curriculum=True``: the page also shows the curriculum (curriculum/cache.py). Its current
    version is read together with the page, one ``get_many`` (one Redis round trip on a hit instead
    of two), and stored beside the HTML; a page stored under another version is drawn again. The
    version read is handed on: ``render(version)`` (None when there was none yet).
    """
    seconds = settings.PROGRESS_CACHE_SECONDS
    draw = render if curriculum else lambda _version: render()
    if key is None or not seconds:
        return draw(None)
    version_key = curriculum_cache.version_key() if curriculum else None
    found = cache.get_many([version_key, key] if curriculum else [key])
    version, stored = found.get(version_key), found.get(key)
    if stored is not None and stored[0] == version and (version is not None or not curriculum):
        return zlib.decompress(stored[1]).decode()
    html = draw(version)
    if version is not None or not curriculum:  # else render's snapshot created the version: store next time
        cache.set(key, (version, zlib.compress(html.encode(), level)), seconds)
    return html


@receiver(post_save, sender=LearningProgress)
@receiver(post_save, sender=ProgressEvent)
@receiver(post_save, sender=LearningPath)
@receiver(post_delete, sender=LearningProgress)
@receiver(post_delete, sender=LearningPath)
def _saved(sender, instance, raw=False, **kwargs):
    if not raw:  # loaddata: profiles may not exist yet, and nothing is cached for a fresh database
        bump([instance.user_id])
