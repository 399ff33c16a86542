"""``manage.py create_learners CSV [--classroom NAME] [--output PATH] [--dry-run]``."""

import csv
import re
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext as _
from tqdm import tqdm

from learners.enums import BackgroundLevel
from learners.models import Classroom
from mars_labs.audit import audit, operator

COLUMNS = ("username", "first_name", "last_name", "age", "grade", "background_level")
REQUIRED = ("username",)


def _whole_number(text, *, low, high, what):
    """``(value, problem)`` for an optional whole number between low and high."""
    if not text:
        return None, None
    # ASCII digits only: "²".isdigit() is true but int("²") fails, and int() refuses over 4300 digits.
    if not re.fullmatch(r"[0-9]{1,6}", text) or not low <= int(text) <= high:
        return None, _("%(what)s must be a whole number from %(low)d to %(high)d, not %(value)r") % {
            "what": what, "low": low, "high": high, "value": text}
    return int(text), None


class Command(BaseCommand):
    help = (
        "Create learner accounts from a CSV file with the columns username, first_name, last_name, age, grade, "
        "background_level (only username is required). Every row is checked first and every problem is listed "
        "with its line number; nothing is created unless every row is valid, and a username that exists already "
        "is a problem, so running it twice creates nothing twice. Each account gets a one-time password, shown "
        "once (or written to --output)."
    )

    def add_arguments(self, parser):
        parser.add_argument("csv_path", metavar="CSV", help="The CSV file (UTF-8, with a header row).")
        parser.add_argument("--classroom", help="Put the new learners in this classroom (it must exist).")
        parser.add_argument(
            "--output", "-o",
            help="Write username,password to this new CSV file instead of printing the passwords.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check the file and list who would be created.")

    def handle(self, *args, csv_path, classroom=None, output=None, dry_run=False, verbosity=1, **options):
        path = Path(csv_path)
        room = None
        if classroom is not None:
            room = Classroom.objects.filter(name=classroom).first()
            if room is None:
                raise CommandError(
                    _("There is no classroom named %(name)r: create it in the admin first.") % {"name": classroom}
                )
        rows = self.read(path)
        if output and not dry_run and Path(output).exists():
            raise CommandError(_("%(path)s already exists; choose a new file for the passwords.") % {"path": output})

        if dry_run:
            if verbosity >= 1:
                for row in rows:
                    self.stdout.write(_("  would create %(username)s") % {"username": row["username"]})
                self.stdout.write(self.style.WARNING(
                    _("Dry run: %(path)s is valid; %(count)d learners would be created%(room)s. Nothing was written.")
                    % {"path": path, "count": len(rows),
                       "room": _(" in %(name)s") % {"name": room.name} if room else ""}
                ))
            return

        # Hashing is deliberately slow (about a third of a second each): show progress on a terminal.
        show_bar = verbosity >= 1 and self.stdout.isatty()
        created = []
        User = get_user_model()
        with transaction.atomic():
            for row in tqdm(rows, disable=not show_bar, desc=_("accounts"), leave=False):
                password = secrets.token_urlsafe(12)
                user = User(username=row["username"], first_name=row["first_name"], last_name=row["last_name"],
                            age=row["age"])
                user.set_password(password)
                user.save()  # the post_save signal creates the profile
                profile = user.profile
                profile.grade = row["grade"]
                profile.background_level = row["background_level"]
                profile.save(update_fields=["grade", "background_level", "updated_at"])
                created.append((user.username, password))
            if room is not None:
                room.learners.add(*User.objects.filter(username__in=[u for u, _p in created]))
            if output:
                self.write_passwords(output, created)

        # Who was created, never their passwords.
        audit("import", what="learners", path=str(path), operator=operator(), learners_created=len(created),
              classroom=room.name if room else "")
        if verbosity >= 1 and not output:
            self.print_passwords(created)
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(
                _("Created %(count)d learners%(room)s%(where)s.")
                % {"count": len(created), "room": _(" in %(name)s") % {"name": room.name} if room else "",
                   "where": _("; passwords written to %(path)s") % {"path": output} if output else ""}
            ))

    def read(self, path):
        """Every row, cleaned; raises CommandError listing every problem with its line number."""
        try:
            handle = path.open(encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise CommandError(
                _("Cannot read %(path)s: %(reason)s") % {"path": path, "reason": exc.strerror or exc}
            ) from exc
        problems, rows = [], []
        try:
            with handle:
                reader = csv.DictReader(handle)
                header = [name.strip() for name in reader.fieldnames or []]
                missing = [name for name in REQUIRED if name not in header]
                unknown = [name for name in header if name not in COLUMNS]
                if missing or unknown:
                    raise CommandError(
                        _("%(path)s line 1: the header must name the columns %(columns)s (username required)%(what)s")
                        % {"path": path, "columns": ", ".join(COLUMNS),
                           "what": "".join([
                               _("; missing: %(names)s") % {"names": ", ".join(missing)} if missing else "",
                               _("; unknown: %(names)s") % {"names": ", ".join(unknown)} if unknown else "",
                           ])}
                    )
                reader.fieldnames = header
                seen = {}
                for record in reader:
                    line = reader.line_num
                    row, row_problems = self.clean(record)
                    if row.get("username"):
                        key = row["username"].casefold()
                        if key in seen:
                            row_problems.append(_("username %(name)r is already on line %(line)d")
                                                % {"name": row["username"], "line": seen[key]})
                        else:
                            seen[key] = line
                    problems += [(line, p) for p in row_problems]
                    rows.append((line, row))
        except UnicodeDecodeError as exc:
            raise CommandError(_("%(path)s is not UTF-8 text: %(reason)s") % {"path": path, "reason": exc}) from exc
        except csv.Error as exc:
            raise CommandError(_("%(path)s is not a CSV file: %(reason)s") % {"path": path, "reason": exc}) from exc

        # One query for the whole file; usernames compared without case, as people type them.
        # A NUL (already reported) would fail the query itself on PostgreSQL.
        wanted = [row["username"].casefold() for _line, row in rows
                  if row.get("username") and "\x00" not in row["username"]]
        taken = set(
            get_user_model().objects.annotate(lowered=Lower("username")).filter(lowered__in=wanted)
            .values_list("lowered", flat=True)
        )
        for line, row in rows:
            if row.get("username") and row["username"].casefold() in taken:
                problems.append((line, _("a learner with the username %(name)r already exists")
                                 % {"name": row["username"]}))
        if not rows and not problems:
            raise CommandError(_("%(path)s has no learners in it (only a header, or nothing)") % {"path": path})
        if problems:
            problems.sort(key=lambda p: p[0])
            raise CommandError(
                _("%(path)s has %(count)d problems, so no learner was created:\n%(problems)s")
                % {"path": path, "count": len(problems),
                   "problems": "\n".join(f"  {path} line {line}: {message}" for line, message in problems)}
            )
        return [row for _line, row in rows]

    def clean(self, record):
        problems = []
        if None in record:  # more cells than header names
            problems.append(_("has more cells than the header has columns"))
        values = {name: (record.get(name) or "").strip() for name in COLUMNS}
        # PostgreSQL cannot store NUL in text: refuse it here, with the line number, not halfway through saving.
        problems += [_("%(field)s contains the NUL character") % {"field": name}
                     for name in COLUMNS if "\x00" in values[name]]
        row = {"username": values["username"]}
        User = get_user_model()
        if not values["username"]:
            problems.append(_("username is empty"))
        else:
            try:
                User._meta.get_field("username").run_validators(values["username"])
            except ValidationError as exc:
                problems += [_("username %(name)r: %(reason)s") % {"name": values["username"], "reason": m}
                             for m in exc.messages]
        for name in ("first_name", "last_name"):
            limit = User._meta.get_field(name).max_length
            if len(values[name]) > limit:
                problems.append(_("%(field)s is longer than %(max)d characters") % {"field": name, "max": limit})
            row[name] = values[name]
        row["age"], problem = _whole_number(values["age"], low=1, high=120, what=_("age"))
        problems += [problem] if problem else []
        row["grade"], problem = _whole_number(values["grade"], low=1, high=12, what=_("grade"))
        problems += [problem] if problem else []
        level = values["background_level"].lower() or BackgroundLevel.BEGINNER
        if level not in BackgroundLevel.values:
            problems.append(_("background_level must be one of %(levels)s, not %(value)r")
                            % {"levels": ", ".join(BackgroundLevel.values), "value": values["background_level"]})
        row["background_level"] = level
        return row, problems

    def write_passwords(self, output, created):
        try:
            with open(output, "x", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(["username", "password"])
                writer.writerows(created)
        except OSError as exc:
            # Still inside the transaction: nothing is created when the passwords cannot be kept.
            raise CommandError(
                _("Cannot write %(path)s: %(reason)s; no learner was created.")
                % {"path": output, "reason": exc.strerror or exc}
            ) from exc

    def print_passwords(self, created):
        width = max([len(_("username")), *(len(u) for u, _p in created)])
        self.stdout.write(_("One-time passwords (shown only now; ask learners to change them):"))
        self.stdout.write(f"  {_('username').ljust(width)}  {_('password')}")
        for username, password in created:
            self.stdout.write(f"  {username.ljust(width)}  {password}")
