"""Write the curriculum in the database out in the MARS Labs native format.

The result is the document ``curriculum.importer.import_curriculum`` reads
(docs/curriculum-format.md), so export → import into an empty database →
export again gives the same JSON. Used by ``manage.py export_curriculum`` and
the admin's download.

Three queries whatever the size (subjects, chapters, steps), read with
``values()`` so no model instances are built.
"""

from __future__ import annotations

from django.db.models import F
from django.utils.translation import gettext as _

from .importer import FORMAT_NAME, FORMAT_VERSION
from .models import Chapter, LearningStep, Subject

EXPORT_DESCRIPTION = "Exported from MARS Labs."


def export_curriculum(*, warnings: list | None = None) -> dict:
    """Every subject, chapter and step as one native-format document (a dict ready for ``json.dump``).

    Writes nothing. Subjects come in their display order, chapters by grade
    (grade-less first) then position, steps by position; the output is
    deterministic, so two exports of the same data are identical.

    A few things the database can hold cannot be written in the format: a
    prerequisite in another subject or class (the format only names chapters
    of the same textbook). Those links are left out, and when ``warnings`` is
    a list a line saying so is appended to it for each.
    """
    warnings = warnings if warnings is not None else []
    subjects = list(Subject.objects.order_by("order", "name", "code").values("id", "code", "name", "order", "language"))
    chapters = list(
        Chapter.objects.order_by("subject_id", F("grade").asc(nulls_first=True), "order_index").values(
            "id", "subject_id", "grade", "title", "slug", "order_index", "description", "is_active",
            "external_id", "prerequisite_chapter_id", "language",
        )
    )
    steps = list(
        LearningStep.objects.order_by("chapter_id", "order_index").values(
            "id", "chapter_id", "title", "step_type", "order_index", "content",
            "required_completion_criteria", "activity", "prerequisite_step_id", "optional_for_intermediate",
        )
    )
    chapter_by_id = {c["id"]: c for c in chapters}
    step_by_id = {s["id"]: s for s in steps}
    steps_by_chapter = {}
    for step in steps:
        steps_by_chapter.setdefault(step["chapter_id"], []).append(step)
    chapters_by_subject = {}
    for chapter in chapters:
        chapters_by_subject.setdefault(chapter["subject_id"], []).append(chapter)
    code_by_id = {s["id"]: s["code"] for s in subjects}

    def textbook(chapter):
        return (chapter["subject_id"], chapter["grade"])

    def where(chapter):
        grade = _("every class") if chapter["grade"] is None else _("class %(grade)d") % {"grade": chapter["grade"]}
        return f"{code_by_id.get(chapter['subject_id'], '?')} {grade}: '{chapter['title']}'"

    def chapter_document(chapter):
        out = {
            "title": chapter["title"],
            "slug": chapter["slug"],
            "grade": chapter["grade"],
            "order_index": chapter["order_index"],
            "description": chapter["description"],
            "is_active": chapter["is_active"],
        }
        if chapter["external_id"]:
            out["external_id"] = chapter["external_id"]
        if chapter["language"]:
            out["language"] = chapter["language"]
        prerequisite = chapter_by_id.get(chapter["prerequisite_chapter_id"])
        if prerequisite is not None:
            if textbook(prerequisite) == textbook(chapter):
                out["prerequisite"] = prerequisite["title"]
            else:
                warnings.append(
                    _("%(chapter)s: its prerequisite chapter %(other)s is in another subject or class, which the "
                      "format cannot name; it was left out.")
                    % {"chapter": where(chapter), "other": where(prerequisite)}
                )
        out["steps"] = [step_document(chapter, step) for step in steps_by_chapter.get(chapter["id"], [])]
        return out

    def step_document(chapter, step):
        out = {
            "title": step["title"],
            "step_type": step["step_type"],
            "order_index": step["order_index"],
            "content": step["content"],
            "criteria": step["required_completion_criteria"],
            "activity": step["activity"] or {},
        }
        if step["optional_for_intermediate"]:
            out["optional_for_intermediate"] = True  # written only when set: older files stay as they were
        prerequisite = step_by_id.get(step["prerequisite_step_id"])
        if prerequisite is not None:
            other = chapter_by_id[prerequisite["chapter_id"]]
            if other["id"] == chapter["id"]:
                out["prerequisite_step"] = prerequisite["title"]
            elif textbook(other) == textbook(chapter):
                out["prerequisite_step"] = {"chapter": other["title"], "step": prerequisite["title"]}
            else:
                warnings.append(
                    _("%(chapter)s, step '%(step)s': its prerequisite step '%(other_step)s' in %(other)s is in "
                      "another subject or class, which the format cannot name; it was left out.")
                    % {"chapter": where(chapter), "step": step["title"], "other_step": prerequisite["title"],
                       "other": where(other)}
                )
        return out

    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "description": EXPORT_DESCRIPTION,
        "subjects": [
            {
                "code": subject["code"],
                "name": subject["name"],
                "order": subject["order"],
                **({"language": subject["language"]} if subject["language"] else {}),
                "chapters": [chapter_document(c) for c in chapters_by_subject.get(subject["id"], [])],
            }
            for subject in subjects
        ],
    }
