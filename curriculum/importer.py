"""Read a curriculum in the MARS Labs native format and upsert it into the database.

The format is described, with an example, in docs/curriculum-format.md.

``import_curriculum`` works in two phases so that a bad file changes nothing:

1. *Check*: the whole document is read and every problem is collected, each
   message naming the item ("subjects[0].chapters[2].steps[4] 'Quiz':
   criteria: ..."). Then every item is matched to the database by its natural
   key and what the import would do is worked out, which can find more
   problems (a renamed chapter taking a title another chapter still has).
2. *Write*: only when nothing is wrong, inside one ``transaction.atomic()``.

Natural keys: a Subject by ``code``; a Chapter by ``external_id`` when the
file gives one, else by (subject, grade, title); a LearningStep by its title
within its chapter. Matching steps by title, not by position, is what lets a
teacher reorder steps without learners losing their progress on them.

Nothing is ever deleted: deleting a step or chapter would delete learners'
progress on it. Rows the file does not mention are kept, and moved to the end
of their chapter or textbook only when the file needs their position.

Used by ``manage.py seed_demo`` and ``manage.py import_curriculum``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils.translation import gettext as _

from mars_labs.schemas import STEP_TYPES, SchemaError, validate_activity, validate_completion_criteria

from . import cache as curriculum_cache
from .models import (
    LANGUAGE_CODE_VALIDATOR,
    OPTIONAL_STEP_TYPES,
    Chapter,
    LearningStep,
    Subject,
    default_completion_criteria,
)

FORMAT_NAME = "mars-labs-curriculum"
FORMAT_VERSION = 1
DEMO_CURRICULUM_PATH = Path(__file__).resolve().parent / "data" / "demo_curriculum.json"

# Generous, but far below the database's integer limit, so the temporary
# positions used while reordering (see _park_chapters) always fit.
MAX_ORDER_INDEX = 1_000_000
SUBJECT_CODE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+$")

DOCUMENT_FIELDS = ("format", "version", "description", "subjects")
SUBJECT_FIELDS = ("code", "name", "order", "language", "chapters")
CHAPTER_FIELDS = (
    "title", "slug", "grade", "order_index", "description", "is_active", "external_id", "prerequisite", "language",
    "steps",
)
STEP_FIELDS = (
    "title", "step_type", "order_index", "content", "criteria", "activity", "prerequisite_step",
    "optional_for_intermediate",
)

# Fields that take part in a Chapter unique constraint; a chapter whose value
# changes is parked on temporary values first so swaps cannot collide.
CHAPTER_UNIQUE_FIELDS = {"subject", "grade", "title", "order_index", "slug"}


class CurriculumError(Exception):
    """The curriculum cannot be imported; ``messages`` lists every problem found.

    Raised before anything is written, so the database is unchanged.
    """

    def __init__(self, messages):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("\n".join(self.messages))


@dataclass
class ModelCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self):
        return _("%(created)d created, %(updated)d updated, %(unchanged)d unchanged") % {
            "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
        }


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    dry_run: bool = False
    subjects: ModelCounts = field(default_factory=ModelCounts)
    chapters: ModelCounts = field(default_factory=ModelCounts)
    steps: ModelCounts = field(default_factory=ModelCounts)
    # One human-readable line per row created, updated or moved.
    changes: list[str] = field(default_factory=list)
    # Things an operator should look at that did not stop the import.
    warnings: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, ModelCounts]:
        return {"subjects": self.subjects, "chapters": self.chapters, "steps": self.steps}

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def summary(self) -> str:
        """One line per model: "Chapters: 2 created, 1 updated, 9 unchanged"."""
        names = {"subjects": _("Subjects"), "chapters": _("Chapters"), "steps": _("Steps")}
        return "\n".join(f"{names[key]}: {counts}" for key, counts in self.counts.items())


# --- Reading the document ----------------------------------------------------

_MISSING = object()


def _q(text):
    """A title quoted for a message: 'Ohm's Law' (repr would switch to double quotes)."""
    return f"'{text}'"


def _label(path, obj, key):
    """``subjects[0].chapters[2] 'Ohm's Law'``: where an item is, and its name when it has one."""
    name = obj.get(key) if isinstance(obj, dict) else None
    return f"{path} {_q(name)}" if isinstance(name, str) and name.strip() else path


def _is_int(value):
    # JSON true/false arrive as bool, which Python counts as int.
    return isinstance(value, int) and not isinstance(value, bool)


