"""``manage.py export_progress [--format csv|json|marslabs] [--classroom NAME] [--subject CODE] [--output PATH]``."""

import csv
import json
import os
import sys
from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from tqdm import tqdm

from curriculum.models import Subject
from learners.models import Classroom
from progress import engine
from progress.models import LearningProgress

COLUMNS = ("username", "subject", "class", "chapter", "step", "status", "percentage", "started", "completed")
CHUNK = 2000


class _Stream:
    """A file-like front for the command's stdout that writes text exactly as given."""

    def __init__(self, wrapper):
        self.wrapper = wrapper

    def write(self, text):
        self.wrapper.write(text, ending="")


def _when(value):
    return timezone.localtime(value).isoformat(timespec="seconds") if value else ""


class Command(BaseCommand):
    help = (
        "Export learners' progress. csv and json: one row per learner and step they have progress on (username, "
        "subject, class, chapter, step, status, percentage, started, completed). marslabs: one MARS-labs progress "
        "document per learner, as a JSON list of {user_id, username, progress_data}. Filter with --classroom and "
        "--subject. Writes to standard output unless --output is given. Writes nothing to the database."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["csv", "json", "marslabs"], default="csv")
        parser.add_argument("--classroom", help="Only the learners of this classroom (its exact name).")
        parser.add_argument("--subject", help="Only this subject (its code, e.g. phy).")
        parser.add_argument("--output", "-o", help="Write to this file instead of standard output.")

    def handle(self, *args, format="csv", classroom=None, subject=None, output=None, verbosity=1, **options):
        learners = get_user_model().objects.filter(is_staff=False)
        if classroom is not None:
            room = Classroom.objects.filter(name=classroom).first()
            if room is None:
                names = ", ".join(Classroom.objects.order_by("name").values_list("name", flat=True)[:20])
                raise CommandError(
                    _("There is no classroom named %(name)r (classrooms: %(names)s).")
                    % {"name": classroom, "names": names or _("none")}
                )
            learners = learners.filter(classrooms=room)
        if subject is not None and not Subject.objects.filter(code=subject).exists():
            codes = ", ".join(Subject.objects.order_by("order", "code").values_list("code", flat=True))
            raise CommandError(
                _("There is no subject with the code %(code)r (subjects: %(codes)s).")
                % {"code": subject, "codes": codes or _("none")}
            )

        self.show_bar = verbosity >= 1 and (output is not None or format == "marslabs") and self.stdout.isatty()
        try:
            with self.open(output) as stream:
                if format == "marslabs":
                    count = self.write_marslabs(stream, learners, subject)
                    what = _("%(count)d learners' documents") % {"count": count}
                else:
                    rows = self.rows(learners, subject)
                    count = self.write_csv(stream, rows) if format == "csv" else self.write_json(stream, rows)
                    what = _("%(count)d rows") % {"count": count}
        except BrokenPipeError:
            # `export_progress | head`: the reader has what it wanted; stop quietly, like other Unix tools.
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (Python flushes stdout at exit)
            return
        if verbosity >= 1:
            # With the export on standard output, the summary goes to standard error to keep the data clean.
            (self.stdout if output else self.stderr).write(
                _("Exported %(what)s as %(format)s%(where)s.")
                % {"what": what, "format": format, "where": _(" to %(path)s") % {"path": output} if output else ""},
                style_func=str,
            )

    @contextmanager
    def open(self, output):
        if output is None:
            yield _Stream(self.stdout)
            return
        try:
            handle = open(output, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise CommandError(
                _("Cannot write %(path)s: %(reason)s") % {"path": output, "reason": exc.strerror or exc}
            ) from exc
        with handle:
            yield handle

    def rows(self, learners, subject):
        """Progress rows as value tuples in COLUMNS order, streamed from one query."""
        queryset = LearningProgress.objects.filter(user__in=learners)
        if subject is not None:
            queryset = queryset.filter(step__chapter__subject__code=subject)
        queryset = queryset.order_by(
            "user__username", "step__chapter__subject__order", "step__chapter__subject__code",
            F("step__chapter__grade").asc(nulls_first=True), "step__chapter__order_index", "step__order_index",
        ).values_list(
            "user__username", "step__chapter__subject__code", "step__chapter__grade", "step__chapter__title",
            "step__title", "status", "completion_percentage", "started_at", "completed_at",
        )
        for username, code, grade, chapter, step, status, percentage, started, completed in queryset.iterator(
            chunk_size=CHUNK
        ):
            yield (username, code, "" if grade is None else grade, chapter, step, status, percentage,
                   _when(started), _when(completed))

    def write_csv(self, stream, rows):
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(COLUMNS)
        count = 0
        for row in rows:
            writer.writerow(row)
            count += 1
        return count

    def write_json(self, stream, rows):
        # Streamed one row at a time, so a large export never sits in memory whole.
        count = 0
        stream.write("[")
        for row in rows:
            record = dict(zip(COLUMNS, row, strict=True))
            if record["class"] == "":
                record["class"] = None
            stream.write(("," if count else "") + "\n  " + json.dumps(record, ensure_ascii=False))
            count += 1
        stream.write("\n]\n" if count else "]\n")
        return count

    def write_marslabs(self, stream, learners, subject):
        count = 0
        stream.write("[")
        queryset = learners.order_by("username")
        bar = tqdm(total=queryset.count() if self.show_bar else None, disable=not self.show_bar, file=sys.stderr,
                   desc=_("learners"), leave=False)
        with bar:
            for learner in queryset.iterator(chunk_size=CHUNK):
                document = engine.marslabs_document_for(learner=learner)
                if subject is not None:
                    document["subject_progress"] = {
                        code: lists for code, lists in document["subject_progress"].items() if code == subject
                    }
                item = {"user_id": learner.pk, "username": learner.username, "progress_data": document}
                stream.write(("," if count else "") + "\n  " + json.dumps(item, ensure_ascii=False))
                count += 1
                bar.update(1)
        stream.write("\n]\n" if count else "]\n")
        return count
