"""Turn an OLabs catalogue into a native-format curriculum document.

An OLabs catalogue is JSON keyed by ids (strings)::

    {"<subject id>": {"name": "Physics", "branches": {
        "<branch id>": {"name": "Class 12", "simulations": {
            "<sim id>": {"name": "Ohm's law", "count": "1"}}}}}}

Each simulation becomes one chapter in its subject and class, with
``external_id`` ``olabs:<subject id>/<branch id>/<sim id>`` and the five OLabs
steps (Theory, Procedure, Animation, Simulation, Viva Voce). The document is
then imported by ``curriculum.importer.import_curriculum`` like any other.

Real catalogues are messy, so ``catalogue_to_native`` imports what it can and
lists the rest in ``OlabsConversion.skipped`` with a reason each; it never
raises on bad content, only on a top level that is not a JSON object:

* the same subject under two ids ("Physics", "physics ") is one Subject,
  merged by normalised name; Physics, Chemistry, Maths/Mathematics and
  Biology get the MARS-labs codes phy, chem, math, bio, other subjects a slug
  of their name (or ``olabs-<id>`` when the name has no Latin letters);
* a branch named "Class N" gives the grade; any other branch name is a topic:
  grade None, the topic kept in the chapter's description;
* repeated simulation names in one textbook (subject + class) get " (2)",
  " (3)", ... in id order, so titles stay unique;
* "N/A" as a key or name means unknown: that item is skipped, saying why;
* names in any script are kept as titles; slugs fall back to the external id
  when the name has no Latin letters.

A simulation whose chapter is already in the database (same external_id) is
left exactly as it is, so teachers' edits (questions added to Viva Voce, a
better description, a reordering) survive a second import, and nothing is
ever duplicated. Only new simulations become chapters, placed after the
chapters already in their textbook.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.utils.text import slugify
from django.utils.translation import gettext as _

from .importer import FORMAT_NAME, FORMAT_VERSION, SUBJECT_CODE_RE
from .models import Chapter, Subject

EXTERNAL_ID_PREFIX = "olabs:"
OLABS_SITE = "https://www.olabs.edu.in/"
PLACEHOLDERS = {"n/a", "na", "none", "null", "-", ""}
# Names OLabs (and MARS-labs clients) use for the four MARS-labs subjects.
KNOWN_SUBJECTS = {
    "physics": "phy", "phy": "phy", "phys": "phy",
    "chemistry": "chem", "chem": "chem",
    "maths": "math", "math": "math", "mathematics": "math",
    "biology": "bio", "bio": "bio",
}
CLASS_RE = re.compile(r"^\s*(?:class|grade|std\.?|standard)\s*[-:]?\s*(\d{1,2})\s*(?:th|st|nd|rd)?\s*$", re.I)
MAX_TITLE = 255
MAX_SUBJECT_NAME = 100


@dataclass
class OlabsConversion:
    """The native document built from a catalogue, and what could not go in it."""

    document: dict
    simulations: int = 0  # simulations found in the catalogue (importable or not)
    new_chapters: int = 0
    existing_chapters: int = 0  # already imported before: left as they are
    skipped: list[str] = field(default_factory=list)  # one line per item left out, with the reason
    notes: list[str] = field(default_factory=list)  # merged subjects, renamed titles: imported, but worth knowing


def _normalise(text):
    # Same spirit as progress.engine.normalise_title; kept local so curriculum
    # does not import progress.
    text = re.sub(r"['’`]", "", str(text).casefold())
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def _is_placeholder(value):
    return not isinstance(value, str) or value.strip().casefold() in PLACEHOLDERS


def _id_sort_key(key):
    """Numeric ids in number order ("2" before "10"), others after, by text."""
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def _grade_of(branch_name):
    match = CLASS_RE.match(branch_name)
    if match and 1 <= int(match.group(1)) <= 12:
        return int(match.group(1))
    return None


def _olabs_url(subject_id, branch_id, sim_id, count):
    params = {"sub": subject_id, "brch": branch_id, "sim": sim_id}
    if isinstance(count, str | int) and str(count).strip().isdigit():
        params["cnt"] = str(count).strip()
    return f"{OLABS_SITE}?{urlencode(params)}"


@dataclass
class _Sim:
    subject_id: str
    branch_id: str
    sim_id: str
    name: str
    branch_name: str
    grade: int | None
    url: str

    @property
    def external_id(self):
        return f"{EXTERNAL_ID_PREFIX}{self.subject_id}/{self.branch_id}/{self.sim_id}"

    @property
    def sort_key(self):
        return (_id_sort_key(self.subject_id), _id_sort_key(self.branch_id), _id_sort_key(self.sim_id))


@dataclass
class _SubjectGroup:
    key: str
    name: str
    ids: list = field(default_factory=list)
    sims: list = field(default_factory=list)
    code: str = ""


def _where(*ids):
    return "olabs " + "/".join(ids)


def _count_simulations(branches):
    """How many simulations a subject's branches hold, as far as they can be read (for skip messages)."""
    if not isinstance(branches, dict):
        return 0
    return sum(
        len(branch["simulations"]) for branch in branches.values()
        if isinstance(branch, dict) and isinstance(branch.get("simulations"), dict)
    )