class _Fields:
    """Reads one JSON object's fields, adding an error that says where for each problem."""

    def __init__(self, obj, where, errors, *, allowed):
        self.obj, self.where, self.errors = obj, where, errors
        for key in obj:
            if key not in allowed:
                self.error(
                    _("has an unknown field %(field)r (expected one of: %(fields)s)")
                    % {"field": key, "fields": ", ".join(allowed)}
                )

    def error(self, message, *, key=None):
        self.errors.append(f"{self.where}: {key}: {message}" if key else f"{self.where}: {message}")

    def raw(self, key, *, required=False):
        if key in self.obj:
            return self.obj[key]
        if required:
            self.error(_("is missing the required field %(field)r") % {"field": key})
        return _MISSING

    def text(self, key, *, required=False, default=None, max_length=None, blank=False, nullable=False):
        value = self.raw(key, required=required)
        if value is _MISSING or (nullable and value is None):
            return default
        if not isinstance(value, str):
            self.error(_("must be text, not %(value)r") % {"value": value}, key=key)
            return default
        if not blank and not value.strip():
            self.error(_("cannot be empty"), key=key)
        if max_length and len(value) > max_length:
            self.error(_("is longer than %(max)d characters") % {"max": max_length}, key=key)
        return value

    def integer(self, key, *, minimum, maximum, required=False, default=None):
        value = self.raw(key, required=required)
        if value is _MISSING:
            return default
        if not _is_int(value):
            self.error(_("must be a whole number, not %(value)r") % {"value": value}, key=key)
            return default
        if not minimum <= value <= maximum:
            self.error(
                _("must be between %(min)d and %(max)d, not %(value)d")
                % {"min": minimum, "max": maximum, "value": value},
                key=key,
            )
        return value

    def boolean(self, key, *, default):
        value = self.raw(key)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.error(_("must be true or false, not %(value)r") % {"value": value}, key=key)
            return default
        return value

    def items(self, key):
        value = self.raw(key, required=True)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            self.error(_("must be a list"), key=key)
            return []
        return value


def _schema_messages(exc, root):
    """SchemaError messages, each starting with the field they are about."""
    messages = [str(m) for m in exc.messages]  # gettext_lazy proxies become text here
    return [m if m.startswith(root) else f"{root}: {m}" for m in messages]


@dataclass(eq=False)
class _SubjectSpec:
    where: str
    code: str
    name: str
    order: int
    language: str | None = None  # None: the file does not say; keep what the subject has
    chapters: list = field(default_factory=list)
    instance: Subject | None = None
    created: bool = False
    changed: list = field(default_factory=list)


@dataclass(eq=False)
class _ChapterSpec:
    where: str
    subject: _SubjectSpec
    title: str
    slug: str | None
    grade: int | None
    order_index: int
    description: str
    is_active: bool
    external_id: str | None
    prerequisite: str | None
    language: str | None = None  # None: the file does not say; keep what the chapter has
    steps: list = field(default_factory=list)
    instance: Chapter | None = None
    created: bool = False
    changed: list = field(default_factory=list)
    prerequisite_target: object = None  # a _ChapterSpec, or a Chapter the file does not mention
    prerequisite_changed: bool = False

    @property
    def textbook(self):
        return (self.subject.code, self.grade)


@dataclass(eq=False)
class _StepSpec:
    where: str
    chapter: _ChapterSpec
    title: str
    step_type: str
    order_index: int
    content: str
    criteria: dict
    activity: dict
    prerequisite: str | dict | None
    optional_for_intermediate: bool = False
    instance: LearningStep | None = None
    created: bool = False
    changed: list = field(default_factory=list)
    prerequisite_target: object = None  # a _StepSpec, or a LearningStep the file does not mention
    prerequisite_changed: bool = False


def _textbook_name(code, grade):
    if grade is None:
        return _("%(subject)s (every class)") % {"subject": code}
    return _("%(subject)s class %(grade)d") % {"subject": code, "grade": grade}


def _read_document(data):
    """Check the document's structure and values; return its subjects or raise CurriculumError."""
    errors = []
    if not isinstance(data, dict):
        raise CurriculumError(
            _('The curriculum must be a JSON object with "format", "version" and "subjects", not %(type)s.')
            % {"type": type(data).__name__}
        )
    doc = _Fields(data, _("document"), errors, allowed=DOCUMENT_FIELDS)
    fmt = doc.raw("format", required=True)
    if fmt is not _MISSING and fmt != FORMAT_NAME:
        doc.error(_("expected %(expected)r, not %(value)r") % {"expected": FORMAT_NAME, "value": fmt}, key="format")
    version = doc.raw("version", required=True)
    if version is not _MISSING and (not _is_int(version) or version != FORMAT_VERSION):
        doc.error(
            _("this importer reads version %(expected)d, not %(value)r")
            % {"expected": FORMAT_VERSION, "value": version},
            key="version",
        )
    doc.text("description", blank=True)

    subjects = []
    seen_codes = {}
    for i, raw_subject in enumerate(doc.items("subjects")):
        subject = _read_subject(raw_subject, f"subjects[{i}]", errors)
        if subject is None:
            continue
        if subject.code in seen_codes:
            errors.append(
                _("%(where)s: subject %(code)r is already described by %(other)s")
                % {"where": subject.where, "code": subject.code, "other": seen_codes[subject.code]}
            )
        seen_codes.setdefault(subject.code, subject.where)
        subjects.append(subject)

    # Unique across the whole file, as in the database.
    _check_unique_across_file(
        [c for s in subjects for c in s.chapters], "external_id", _("external_id %(value)r"), errors
    )
    _check_unique_across_file([c for s in subjects for c in s.chapters], "slug", _("slug %(value)r"), errors)
    if errors:
        raise CurriculumError(errors)
    return subjects


