"""``manage.py setup_roles``: create or update the "Teachers" group (learners/roles.py). Safe to repeat."""

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _

from learners.roles import TEACHERS_GROUP, RoleError, apply_teacher_role, teacher_permission_names


class Command(BaseCommand):
    help = (
        f'Create or update the "{TEACHERS_GROUP}" group so it has exactly the teacher permissions '
        "(edit the curriculum, view their classes' progress, reset / excuse / override with a reason). "
        "Safe to run again: a second run changes nothing. Add a teacher with --add USERNAME."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Report what would change, then roll it back.")
        parser.add_argument(
            "--add", metavar="USERNAME", action="append", default=[],
            help="Also put this (staff) user in the group. May be repeated.",
        )

    def handle(self, *args, dry_run=False, add=(), verbosity=1, **options):
        from django.contrib.auth import get_user_model

        try:
            with transaction.atomic():
                for config in apps.get_app_configs():
                    create_permissions(config, verbosity=0)
                group, created, added, removed = apply_teacher_role()
                for username in add:
                    user = get_user_model().objects.filter(username=username).first()
                    if user is None:
                        raise CommandError(_("There is no user %(name)r.") % {"name": username})
                    if not user.is_staff:
                        raise CommandError(
                            _("%(name)r is not staff: tick 'Staff status' on their account first "
                              "(teachers sign in to the administration).") % {"name": username}
                        )
                    user.groups.add(group)
                if dry_run:
                    transaction.set_rollback(True)
        except RoleError as exc:
            raise CommandError(str(exc)) from exc

        if verbosity >= 1:
            names = {"group": TEACHERS_GROUP}
            if created:
                self.stdout.write(
                    (_('The group "%(group)s" would be created.') if dry_run
                     else _('The group "%(group)s" was created.')) % names
                )
            for name in added:
                self.stdout.write(f"  + {name}")
            for name in removed:
                self.stdout.write(f"  - {name}")
            for username in add:
                self.stdout.write(
                    (_("%(user)s would be added to %(group)s.") if dry_run
                     else _("%(user)s was added to %(group)s.")) % {**names, "user": username}
                )
            if verbosity >= 2:
                self.stdout.write(_("Permissions of the role:"))
                for name in teacher_permission_names():
                    self.stdout.write(f"  {name}")
            if dry_run:
                self.stdout.write(self.style.WARNING(_("Dry run: nothing was written.")))
            elif not (created or added or removed or add):
                self.stdout.write(
                    self.style.SUCCESS(_('The group "%(group)s" is up to date; nothing changed.') % names)
                )
            else:
                self.stdout.write(self.style.SUCCESS(_('The group "%(group)s" is set up.') % names))
