"""``manage.py check_curriculum``: find what would lock learners out or confuse the importers.

*Unreachable* follows the engine's availability rules (progress/engine.py
``chapter_states``): a learner can only work on an available step, and a step
is available when its chapter is active, the chapter's prerequisite chapter is
done, the previous step (by order_index) is done and its own prerequisite step
is done. So, without a teacher excusing or overriding something, a step can be
*done* only if it is *reachable*, where:

* a step is reachable when its chapter is open, the step before it in the
  chapter is reachable, and its prerequisite step (if any) is reachable;
* a chapter is open when it is active and its prerequisite chapter can be
  finished;
* a chapter can be finished when it is inactive (the engine counts a retired
  prerequisite as done, so it never blocks), has no steps (nothing to do), or
  every one of its steps is reachable.

It is the least fixed point: steps whose prerequisites go round in a loop are
unreachable, and so is everything waiting on them. Steps of an inactive
chapter are closed on purpose and not reported; a step elsewhere that needs
one of them is (it waits until the chapter opens). Typical causes: a
prerequisite step later in its own chapter, a prerequisite step in an inactive
chapter, a prerequisite loop, a prerequisite chapter that itself cannot be
finished.
"""

from collections import defaultdict

from django.core.management.base import BaseCommand, CommandError
from django.db.models import F
from django.utils.translation import gettext as _

from curriculum.integrity import all_prerequisite_cycles, describe_cycle
from curriculum.models import Chapter, LearningStep
from mars_labs.schemas import SchemaError, validate_activity, validate_completion_criteria
from progress.engine import normalise_title

ERROR, WARNING = "error", "warning"


def _labelled(field, message):
    """Schema messages start with the field they are about ("activity.video_url: ..."); add it when they do not."""
    message = str(message)
    return message if message.startswith(field) else f"{field}: {message}"


def _gaps(positions):
    """Missing positions between the first and the last: [1, 2, 5] -> [3, 4] (at most a few shown)."""
    present = sorted(set(positions))
    return [n for a, b in zip(present, present[1:], strict=False) for n in range(a + 1, b)]