def _check_unique_across_file(items, attribute, description, errors, *, scope=None):
    """Add an error for each item whose ``attribute`` an earlier item (in the same ``scope``) already has."""
    seen = {}
    for item in items:
        value = getattr(item, attribute)
        if value is None or value == "":
            # Missing (already reported) or optional and absent.
            continue
        key = (scope(item) if scope else None, value)
        if key in seen:
            errors.append(
                _("%(where)s: %(what)s is also used by %(other)s")
                % {"where": item.where, "what": description % {"value": value}, "other": seen[key]}
            )
        else:
            seen[key] = item.where


def _read_subject(obj, path, errors):
    if not isinstance(obj, dict):
        errors.append(_("%(where)s: must be an object with code, name and chapters") % {"where": path})
        return None
    fields = _Fields(obj, _label(path, obj, "code"), errors, allowed=SUBJECT_FIELDS)
    code = fields.text("code", required=True, default="")
    if code and not SUBJECT_CODE_RE.match(code):
        fields.error(
            _("%(value)r is not a subject code: use up to 32 lowercase letters, digits, - or _ (like phy)")
            % {"value": code},
            key="code",
        )
    subject = _SubjectSpec(
        where=fields.where,
        code=code,
        name=fields.text("name", required=True, default="", max_length=100),
        order=fields.integer("order", minimum=0, maximum=32767, default=0),
        language=_language(fields),
    )
    for i, raw_chapter in enumerate(fields.items("chapters")):
        chapter = _read_chapter(raw_chapter, f"{path}.chapters[{i}]", subject, errors)
        if chapter is not None:
            subject.chapters.append(chapter)
    # A (subject, grade) is one textbook: titles and positions are unique in it.
    _check_unique_across_file(
        subject.chapters, "title", _("the title '%(value)s'"), errors, scope=lambda c: c.grade
    )
    _check_unique_across_file(
        subject.chapters, "order_index", _("order_index %(value)d"), errors, scope=lambda c: c.grade
    )
    return subject


def _language(fields):
    """The optional ``language`` of a subject or chapter: a language code, "" for the default, or None if absent."""
    language = fields.text("language", max_length=16, nullable=True, blank=True)
    if language:
        try:
            LANGUAGE_CODE_VALIDATOR(language)
        except ValidationError:
            fields.error(_("%(value)r is not a language code: use one such as en, hi or mr") % {"value": language},
                         key="language")
            return None
    return language


def _read_chapter(obj, path, subject, errors):
    if not isinstance(obj, dict):
        errors.append(
            _("%(where)s: must be an object with title, order_index, description and steps") % {"where": path}
        )
        return None
    fields = _Fields(obj, _label(path, obj, "title"), errors, allowed=CHAPTER_FIELDS)
    title = fields.text("title", required=True, default="", max_length=255)
    slug = fields.text("slug", max_length=255, nullable=True)
    if slug and not SLUG_RE.match(slug):
        fields.error(_("%(value)r is not a slug: use letters, digits, - and _ only") % {"value": slug}, key="slug")
    grade = fields.raw("grade")
    if grade is _MISSING:
        grade = None
    elif grade is not None and not (_is_int(grade) and 1 <= grade <= 12):
        fields.error(_("must be a class from 1 to 12, or null for every class, not %(value)r") % {"value": grade},
                     key="grade")
        grade = None
    chapter = _ChapterSpec(
        where=fields.where,
        subject=subject,
        title=title,
        slug=slug,
        grade=grade,
        order_index=fields.integer("order_index", required=True, minimum=0, maximum=MAX_ORDER_INDEX, default=0),
        description=fields.text("description", required=True, default=""),
        is_active=fields.boolean("is_active", default=True),
        external_id=fields.text("external_id", max_length=255, nullable=True),
        prerequisite=fields.text("prerequisite", max_length=255, nullable=True),
        language=_language(fields),
    )
    for i, raw_step in enumerate(fields.items("steps")):
        step = _read_step(raw_step, f"{path}.steps[{i}]", chapter, errors)
        if step is not None:
            chapter.steps.append(step)
    # Steps are matched by title, so a title may appear once per chapter.
    _check_unique_across_file(chapter.steps, "title", _("the title '%(value)s'"), errors)
    _check_unique_across_file(chapter.steps, "order_index", _("order_index %(value)d"), errors)
    return chapter


