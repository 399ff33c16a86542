"""``manage.py restore FILE [--noinput]``: put a backup made by ``manage.py backup`` back in place."""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from mars_labs.audit import audit, operator
from mars_labs.management import backups


class Command(BaseCommand):
    help = (
        "Replace the whole database named by DATABASE_URL with a backup made by `manage.py backup` (a SQLite file "
        "or a pg_dump custom archive). The file is checked first (it exists, it is the database's kind, it holds a "
        "MARS Labs database); a bad file changes nothing. Stop the site (or at least its workers) while restoring. "
        "Asks for confirmation on a terminal; never asks when input is not a terminal or with --noinput."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The backup file (backups/mars-<time>.sqlite3 or .pgdump).")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive",
                            help="Do not ask for confirmation.")
        parser.add_argument("--dry-run", action="store_true", help="Check the file and say what would happen.")

    def handle(self, *args, file, interactive=True, dry_run=False, verbosity=1, **options):
        connection = connections[DEFAULT_DB_ALIAS]
        settings_dict = connection.settings_dict
        name = settings_dict["NAME"]
        if dry_run:
            try:
                backups.check(settings_dict, file)
            except (backups.BackupError, OSError) as exc:
                raise CommandError(f"{file} cannot be restored: {exc}") from exc
            self.stdout.write(self.style.WARNING(
                f"Dry run: {file} is a good {backups.vendor(settings_dict)} backup; restoring it would replace "
                f"everything in {name}. Nothing was changed."))
            return
        if interactive and sys.stdin.isatty():
            answer = input(f"This replaces everything in the database {name} with {file}. Type 'yes' to go on: ")
            if answer.strip().lower() != "yes":
                raise CommandError("Restore cancelled; nothing was changed.")
        connections.close_all()  # our own connections must not hold locks or stale pages
        try:
            backups.restore(settings_dict, file)
        except backups.BackupError as exc:
            raise CommandError(f"Restore refused, nothing was changed: {exc}") from exc
        except OSError as exc:
            raise CommandError(f"Restore refused, nothing was changed: cannot read {file}: {exc}") from exc
        audit("restore", path=str(file), database=backups.vendor(settings_dict), operator=operator())
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(f"Restored {name} from {file}."))
            self.stdout.write("Run `manage.py migrate` if the backup is older than the code.")