def _read_catalogue(catalogue, conversion):
    """Walk the catalogue; return the subject groups (merged by name) holding their importable simulations."""
    groups = {}
    skipped = conversion.skipped
    for subject_id in sorted(catalogue, key=_id_sort_key):
        subject = catalogue[subject_id]
        if not isinstance(subject, dict):
            skipped.append(_("%(where)s: skipped: the subject is %(type)s, not an object")
                           % {"where": _where(subject_id), "type": type(subject).__name__})
            continue
        branches = subject.get("branches")
        sims_here = _count_simulations(branches)
        if _is_placeholder(subject_id):
            conversion.simulations += sims_here
            skipped.append(_("%(where)s: skipped with its %(n)d simulations: the subject id is unknown (%(id)r)")
                           % {"where": _where(subject_id), "n": sims_here, "id": subject_id})
            continue
        name = subject.get("name")
        if _is_placeholder(name):
            conversion.simulations += sims_here
            skipped.append(_("%(where)s: skipped with its %(n)d simulations: the subject has no name (%(name)r)")
                           % {"where": _where(subject_id), "n": sims_here, "name": name})
            continue
        if not isinstance(branches, dict):
            skipped.append(_("%(where)s '%(name)s': skipped: \"branches\" is %(what)s, not an object")
                           % {"where": _where(subject_id), "name": name.strip(),
                              "what": _("missing") if branches is None else type(branches).__name__})
            continue
        name = " ".join(name.split())[:MAX_SUBJECT_NAME]
        key = KNOWN_SUBJECTS.get(_normalise(name)) or _normalise(name)
        group = groups.setdefault(key, _SubjectGroup(key=key, name=name))
        group.ids.append(subject_id)
        for branch_id in sorted(branches, key=_id_sort_key):
            _read_branch(subject_id, branch_id, branches[branch_id], group, conversion)
    return list(groups.values())