class Command(BaseCommand):
    help = (
        "Check the curriculum: prerequisite loops, steps learners can never reach, invalid criteria or activities, "
        "quiz steps without questions, chapters without steps, gaps in positions. Prints one line per problem. "
        "Exits with status 1 when there are errors; warnings alone exit 0. Writes nothing."
    )

    def handle(self, *args, verbosity=1, **options):
        self.problems = []
        chapters = {
            c["id"]: c
            for c in Chapter.objects.order_by("subject__order", "subject__code", F("grade").asc(nulls_first=True),
                                              "order_index")
            .values("id", "subject__code", "grade", "title", "order_index", "is_active", "prerequisite_chapter_id")
        }
        steps = {
            s["id"]: s
            for s in LearningStep.objects.order_by("chapter_id", "order_index").values(
                "id", "chapter_id", "title", "step_type", "order_index", "required_completion_criteria", "activity",
                "prerequisite_step_id",
            )
        }
        steps_of = defaultdict(list)
        for step in steps.values():
            steps_of[step["chapter_id"]].append(step)
        self.chapters, self.steps, self.steps_of = chapters, steps, steps_of

        self.check_cycles()
        self.check_textbooks()
        for chapter in chapters.values():
            self.check_chapter(chapter)
        for step in steps.values():
            self.check_step(step)
        self.check_reachable()

        errors = [p for p in self.problems if p[0] == ERROR]
        warnings = [p for p in self.problems if p[0] == WARNING]
        if verbosity >= 1:
            for level, where, message in self.problems:
                style = self.style.ERROR if level == ERROR else self.style.WARNING
                label = _("ERROR") if level == ERROR else _("warning")
                self.stdout.write(style(f"{label}: {where}: {message}"))
        summary = _("%(errors)d errors and %(warnings)d warnings in %(chapters)d chapters and %(steps)d steps.") % {
            "errors": len(errors), "warnings": len(warnings), "chapters": len(chapters), "steps": len(steps),
        }
        if errors:
            raise CommandError(_("The curriculum has problems: %(summary)s") % {"summary": summary})
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(_("The curriculum is sound: %(summary)s") % {"summary": summary})
                              if not warnings else summary)

    # --- helpers -------------------------------------------------------------------

    def add(self, level, where, message):
        self.problems.append((level, where, message))

    def chapter_name(self, chapter):
        grade = _("every class") if chapter["grade"] is None else _("class %(grade)d") % {"grade": chapter["grade"]}
        return f"{chapter['subject__code']} {grade} '{chapter['title']}'"

    def step_name(self, step):
        return f"{self.chapter_name(self.chapters[step['chapter_id']])} › '{step['title']}'"

    # --- checks --------------------------------------------------------------------

    def check_cycles(self):
        for model, noun in ((Chapter, _("chapters")), (LearningStep, _("steps"))):
            for titles in all_prerequisite_cycles(model):
                self.add(ERROR, noun, describe_cycle(titles))

    def check_textbooks(self):
        books = defaultdict(list)
        for chapter in self.chapters.values():
            books[(chapter["subject__code"], chapter["grade"])].append(chapter)
        for (code, grade), members in books.items():
            where = f"{code} " + (_("every class") if grade is None else _("class %(grade)d") % {"grade": grade})
            gaps = _gaps([c["order_index"] for c in members])
            if gaps:
                self.add(WARNING, where, _("chapter positions skip %(gaps)s (harmless; renumber to tidy up)")
                         % {"gaps": ", ".join(map(str, gaps[:10])) + (" …" if len(gaps) > 10 else "")})
            by_title = defaultdict(list)
            for chapter in members:
                by_title[normalise_title(chapter["title"])].append(chapter["title"])
            for titles in by_title.values():
                if len(titles) > 1:
                    self.add(WARNING, where, _("chapters %(titles)s differ only in case or punctuation: MARS-labs "
                                               "progress naming them cannot tell them apart")
                             % {"titles": ", ".join(f"'{t}'" for t in titles)})

    def check_chapter(self, chapter):
        where = self.chapter_name(chapter)
        members = self.steps_of.get(chapter["id"], [])
        if not members:
            self.add(WARNING, where, _("has no steps (it counts as done at once and shows 0 %)"))
            return
        gaps = _gaps([s["order_index"] for s in members])
        if gaps:
            self.add(WARNING, where, _("step positions skip %(gaps)s (harmless; renumber to tidy up)")
                     % {"gaps": ", ".join(map(str, gaps[:10])) + (" …" if len(gaps) > 10 else "")})
        titles = defaultdict(int)
        for step in members:
            titles[step["title"]] += 1
        for title, count in titles.items():
            if count > 1:
                self.add(WARNING, where, _("%(count)d steps are titled '%(title)s': imports match steps by title, "
                                           "so only the first would be updated") % {"count": count, "title": title})
        prerequisite = self.chapters.get(chapter["prerequisite_chapter_id"])
        if prerequisite is not None and (prerequisite["subject__code"], prerequisite["grade"]) != (
            chapter["subject__code"], chapter["grade"]
        ):
            self.add(WARNING, where, _("its prerequisite %(other)s is in another subject or class: learners must "
                                       "finish a chapter outside their textbook, and the curriculum file format "
                                       "cannot express this link") % {"other": self.chapter_name(prerequisite)})

    def check_step(self, step):
        where = self.step_name(step)
        criteria, activity = step["required_completion_criteria"], step["activity"]
        criteria_ok = True
        try:
            validate_completion_criteria(criteria)
        except SchemaError as exc:
            criteria_ok = False
            for message in exc.messages:
                self.add(ERROR, where, _labelled("criteria", message))
        try:
            validate_activity(activity, criteria=criteria if criteria_ok else None)
        except SchemaError as exc:
            for message in exc.messages:
                self.add(ERROR, where, _labelled("activity", message))
            return
        has_questions = isinstance(activity, dict) and bool(activity.get("questions"))
        if step["step_type"] == "quiz" and not has_questions:
            if criteria_ok and criteria.get("type") == "external":
                self.add(WARNING, where, _("quiz step without questions (completed by the simulation until a "
                                           "teacher adds some)"))
            elif criteria_ok and criteria.get("type") != "quiz":  # a quiz criterion was reported by the schema
                self.add(ERROR, where, _("quiz step without questions: learners see an empty quiz"))

    def check_reachable(self):
        """Report the first unreachable step of each chapter (the rest of it waits on that one)."""
        chapters, steps_of = self.chapters, self.steps_of
        reachable, finishable = set(), set()

        def can_finish(chapter_id):
            chapter = chapters[chapter_id]
            return not chapter["is_active"] or chapter_id in finishable

        def prerequisite_ok(chapter):
            return chapter["prerequisite_chapter_id"] is None or can_finish(chapter["prerequisite_chapter_id"])

        changed = True
        while changed:  # least fixed point; each pass settles at least one more link of the longest chain
            changed = False
            for chapter_id, chapter in chapters.items():
                if chapter_id in finishable:
                    continue
                open_ = chapter["is_active"] and prerequisite_ok(chapter)
                previous_ok = True
                for step in steps_of.get(chapter_id, []):
                    ok = open_ and previous_ok and (
                        step["prerequisite_step_id"] is None or step["prerequisite_step_id"] in reachable
                    )
                    if ok and step["id"] not in reachable:
                        reachable.add(step["id"])
                        changed = True
                    previous_ok = ok
                if all(s["id"] in reachable for s in steps_of.get(chapter_id, [])):
                    finishable.add(chapter_id)
                    changed = True

        for chapter_id, chapter in chapters.items():
            if not chapter["is_active"]:
                continue
            blocked = [s for s in steps_of.get(chapter_id, []) if s["id"] not in reachable]
            if not blocked:
                continue
            first = blocked[0]
            rest = len(blocked) - 1
            more = (_(" (and the %(n)d steps after it)") % {"n": rest}) if rest else ""
            if not prerequisite_ok(chapter):
                other = chapters[chapter["prerequisite_chapter_id"]]
                self.add(ERROR, self.chapter_name(chapter),
                         _("unreachable: its prerequisite chapter %(other)s can never be finished")
                         % {"other": self.chapter_name(other)})
                continue
            self.add(ERROR, self.step_name(first), _("unreachable%(more)s: %(reason)s")
                     % {"more": more, "reason": self.unreachable_reason(first, reachable)})

    def unreachable_reason(self, step, reachable):
        target = self.steps.get(step["prerequisite_step_id"])
        if target is None:  # the step before it is fine and there is no prerequisite: cannot happen
            return _("it waits on a step that cannot be reached")
        target_chapter = self.chapters[target["chapter_id"]]
        if target["chapter_id"] == step["chapter_id"] and target["order_index"] > step["order_index"]:
            return _("its prerequisite step '%(title)s' comes later in the chapter, and steps open in order") % {
                "title": target["title"]}
        if not target_chapter["is_active"]:
            return _("its prerequisite step %(other)s is in an inactive chapter") % {"other": self.step_name(target)}
        return _("its prerequisite step %(other)s can never be reached (a prerequisite loop, or it is blocked "
                 "itself)") % {"other": self.step_name(target)}
