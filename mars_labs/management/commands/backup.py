"""``manage.py backup [--output PATH | --dir DIR]``: a consistent copy of the database, taken while the site runs."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from mars_labs.audit import audit, operator
from mars_labs.management import backups


class Command(BaseCommand):
    help = (
        "Back up the database named by DATABASE_URL while the site keeps running. SQLite: a copy made with "
        "SQLite's online backup API (backups/mars-<UTC time>.sqlite3, itself a SQLite database). PostgreSQL: "
        "pg_dump --format=custom (backups/mars-<UTC time>.pgdump). Restore with `manage.py restore FILE`."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dir", dest="directory", default=str(settings.BASE_DIR / "backups"),
                            help="Directory for the new file (default: backups/ in the project; created if needed).")
        parser.add_argument("--output", "-o", help="Exact file to write instead (must not exist).")

    def handle(self, *args, directory, output=None, verbosity=1, **options):
        settings_dict = connections[DEFAULT_DB_ALIAS].settings_dict
        try:
            if output:
                target = Path(output)
                if target.exists():
                    raise CommandError(f"{target} already exists; a backup never overwrites a file.")
            else:
                target = backups.default_path(directory, settings_dict)
            target.parent.mkdir(parents=True, exist_ok=True)
            backups.backup(settings_dict, target)
        except backups.BackupError as exc:
            raise CommandError(f"Backup failed, no file was written: {exc}") from exc
        size = target.stat().st_size
        audit("backup", path=str(target), bytes=size, database=backups.vendor(settings_dict), operator=operator())
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(f"Backed up to {target} ({size / 1e6:.1f} MB)."))
        # The path alone on the last line, for scripts.
        self.stdout.write(str(target))