def _read_step(obj, path, chapter, errors):
    if not isinstance(obj, dict):
        errors.append(_("%(where)s: must be an object with title, step_type and order_index") % {"where": path})
        return None
    fields = _Fields(obj, _label(path, obj, "title"), errors, allowed=STEP_FIELDS)
    title = fields.text("title", required=True, default="", max_length=255)
    step_type = fields.raw("step_type", required=True)
    if step_type is not _MISSING and step_type not in STEP_TYPES:
        fields.error(
            _("unknown step type %(value)r: use one of %(types)s")
            % {"value": step_type, "types": ", ".join(STEP_TYPES)},
            key="step_type",
        )
    order_index = fields.integer("order_index", required=True, minimum=0, maximum=MAX_ORDER_INDEX, default=0)
    content = fields.text("content", default="", blank=True)

    criteria = fields.raw("criteria")
    criteria_ok = True
    if criteria is _MISSING:
        criteria = default_completion_criteria()
    else:
        try:
            validate_completion_criteria(criteria)
        except SchemaError as exc:
            criteria_ok = False
            for message in _schema_messages(exc, "criteria"):
                fields.error(message)

    activity = fields.raw("activity")
    if activity is _MISSING:
        activity = {}
    try:
        # The quiz cross-check needs sound criteria; bad ones were reported above.
        validate_activity(activity, criteria=criteria if criteria_ok else None)
    except SchemaError as exc:
        for message in _schema_messages(exc, "activity"):
            fields.error(message)
    else:
        waits_for_questions = criteria_ok and criteria.get("type") == "external"
        if step_type == "quiz" and not activity.get("questions") and not waits_for_questions:
            # The step page shows a quiz step's questions, so it needs some even
            # when its completion is not the quiz score. An externally judged
            # quiz (an OLabs Viva Voce) may wait for a teacher to add them.
            fields.error(_("activity: A quiz step needs at least one question with a correct answer marked."))

    optional = fields.boolean("optional_for_intermediate", default=False)
    if optional and step_type not in OPTIONAL_STEP_TYPES:
        fields.error(_("only reading and video steps can be optional for intermediate learners"),
                     key="optional_for_intermediate")

    prerequisite = fields.raw("prerequisite_step")
    if prerequisite is _MISSING:
        prerequisite = None
    elif prerequisite is not None and not _is_step_reference(prerequisite):
        fields.error(
            _('must be the title of a step in this chapter, or {"chapter": "<title>", "step": "<title>"}'),
            key="prerequisite_step",
        )
        prerequisite = None

    return _StepSpec(
        where=fields.where,
        chapter=chapter,
        title=title,
        step_type=step_type if step_type is not _MISSING else "",
        order_index=order_index,
        content=content,
        criteria=criteria,
        activity=activity,
        prerequisite=prerequisite,
        optional_for_intermediate=optional,
    )


def _is_step_reference(value):
    if isinstance(value, str):
        return bool(value.strip())
    return (
        isinstance(value, dict)
        and set(value) == {"chapter", "step"}
        and all(isinstance(v, str) and v.strip() for v in value.values())
    )


# --- Matching the document to the database -----------------------------------


def _assign(instance, values):
    """Set ``values`` on ``instance``; return the names of the fields that change."""
    changed = []
    for name, value in values.items():
        if getattr(instance, name) != value:
            changed.append(name)
            setattr(instance, name, value)
    return changed


def _target_pk(target):
    """The database id a prerequisite will point at, or None when the import creates it."""
    if target is None:
        return None
    if isinstance(target, _ChapterSpec | _StepSpec):
        return None if target.created else target.instance.pk
    return target.pk


def _prerequisite_changes(current_pk, target):
    if target is None:
        return current_pk is not None
    target_pk = _target_pk(target)
    return target_pk is None or target_pk != current_pk


def _check_model(instance, where, errors, *, exclude):
    """Run the model's own field validation, a safety net behind the checks above."""
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            for message in messages:
                errors.append(f"{where}: {name}: {message}")


def _relocate(leftovers, taken):
    """Leftover rows that sit on a position in ``taken``, each with the free position it moves to.

    Rows the file does not mention keep their position unless the file needs
    it; then they move after everything else, in their old order.
    """
    staying = [row.order_index for row in leftovers if row.order_index not in taken]
    top = max([*taken, *staying], default=0)
    moves = []
    for row in sorted(leftovers, key=lambda r: r.order_index):
        if row.order_index in taken:
            top += 1
            moves.append((row, row.order_index, top))
    return moves


@dataclass
class _Plan:
    report: ImportReport
    subjects: list
    chapters: list
    steps: list
    moved_chapters: list = field(default_factory=list)  # (Chapter, old position, new position)
    moved_steps: list = field(default_factory=list)  # (LearningStep, old position, new position)


