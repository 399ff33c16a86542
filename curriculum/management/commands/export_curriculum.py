"""``manage.py export_curriculum [--output PATH]``."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from curriculum.exporter import export_curriculum


class Command(BaseCommand):
    help = (
        "Write every subject, chapter and step in the MARS Labs native format (docs/curriculum-format.md), "
        "to standard output or --output. import_curriculum reads it back: export, import into an empty "
        "database and export again gives the same file. Writes nothing to the database."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", help="Write to this file instead of standard output.")

    def handle(self, *args, output=None, verbosity=1, **options):
        warnings = []
        document = export_curriculum(warnings=warnings)
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if output:
            try:
                Path(output).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise CommandError(
                    _("Cannot write %(path)s: %(reason)s") % {"path": output, "reason": exc.strerror or exc}
                ) from exc
        else:
            self.stdout.write(text, ending="")
        # With the document on standard output, messages go to standard error so the JSON stays clean.
        messages = self.stdout if output else self.stderr
        if verbosity >= 1:
            for line in warnings:
                messages.write(self.style.WARNING(line), style_func=str)
            chapters = [c for s in document["subjects"] for c in s["chapters"]]
            messages.write(
                _("Exported %(subjects)d subjects, %(chapters)d chapters and %(steps)d steps%(where)s.")
                % {"subjects": len(document["subjects"]), "chapters": len(chapters),
                   "steps": sum(len(c["steps"]) for c in chapters),
                   "where": _(" to %(path)s") % {"path": output} if output else ""},
                style_func=str,
            )