def _read_branch(subject_id, branch_id, branch, group, conversion):
    skipped = conversion.skipped
    where = _where(subject_id, branch_id)
    if not isinstance(branch, dict):
        skipped.append(_("%(where)s: skipped: the branch is %(type)s, not an object")
                       % {"where": where, "type": type(branch).__name__})
        return
    sims = branch.get("simulations")
    count = len(sims) if isinstance(sims, dict) else 0
    if _is_placeholder(branch_id):
        conversion.simulations += count
        skipped.append(_("%(where)s: skipped with its %(n)d simulations: the branch id is unknown (%(id)r)")
                       % {"where": where, "n": count, "id": branch_id})
        return
    branch_name = branch.get("name")
    if _is_placeholder(branch_name):
        conversion.simulations += count
        skipped.append(
            _("%(where)s: skipped with its %(n)d simulations: the branch has no name (%(name)r), so its class "
              "is unknown") % {"where": where, "n": count, "name": branch_name}
        )
        return
    if not isinstance(sims, dict):
        skipped.append(_("%(where)s '%(name)s': skipped: \"simulations\" is %(what)s, not an object")
                       % {"where": where, "name": branch_name.strip(),
                          "what": _("missing") if sims is None else type(sims).__name__})
        return
    branch_name = " ".join(branch_name.split())
    grade = _grade_of(branch_name)
    for sim_id in sorted(sims, key=_id_sort_key):
        conversion.simulations += 1
        sim = sims[sim_id]
        sim_where = _where(subject_id, branch_id, sim_id)
        if not isinstance(sim, dict):
            skipped.append(_("%(where)s: skipped: the simulation is %(type)s, not an object")
                           % {"where": sim_where, "type": type(sim).__name__})
            continue
        if _is_placeholder(sim_id):
            skipped.append(_("%(where)s: skipped: the simulation id is unknown (%(id)r)")
                           % {"where": sim_where, "id": sim_id})
            continue
        name = sim.get("name")
        if _is_placeholder(name):
            skipped.append(_("%(where)s: skipped: the simulation has no name (%(name)r)")
                           % {"where": sim_where, "name": name})
            continue
        external_id = f"{EXTERNAL_ID_PREFIX}{subject_id}/{branch_id}/{sim_id}"
        if len(external_id) > 255:
            skipped.append(_("%(where)s: skipped: its ids are too long for an external id (255 characters)")
                           % {"where": sim_where})
            continue
        group.sims.append(_Sim(
            subject_id=subject_id, branch_id=branch_id, sim_id=sim_id, name=" ".join(name.split()),
            branch_name=branch_name, grade=grade, url=_olabs_url(subject_id, branch_id, sim_id, sim.get("count")),
        ))


def _subject_code(group, existing_by_name, taken):
    """The MARS-labs code for a subject: an existing subject of that name, a known code, a slug, or olabs-<id>."""
    if group.key in existing_by_name:
        return existing_by_name[group.key]
    if group.key in KNOWN_SUBJECTS.values():
        return group.key
    base = slugify(group.name)[:32].strip("-")
    if not SUBJECT_CODE_RE.match(base):
        base = f"olabs-{slugify(group.ids[0])}"[:32].strip("-")
        if not SUBJECT_CODE_RE.match(base):
            base = "olabs"
    code, n = base, 2
    while code in taken:
        code, n = f"{base[:28]}-{n}", n + 1
    return code


def _steps(sim, title):
    lab = f"[{_('Open this lab on OLabs')}]({sim.url})"
    return [
        {
            "title": "Theory", "step_type": "reading", "order_index": 1,
            "content": _("## %(title)s\n\nRead the theory of this experiment on OLabs.\n\n%(link)s")
            % {"title": title, "link": lab},
            "criteria": {"type": "time", "value": 60},
        },
        {
            "title": "Procedure", "step_type": "reading", "order_index": 2,
            "content": _("Read how the experiment is done, step by step, on OLabs.\n\n%(link)s") % {"link": lab},
            "criteria": {"type": "time", "value": 45},
        },
        {
            "title": "Animation", "step_type": "video", "order_index": 3,
            "content": _("Watch the animation of the experiment on OLabs.\n\n%(link)s") % {"link": lab},
            "criteria": {"type": "view"},
        },
        {
            "title": "Simulation", "step_type": "interactive", "order_index": 4,
            "criteria": {"type": "external"},
            "activity": {"instructions": _("Do the experiment in the OLabs simulator: %(url)s") % {"url": sim.url}},
        },
        {
            "title": "Viva Voce", "step_type": "quiz", "order_index": 5,
            "content": _("Answer the viva voce questions on OLabs.\n\n%(link)s") % {"link": lab},
            # Reported by the simulation until a teacher adds questions here
            # (and switches the criteria to a quiz pass mark).
            "criteria": {"type": "external"},
        },
    ]


def _description(sim, subject_name):
    if sim.grade is None:
        return _("OLabs simulation in %(subject)s, topic: %(topic)s.") % {
            "subject": subject_name, "topic": sim.branch_name}
    return _("OLabs simulation in %(subject)s, %(branch)s.") % {"subject": subject_name, "branch": sim.branch_name}


def _chapter_slug(sim, taken):
    base = slugify(sim.name)[:200].strip("-")
    if not re.search("[a-z]", base):
        # No Latin letters (e.g. Devanagari): the external id is the readable fallback.
        base = slugify(f"olabs {sim.subject_id} {sim.branch_id} {sim.sim_id}")[:200] or "olabs"
    if sim.grade:
        base = f"{base}-class-{sim.grade}"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


