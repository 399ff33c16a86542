"""The curriculum structure, cached: one versioned snapshot per grade, shared by every app process.

Read paths (the dashboard, class reports, roll-ups) need a grade's chapters and
steps on every request, and they change only when a teacher edits the
curriculum. ``snapshot(grade)`` returns them without a query:

* A *version* key in the Django cache names the current curriculum. Any save
  or delete of a Subject, Chapter, LearningStep or PathRule (signals below),
  an admin bulk action and an import call ``invalidate()``, which writes a new
  random version. With ``CACHE_URL`` on Redis every process reads the same
  version key, so one bump invalidates every app server at once.
* The snapshot itself is pickled into the cache under ``(version, grade)`` and
  also kept in this process's memory, so a request costs one cache ``get`` (the
  version) and no unpickling while the curriculum is unchanged.
* The version is bumped when the write happens *and* again when its
  transaction commits, so no process can keep a snapshot read between the two.
* A snapshot is at most ``CURRICULUM_CACHE_SECONDS`` old (default 600): a
  change made behind Django's back (raw SQL, ``QuerySet.update`` in a shell)
  shows within that time (plus one rebuild). When a snapshot of the current
  version ages out, one process rebuilds it (a lock in the cache) and the
  others serve the copy they have until the new one is there.
* When the cache is unreachable (mars_labs/cache.py turns that into misses) the
  snapshot is built from the database for the request and not kept: slower,
  never stale, never an error.

Steps come without ``content`` and ``activity`` (deferred: the pages that show
a step read it themselves), so a process holds every grade's structure in a
few megabytes.
"""

from __future__ import annotations

import gc
import hashlib
import os
import threading
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Chapter, LearningStep, Subject


def database_tag():
    """Which database cached things describe, so two sites (or a bench) sharing one Redis never swap them."""
    db = settings.DATABASES["default"]
    raw = f"{db.get('ENGINE')}|{db.get('HOST') or ''}|{db.get('PORT') or ''}|{db.get('NAME')}"
    return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()[:12]


def version_key():
    return f"curriculum:{database_tag()}:version"
# Steps load without these (a snapshot holds the structure, not the lesson text).
DEFERRED_STEP_FIELDS = ("content", "activity")


# How long one process may hold the right to rebuild an aged snapshot (it lets go when done; this is
# for a process that dies mid-build).
REBUILD_SECONDS = 60


def max_age():
    return getattr(settings, "CURRICULUM_CACHE_SECONDS", 600)


@dataclass
class Snapshot:
    """A grade's curriculum as the read paths use it. Shared between requests: never modify it.

    ``chapters``: the grade's active chapters plus the prerequisite chapters
    outside it (another class, retired), in ``engine.curriculum_states`` order;
    each has ``in_curriculum`` (False for those outside, whose own prerequisite
    is dropped: only whether they are done matters). ``steps``: their steps
    by (chapter_id, order_index), with ``prerequisite_step.chapter`` loaded and
    ``chapter`` set to the snapshot's chapter object. Each chapter has ``steps_total``.
    """

    grade: int | None
    version: str
    chapters: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    built_at: float = 0.0

    @property
    def curriculum_chapters(self):
        """The grade's own chapters (active, this grade or none), in textbook order."""
        return [c for c in self.chapters if c.in_curriculum]