def _plan(subjects, report):
    """Match every item to the database and work out the changes; raise CurriculumError on conflicts.

    Sets the final field values on the (unsaved) instances but writes nothing.
    """
    errors = []
    chapters = [c for s in subjects for c in s.chapters]
    steps = [st for c in chapters for st in c.steps]
    plan = _Plan(report=report, subjects=subjects, chapters=chapters, steps=steps)

    _plan_subjects(plan)
    leftover_chapters = _plan_chapters(plan, errors)
    leftover_steps = _plan_steps(plan, errors)
    _plan_chapter_prerequisites(plan, leftover_chapters, errors)
    _plan_step_prerequisites(plan, leftover_chapters, leftover_steps, errors)
    if errors:
        raise CurriculumError(errors)
    _count_and_describe(plan)
    return plan


def _plan_subjects(plan):
    existing = Subject.objects.in_bulk([s.code for s in plan.subjects], field_name="code")
    for spec in plan.subjects:
        spec.instance = existing.get(spec.code)
        if spec.instance is None:
            spec.instance, spec.created = Subject(code=spec.code, name=spec.name, order=spec.order), True
        else:
            spec.changed = _assign(spec.instance, {"name": spec.name, "order": spec.order})
        if spec.language is not None:
            if spec.created:
                spec.instance.language = spec.language
            else:
                spec.changed += _assign(spec.instance, {"language": spec.language})


def _plan_chapters(plan, errors):
    """Match chapters; return the chapters of each touched textbook that the file does not mention."""
    codes = [s.code for s in plan.subjects]
    external_ids = [c.external_id for c in plan.chapters if c.external_id]
    known = list(
        Chapter.objects.filter(Q(subject__code__in=codes) | Q(external_id__in=external_ids)).select_related("subject")
    )
    by_external_id = {c.external_id: c for c in known if c.external_id}
    by_key = {(c.subject.code, c.grade, c.title): c for c in known}
    claimed = {}  # chapter pk -> the spec that describes it
    refused = set()  # specs already reported, so one mistake gives one message

    # External ids first: a chapter found by its id may be renamed or moved,
    # which frees its old title for another chapter in the file.
    for spec in plan.chapters:
        match = by_external_id.get(spec.external_id) if spec.external_id else None
        if match is not None:
            spec.instance, claimed[match.pk] = match, spec
    for spec in plan.chapters:
        if spec.instance is not None:
            continue
        match = by_key.get((spec.subject.code, spec.grade, spec.title))
        if match is not None and match.pk not in claimed:
            if spec.external_id and match.external_id and match.external_id != spec.external_id:
                errors.append(
                    _("%(where)s: %(textbook)s already has a chapter titled '%(title)s' with the external_id "
                      "%(other)r, not %(value)r")
                    % {"where": spec.where, "textbook": _textbook_name(*spec.textbook), "title": spec.title,
                       "other": match.external_id, "value": spec.external_id}
                )
                refused.add(spec)
                continue
            spec.instance, claimed[match.pk] = match, spec

    leftovers = defaultdict(list)  # textbook -> chapters in it the file does not mention
    for chapter in known:
        if chapter.pk not in claimed and chapter.subject.code in codes:
            leftovers[(chapter.subject.code, chapter.grade)].append(chapter)

    by_textbook = defaultdict(list)
    for spec in plan.chapters:
        by_textbook[spec.textbook].append(spec)
    for textbook, specs in by_textbook.items():
        titles = {c.title: c for c in leftovers[textbook]}
        for spec in specs:
            if spec.title in titles and spec not in refused:
                errors.append(
                    _("%(where)s: another chapter in %(textbook)s is already titled '%(title)s'")
                    % {"where": spec.where, "textbook": _textbook_name(*textbook), "title": spec.title}
                )
        for chapter, old, new in _relocate(leftovers[textbook], {s.order_index for s in specs}):
            chapter.order_index = new
            plan.moved_chapters.append((chapter, old, new))

    _check_slugs(plan, claimed, errors)

    for spec in plan.chapters:
        values = {
            "grade": spec.grade, "title": spec.title, "description": spec.description,
            "order_index": spec.order_index, "is_active": spec.is_active,
        }
        # Absent slug or external_id: keep what the chapter has (its URL, its link to another system).
        if spec.slug is not None:
            values["slug"] = spec.slug
        if spec.external_id is not None:
            values["external_id"] = spec.external_id
        if spec.language is not None:
            values["language"] = spec.language
        if spec.instance is None:
            spec.instance, spec.created = Chapter(**values), True
        else:
            if spec.instance.subject.code != spec.subject.code:
                spec.changed.append("subject")
            spec.changed += _assign(spec.instance, values)
        _check_model(spec.instance, spec.where, errors, exclude=["subject", "prerequisite_chapter"])
    return leftovers


