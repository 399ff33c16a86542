"""``manage.py import_curriculum PATH [--format native|olabs] [--dry-run]``."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from curriculum.importer import CurriculumError, import_curriculum, load_curriculum_file
from curriculum.olabs import catalogue_to_native
from mars_labs.audit import audit, operator


class Command(BaseCommand):
    help = (
        "Import a curriculum file: the MARS Labs native format (docs/curriculum-format.md) or an OLabs catalogue "
        "(--format olabs). Everything is checked first; a file with any mistake changes nothing and every mistake "
        "is listed. Safe to run again: items are matched by their natural keys (OLabs simulations by external id), "
        "so nothing is duplicated."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The JSON file to import.")
        parser.add_argument(
            "--format", choices=["native", "olabs"], default="native",
            help="native (default): a mars-labs-curriculum document. olabs: an OLabs catalogue, converted to "
                 "chapters of five steps (Theory, Procedure, Animation, Simulation, Viva Voce).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check and report what would change; write nothing.")

    def handle(self, *args, path, format="native", dry_run=False, verbosity=1, **options):
        try:
            data = load_curriculum_file(path)
        except CurriculumError as exc:
            raise CommandError(str(exc)) from exc

        skipped, notes, already = [], [], 0
        if format == "olabs":
            try:
                conversion = catalogue_to_native(data)
            except ValueError as exc:
                raise CommandError(
                    _("%(path)s: %(reason)s; nothing was imported.") % {"path": path, "reason": exc}
                ) from exc
            data, skipped, notes = conversion.document, conversion.skipped, conversion.notes
            already = conversion.existing_chapters

        try:
            report = import_curriculum(data, dry_run=dry_run)
        except CurriculumError as exc:
            raise CommandError(
                _("%(path)s cannot be imported, so nothing was changed:\n%(problems)s")
                % {"path": path, "problems": "\n".join(f"  {m}" for m in exc.messages)}
            ) from exc

        if not dry_run:
            audit("import", what="curriculum", path=str(path), format=format, operator=operator(),
                  **{f"{model}_{kind}": getattr(counts, kind) for model, counts in report.counts.items()
                     for kind in ("created", "updated")}, skipped=len(skipped))
        if verbosity >= 2:
            for line in report.changes:
                self.stdout.write(f"  {line}")
            for line in notes:
                self.stdout.write(f"  {line}")
        for line in report.warnings:
            if verbosity >= 1:
                self.stdout.write(self.style.WARNING(f"  {line}"))
        for line in skipped:
            if verbosity >= 1:
                self.stdout.write(self.style.WARNING(f"  {line}"))
        if verbosity >= 1:
            self.stdout.write(report.summary())
            if format == "olabs":
                self.stdout.write(
                    _("OLabs: %(new)d new simulations, %(already)d already imported (left as they are), "
                      "%(skipped)d items skipped.")
                    % {"new": sum(len(s["chapters"]) for s in data["subjects"]), "already": already,
                       "skipped": len(skipped)}
                )
            if dry_run:
                self.stdout.write(self.style.WARNING(_("Dry run: nothing was written.")))
            elif report.changed:
                self.stdout.write(self.style.SUCCESS(_("Imported %(path)s.") % {"path": path}))
            else:
                self.stdout.write(self.style.SUCCESS(_("%(path)s: nothing to change.") % {"path": path}))