def build(grade, version=""):
    """Read a grade's snapshot from the database (three queries)."""
    own = Chapter.objects.for_grade(grade)
    chapters = list(
        Chapter.objects.filter(Q(pk__in=own.values("pk")) | Q(pk__in=own.values("prerequisite_chapter")))
        .annotate(in_curriculum=Exists(own.filter(pk=OuterRef("pk"))))
        .select_related("subject")
        .order_by("subject__order", "subject__name", "subject_id", F("grade").asc(nulls_first=True), "order_index")
    )
    by_id = {c.pk: c for c in chapters}
    for chapter in chapters:
        chapter.in_curriculum = bool(chapter.in_curriculum)
        if not chapter.in_curriculum:
            chapter.prerequisite_chapter_id = None
    steps = list(
        LearningStep.objects.filter(chapter_id__in=by_id)
        .defer(*DEFERRED_STEP_FIELDS)
        .select_related("prerequisite_step__chapter")
        .defer(*(f"prerequisite_step__{name}" for name in DEFERRED_STEP_FIELDS))
        .order_by("chapter_id", "order_index")
    ) if by_id else []
    for chapter in chapters:
        chapter.steps_total = 0
    for step in steps:
        step.chapter = by_id[step.chapter_id]
        step.chapter.steps_total += 1
    return Snapshot(grade=grade, version=version, chapters=chapters, steps=steps, built_at=time.time())


# This process's copies: {grade: Snapshot}. Replaced whole, never modified in place.
_local = {}
_lock = threading.Lock()


def current_version():
    """The curriculum version in the shared cache, creating one if there is none; None if the cache is down."""
    version = cache.get(version_key())
    if version is None:
        fresh = uuid.uuid4().hex
        version = fresh if cache.add(version_key(), fresh, timeout=None) else cache.get(version_key())
    return version


def snapshot(grade, *, version=None) -> Snapshot:
    """The curriculum of ``grade`` (None: the grade-less chapters only), from memory, the cache or the database.

    ``version``: the current version when the caller has just read it (progress/versions.py reads it
    with a cached page, in one round trip); else it is read here.
    """
    version = version or current_version()
    if version is None:  # the cache is unreachable: read the database, keep nothing
        return build(grade)
    now = time.time()
    local = _local.get(grade)
    if local is not None and local.version == version and now - local.built_at < max_age():
        return local
    key = f"curriculum:{database_tag()}:{version}:{grade}"
    shared = cache.get(key)
    if shared is not None and shared.version == version and now - shared.built_at < max_age():
        return _keep(grade, shared)
    # The current version, only older than max_age (a backstop for changes made behind Django's back):
    # one process rebuilds it while the others go on serving their copy. Otherwise every worker of
    # every app server rebuilt it from the database at once, every max_age (~0.4 s each at
    # district scale: a stall of every worker, in the tail of every page).
    # (The shared copy leaves the cache when it ages: a process without its own copy builds one.)
    aged = local is not None and local.version == version
    rebuilding = f"{key}:rebuilding"
    if aged and not cache.add(rebuilding, os.getpid(), timeout=REBUILD_SECONDS):
        return local
    fresh = build(grade, version)
    cache.set(key, fresh, timeout=max_age())
    if aged:
        cache.delete(rebuilding)
    return _keep(grade, fresh)


def _keep(grade, snapshot):
    with _lock:
        _local[grade] = snapshot
    # The snapshot lives as long as the curriculum: move it (and what exists now) out of the
    # collector's reach, or every full collection walks its thousands of objects again.
    gc.freeze()
    return snapshot


def invalidate():
    """A new curriculum version: every process rebuilds its snapshots on their next use."""
    _local.clear()
    cache.set(version_key(), uuid.uuid4().hex, timeout=None)


def invalidate_on_commit():
    """``invalidate()`` now and again when the current transaction commits (see the module docstring)."""
    invalidate()
    transaction.on_commit(invalidate)


def clear_local():
    """Forget this process's copies (tests; the shared cache keeps its own)."""
    _local.clear()


def connect_signals():
    from progress.models import PathRule

    for model in (Subject, Chapter, LearningStep, PathRule):
        receiver(post_save, sender=model, dispatch_uid=f"curriculum-cache-save-{model.__name__}")(_changed)
        receiver(post_delete, sender=model, dispatch_uid=f"curriculum-cache-delete-{model.__name__}")(_changed)


def _changed(sender, **kwargs):
    if kwargs.get("raw"):  # loaddata: the fixture is loaded first, then we bump once
        return
    invalidate_on_commit()
