"""``manage.py progress_report [--classroom NAME]``: learner × subject percentages in a terminal table."""

from collections import defaultdict

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, F, Q
from django.utils.translation import gettext as _

from curriculum.models import LearningStep, Subject
from learners.models import Classroom
from progress.enums import DONE_STATUSES
from progress.models import LearningProgress


def percentage(done, total):
    return round(100 * done / total) if total else 0


class Command(BaseCommand):
    help = (
        "Print each learner's progress per subject (% of steps done) for a classroom, or for every classroom. "
        "The same numbers as the dashboard rings: active chapters of the learner's class plus those for every "
        "class. A fixed number of queries, whatever the class size. Writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--classroom", help="The classroom's exact name (default: every classroom).")

    def handle(self, *args, classroom=None, verbosity=1, **options):
        rooms = Classroom.objects.order_by("grade", "name")
        if classroom is not None:
            rooms = rooms.filter(name=classroom)
            if not rooms:
                names = ", ".join(Classroom.objects.order_by("name").values_list("name", flat=True)[:20])
                raise CommandError(
                    _("There is no classroom named %(name)r (classrooms: %(names)s).")
                    % {"name": classroom, "names": names or _("none")}
                )
        rooms = list(rooms)
        subjects = list(Subject.objects.order_by("order", "name").values_list("pk", "code"))
        # Steps per (subject, grade) in active chapters: the denominators, for every learner at once.
        totals = defaultdict(int)
        for subject_id, grade, n in (
            LearningStep.objects.filter(chapter__is_active=True)
            .values_list("chapter__subject_id", "chapter__grade")
            .annotate(n=Count("pk"))
            .order_by()
        ):
            totals[(subject_id, grade)] = n

        learners_total = 0
        for room in rooms:
            learners = list(
                room.learners.order_by("username").values_list("pk", "username", "first_name", "last_name",
                                                                "profile__grade")
            )
            learners_total += len(learners)
            done = self.done_counts(room)
            self.print_table(room, learners, subjects, totals, done, verbosity)
        if verbosity >= 1:
            self.stdout.write(
                _("%(rooms)d classrooms, %(learners)d learners.") % {"rooms": len(rooms), "learners": learners_total}
            )

    def done_counts(self, room):
        """``{(user id, subject id): steps done}`` for a classroom's learners, in one aggregate query.

        Only steps that count for the learner: active chapters of their grade, or with no grade.
        """
        rows = (
            LearningProgress.objects.filter(
                user__classrooms=room, status__in=DONE_STATUSES, step__chapter__is_active=True
            )
            .filter(Q(step__chapter__grade=F("user__profile__grade")) | Q(step__chapter__grade__isnull=True))
            .values_list("user_id", "step__chapter__subject_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
        return {(user_id, subject_id): n for user_id, subject_id, n in rows}

    def print_table(self, room, learners, subjects, totals, done, verbosity):
        if verbosity < 1:
            return
        # Subjects that count for somebody in the room.
        grades = {grade for *_rest, grade in learners}
        shown = [(pk, code) for pk, code in subjects
                 if any(totals[(pk, g)] + (totals[(pk, None)] if g is not None else 0) for g in grades)]
        header = [_("learner"), _("name"), _("class"), *[code for _pk, code in shown], _("overall")]
        rows = []
        for user_id, username, first_name, last_name, grade in learners:
            cells, all_done, all_total = [], 0, 0
            for subject_id, _code in shown:
                total = totals[(subject_id, grade)] + (totals[(subject_id, None)] if grade is not None else 0)
                steps_done = done.get((user_id, subject_id), 0)
                all_done, all_total = all_done + steps_done, all_total + total
                cells.append(f"{percentage(steps_done, total)}%" if total else "—")
            name = " ".join(part for part in (first_name, last_name) if part)
            rows.append([username, name, "" if grade is None else str(grade), *cells,
                         f"{percentage(all_done, all_total)}%"])

        title = room.name + (_(" (class %(grade)d)") % {"grade": room.grade} if room.grade else "")
        self.stdout.write(self.style.MIGRATE_HEADING(title))
        if not rows:
            self.stdout.write(_("  No learners in this classroom."))
            return
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        numeric = set(range(3, len(header)))

        def line(row):
            return "  " + "  ".join(
                str(cell).rjust(width) if i in numeric else str(cell).ljust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            ).rstrip()

        self.stdout.write(line(header))
        self.stdout.write("  " + "  ".join("-" * w for w in widths))
        for row in rows:
            self.stdout.write(line(row))