def catalogue_to_native(catalogue) -> OlabsConversion:
    """Build the native-format document for the simulations of ``catalogue`` not yet in the database.

    Reads the database (subjects, and chapters' titles, slugs, positions and
    external ids: four queries) but writes nothing. Raises ``ValueError``
    only when ``catalogue`` is not a JSON object at all; every other problem
    skips the item it is about, with a line in ``skipped``.
    """
    if not isinstance(catalogue, dict):
        raise ValueError(
            _("an OLabs catalogue is a JSON object keyed by subject id, not %(type)s")
            % {"type": type(catalogue).__name__}
        )
    conversion = OlabsConversion(document={})
    groups = _read_catalogue(catalogue, conversion)

    subjects = list(Subject.objects.values("id", "code", "name", "order"))
    existing_by_name = {}
    for subject in subjects:
        existing_by_name.setdefault(_normalise(subject["name"]), subject["code"])
        existing_by_name.setdefault(subject["code"], subject["code"])
    by_code = {s["code"]: s for s in subjects}
    next_order = max((s["order"] for s in subjects), default=0) + 1

    imported = set(
        Chapter.objects.filter(external_id__startswith=EXTERNAL_ID_PREFIX).values_list("external_id", flat=True)
    )
    slugs = set(Chapter.objects.values_list("slug", flat=True))
    textbooks = {}  # (subject code, grade) -> {"titles": normalised titles taken, "top": highest order_index}
    for code, grade, title, order_index in Chapter.objects.values_list(
        "subject__code", "grade", "title", "order_index"
    ):
        book = textbooks.setdefault((code, grade), {"titles": set(), "top": 0})
        book["titles"].add(_normalise(title))
        book["top"] = max(book["top"], order_index)

    codes_taken = set(by_code)
    merged = {}  # code -> subject dict in the document
    for group in groups:
        group.code = _subject_code(group, existing_by_name, codes_taken)
        codes_taken.add(group.code)
        if len(group.ids) > 1:
            conversion.notes.append(
                _("olabs subjects %(ids)s are all '%(name)s': merged into the subject %(code)s")
                % {"ids": ", ".join(group.ids), "name": group.name, "code": group.code}
            )
        if group.code not in merged:
            if group.code in by_code:
                # Keep an existing subject as it is: the file must not rename or reorder it.
                existing = by_code[group.code]
                merged[group.code] = {"code": group.code, "name": existing["name"], "order": existing["order"],
                                      "chapters": []}
            else:
                merged[group.code] = {"code": group.code, "name": group.name, "order": next_order, "chapters": []}
                next_order += 1
        subject_doc = merged[group.code]
        for sim in sorted(group.sims, key=lambda s: s.sort_key):
            if sim.external_id in imported:
                conversion.existing_chapters += 1
                continue
            book = textbooks.setdefault((group.code, sim.grade), {"titles": set(), "top": 0})
            title = sim.name[:MAX_TITLE]
            n = 2
            while _normalise(title) in book["titles"]:
                suffix = f" ({n})"
                title, n = sim.name[: MAX_TITLE - len(suffix)] + suffix, n + 1
            if title != sim.name:
                conversion.notes.append(
                    _("%(where)s: '%(name)s' is already a chapter title in this subject and class: imported as "
                      "'%(title)s'") % {"where": _where(sim.subject_id, sim.branch_id, sim.sim_id), "name": sim.name,
                                        "title": title}
                )
            book["titles"].add(_normalise(title))
            book["top"] += 1
            subject_doc["chapters"].append({
                "title": title,
                "slug": _chapter_slug(sim, slugs),
                "grade": sim.grade,
                "order_index": book["top"],
                "description": _description(sim, subject_doc["name"]),
                "external_id": sim.external_id,
                "steps": _steps(sim, title),
            })
            conversion.new_chapters += 1

    conversion.document = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "description": "Converted from an OLabs catalogue.",
        # Subjects with nothing new are left out: the importer would find nothing to do for them.
        "subjects": [s for s in merged.values() if s["chapters"]],
    }
    return conversion