def _check_slugs(plan, claimed, errors):
    wanted = {spec.slug: spec for spec in plan.chapters if spec.slug}
    for owner in Chapter.objects.filter(slug__in=wanted):
        spec = wanted[owner.slug]
        if spec.instance is not None and spec.instance.pk == owner.pk:
            continue
        owner_spec = claimed.get(owner.pk)
        # Fine if the file gives the chapter holding it another slug: it moves away in the same import.
        if owner_spec is None or owner_spec.slug in (None, owner.slug):
            errors.append(
                _("%(where)s: slug: %(slug)r is already used by the chapter %(other)s")
                % {"where": spec.where, "slug": owner.slug, "other": owner}
            )


def _plan_steps(plan, errors):
    """Match steps by title within their chapter; return the steps of each chapter the file does not mention."""
    existing = defaultdict(list)
    matched_chapters = [c.instance.pk for c in plan.chapters if not c.created]
    for step in LearningStep.objects.filter(chapter__in=matched_chapters).order_by("order_index"):
        existing[step.chapter_id].append(step)

    leftovers = {}  # chapter spec -> its steps the file does not mention
    for chapter in plan.chapters:
        rows = [] if chapter.created else existing[chapter.instance.pk]
        by_title = {}
        for row in rows:
            # Titles are not unique in the database (the admin allows repeats): the first one is the match.
            by_title.setdefault(row.title, row)
        claimed = set()
        for spec in chapter.steps:
            match = by_title.get(spec.title)
            values = {
                "title": spec.title, "content": spec.content, "step_type": spec.step_type,
                "order_index": spec.order_index, "required_completion_criteria": spec.criteria,
                "activity": spec.activity, "optional_for_intermediate": spec.optional_for_intermediate,
            }
            if match is None:
                spec.instance, spec.created = LearningStep(**values), True
            else:
                claimed.add(match.pk)
                spec.instance = match
                spec.changed = _assign(match, values)
            _check_model(spec.instance, spec.where, errors, exclude=["chapter", "prerequisite_step"])
        leftovers[chapter] = [row for row in rows if row.pk not in claimed]
        for row in leftovers[chapter]:
            plan.report.warnings.append(
                _("%(where)s: the step '%(title)s' is in the database but not in the file; it was kept. "
                  "Delete it in the admin if it is no longer wanted.")
                % {"where": chapter.where, "title": row.title}
            )
        for row, old, new in _relocate(leftovers[chapter], {s.order_index for s in chapter.steps}):
            row.order_index = new
            plan.moved_steps.append((row, old, new))
    return leftovers


def _plan_chapter_prerequisites(plan, leftovers, errors):
    file_chapters = {(c.subject.code, c.grade, c.title): c for c in plan.chapters}
    for spec in plan.chapters:
        if spec.prerequisite is not None:
            if spec.prerequisite == spec.title:
                errors.append(
                    _("%(where)s: prerequisite: a chapter cannot be its own prerequisite") % {"where": spec.where}
                )
                continue
            spec.prerequisite_target = _find_chapter(spec.textbook, spec.prerequisite, file_chapters, leftovers)
            if spec.prerequisite_target is None:
                errors.append(
                    _("%(where)s: prerequisite: there is no chapter titled '%(title)s' in %(textbook)s")
                    % {"where": spec.where, "title": spec.prerequisite, "textbook": _textbook_name(*spec.textbook)}
                )
                continue
        current = None if spec.created else spec.instance.prerequisite_chapter_id
        spec.prerequisite_changed = _prerequisite_changes(current, spec.prerequisite_target)

    # A loop of prerequisites would lock every chapter in it for ever.
    reported = set()
    for spec in plan.chapters:
        chain, node = [], spec
        while isinstance(node, _ChapterSpec) and node not in chain:
            chain.append(node)
            node = node.prerequisite_target
        if node is spec and spec not in reported:
            reported.update(chain)
            errors.append(
                _("%(where)s: prerequisite: the chapters' prerequisites go round in a loop: %(loop)s")
                % {"where": spec.where, "loop": " → ".join(f"'{c.title}'" for c in [*chain, spec])}
            )


def _find_chapter(textbook, title, file_chapters, leftovers):
    """The chapter titled ``title`` in ``textbook``: from the file, else one already in the database."""
    found = file_chapters.get((*textbook, title))
    if found is None:
        found = next((c for c in leftovers.get(textbook, []) if c.title == title), None)
    return found


def _plan_step_prerequisites(plan, leftover_chapters, leftover_steps, errors):
    file_chapters = {(c.subject.code, c.grade, c.title): c for c in plan.chapters}
    for spec in plan.steps:
        target = None
        if spec.prerequisite is not None:
            chapter_title, step_title = (
                (spec.chapter.title, spec.prerequisite) if isinstance(spec.prerequisite, str)
                else (spec.prerequisite["chapter"], spec.prerequisite["step"])
            )
            chapter = _find_chapter(spec.chapter.textbook, chapter_title, file_chapters, leftover_chapters)
            if chapter is None:
                errors.append(
                    _("%(where)s: prerequisite_step: there is no chapter titled '%(title)s' in %(textbook)s")
                    % {"where": spec.where, "title": chapter_title,
                       "textbook": _textbook_name(*spec.chapter.textbook)}
                )
                continue
            if isinstance(chapter, _ChapterSpec):
                target = next((s for s in chapter.steps if s.title == step_title), None)
                target = target or next((s for s in leftover_steps[chapter] if s.title == step_title), None)
            else:
                target = chapter.steps.filter(title=step_title).order_by("order_index").first()
            if target is None:
                errors.append(
                    _("%(where)s: prerequisite_step: the chapter '%(chapter)s' has no step titled '%(title)s'")
                    % {"where": spec.where, "chapter": chapter_title, "title": step_title}
                )
                continue
            if target is spec:
                errors.append(
                    _("%(where)s: prerequisite_step: a step cannot be its own prerequisite") % {"where": spec.where}
                )
                continue
            same_chapter = isinstance(target, _StepSpec) and target.chapter is spec.chapter
            if same_chapter and target.order_index > spec.order_index:
                # Steps open in order, so a later step can never be done first.
                errors.append(
                    _("%(where)s: prerequisite_step: '%(title)s' comes later in the chapter, so this step could "
                      "never be opened")
                    % {"where": spec.where, "title": step_title}
                )
                continue
        spec.prerequisite_target = target
        current = None if spec.created else spec.instance.prerequisite_step_id
        spec.prerequisite_changed = _prerequisite_changes(current, target)


def _count_and_describe(plan):
    report = plan.report
    for spec in plan.subjects:
        if spec.created:
            report.subjects.created += 1
            report.changes.append(_("Create subject %(code)s (%(name)s).") % {"code": spec.code, "name": spec.name})
        elif spec.changed:
            report.subjects.updated += 1
            report.changes.append(
                _("Update subject %(code)s: %(fields)s.") % {"code": spec.code, "fields": ", ".join(spec.changed)}
            )
        else:
            report.subjects.unchanged += 1

    for spec in plan.chapters:
        name = {"title": spec.title, "textbook": _textbook_name(*spec.textbook)}
        changed = spec.changed + (["prerequisite"] if spec.prerequisite_changed and not spec.created else [])
        if spec.created:
            report.chapters.created += 1
            report.changes.append(_("Create chapter '%(title)s' in %(textbook)s.") % name)
        elif changed:
            report.chapters.updated += 1
            report.changes.append(
                _("Update chapter '%(title)s' in %(textbook)s: %(fields)s.") % {**name, "fields": ", ".join(changed)}
            )
        else:
            report.chapters.unchanged += 1
    for chapter, old, new in plan.moved_chapters:
        report.chapters.updated += 1
        report.changes.append(
            _("Move chapter '%(title)s' (not in the file) from position %(old)d to %(new)d to make room.")
            % {"title": chapter.title, "old": old, "new": new}
        )

    for spec in plan.steps:
        name = {"chapter": spec.chapter.title, "title": spec.title}
        changed = spec.changed + (["prerequisite_step"] if spec.prerequisite_changed and not spec.created else [])
        if spec.created:
            report.steps.created += 1
            report.changes.append(_("Create step '%(title)s' in chapter '%(chapter)s'.") % name)
        elif changed:
            report.steps.updated += 1
            report.changes.append(
                _("Update step '%(title)s' in chapter '%(chapter)s': %(fields)s.")
                % {**name, "fields": ", ".join(changed)}
            )
        else:
            report.steps.unchanged += 1
    for step, old, new in plan.moved_steps:
        report.steps.updated += 1
        report.changes.append(
            _("Move step '%(title)s' (not in the file) from position %(old)d to %(new)d to make room.")
            % {"title": step.title, "old": old, "new": new}
        )


# --- Writing -------------------------------------------------------------------


def _free_order_base(model, plan_values):
    """A position above every position in the table and in the plan: parking space for reordering."""
    highest = model.objects.aggregate(highest=Max("order_index"))["highest"] or 0
    return max(highest, *plan_values, 0) + 1


def _park_chapters(plan):
    """Move chapters whose position, textbook, title or slug changes onto temporary unique values.

    The unique constraints (title and order_index per textbook, slug) are
    checked row by row, so swapping two chapters' positions would otherwise
    collide half-way. Queryset updates leave ``updated_at`` alone; the final
    save sets every field from the instance.
    """
    parking = [
        spec for spec in plan.chapters if not spec.created and CHAPTER_UNIQUE_FIELDS.intersection(spec.changed)
    ]
    if not parking and not plan.moved_chapters:
        return
    base = _free_order_base(Chapter, [spec.order_index for spec in plan.chapters] + [m[2] for m in plan.moved_chapters])
    for offset, spec in enumerate(parking):
        temporary = {"order_index": base + offset}
        if {"title", "subject", "grade"}.intersection(spec.changed):
            temporary["title"] = f"~importing~{spec.instance.pk}"
        if "slug" in spec.changed:
            temporary["slug"] = f"importing-{spec.instance.pk}"
        Chapter.objects.filter(pk=spec.instance.pk).update(**temporary)
    for offset, (chapter, _old, _new) in enumerate(plan.moved_chapters, start=len(parking)):
        Chapter.objects.filter(pk=chapter.pk).update(order_index=base + offset)


def _park_steps(plan):
    """Move steps whose position changes onto temporary unique positions (see _park_chapters)."""
    parking = [spec.instance.pk for spec in plan.steps if not spec.created and "order_index" in spec.changed]
    parking += [step.pk for step, _old, _new in plan.moved_steps]
    if not parking:
        return
    base = _free_order_base(LearningStep, [spec.order_index for spec in plan.steps] + [m[2] for m in plan.moved_steps])
    for offset, pk in enumerate(parking):
        LearningStep.objects.filter(pk=pk).update(order_index=base + offset)


def _apply(plan):
    """Write the plan. Call inside a transaction: a failure half-way must undo the rest."""
    for spec in plan.subjects:
        if spec.created or spec.changed:
            spec.instance.save()

    _park_chapters(plan)
    # Chapters that name their slug go first, so an automatic slug made for
    # another new chapter cannot take it.
    for spec in sorted(plan.chapters, key=lambda c: c.slug is None):
        if spec.created or spec.changed:
            spec.instance.subject = spec.subject.instance
            spec.instance.save()
    for chapter, _old, _new in plan.moved_chapters:
        chapter.save(update_fields=["order_index", "updated_at"])
    for spec in plan.chapters:
        if spec.prerequisite_changed:
            target = spec.prerequisite_target
            spec.instance.prerequisite_chapter = target.instance if isinstance(target, _ChapterSpec) else target
            spec.instance.save(update_fields=["prerequisite_chapter", "updated_at"])

    _park_steps(plan)
    for spec in plan.steps:
        if spec.created or spec.changed:
            spec.instance.chapter = spec.chapter.instance
            spec.instance.save()
    for step, _old, _new in plan.moved_steps:
        step.save(update_fields=["order_index", "updated_at"])
    for spec in plan.steps:
        if spec.prerequisite_changed:
            target = spec.prerequisite_target
            spec.instance.prerequisite_step = target.instance if isinstance(target, _StepSpec) else target
            spec.instance.save(update_fields=["prerequisite_step", "updated_at"])


# --- Entry points ---------------------------------------------------------------


def import_curriculum(data, *, dry_run=False) -> ImportReport:
    """Check a native-format curriculum document and upsert its subjects, chapters and steps.

    ``data`` is the parsed JSON (see ``load_curriculum_file``). Creates or
    updates the Subject, Chapter and LearningStep rows it describes, matched
    by natural key; rows it does not mention are kept, moved to the end of
    their textbook or chapter only when the file needs their position. Deletes
    nothing. Running it twice with the same document changes nothing.

    With ``dry_run`` it writes nothing and reports what it would do.
    Raises ``CurriculumError``, listing every problem, with nothing written.
    """
    subjects = _read_document(data)
    report = ImportReport(dry_run=dry_run)
    try:
        # Plan inside the transaction too, so the rows it matched cannot
        # change under it before the writes (SQLite takes the write lock at
        # BEGIN; PostgreSQL reports a clash as an IntegrityError).
        with transaction.atomic():
            plan = _plan(subjects, report)
            if not dry_run:
                _apply(plan)
                curriculum_cache.invalidate_on_commit()  # positions move by QuerySet.update (no signals)
    except IntegrityError as exc:
        raise CurriculumError(
            _("The database refused the import, so nothing was changed (was another import running?): %(error)s")
            % {"error": exc}
        ) from exc
    return report


def load_curriculum_file(path):
    """Read a curriculum JSON file and return the parsed document; writes nothing.

    Raises ``CurriculumError`` naming the file when it cannot be read or is not JSON.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CurriculumError(
            _("Cannot read %(path)s: %(reason)s") % {"path": path, "reason": exc.strerror or exc}
        ) from exc
    except UnicodeDecodeError as exc:
        raise CurriculumError(_("%(path)s is not UTF-8 text: %(reason)s") % {"path": path, "reason": exc}) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CurriculumError(
            _("%(path)s is not valid JSON: %(reason)s at line %(line)d, column %(column)d")
            % {"path": path, "reason": exc.msg, "line": exc.lineno, "column": exc.colno}
        ) from exc
    except ValueError as exc:  # a whole number of over 4300 digits, which Python refuses to read
        raise CurriculumError(_("%(path)s is not valid JSON: %(reason)s") % {"path": path, "reason": exc}) from exc
