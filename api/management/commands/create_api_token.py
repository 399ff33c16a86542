"""``manage.py create_api_token NAME --scope lab|learner [--user USERNAME]``, or ``--revoke NAME``.

Prints the new token once: only its SHA-256 is stored, so it cannot be shown
again (revoke it and create another if it is lost).
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _

from api.enums import TokenScope
from api.models import ApiToken


class Command(BaseCommand):
    help = ("Create an API token and print it once (--scope lab: any learner; --scope learner --user NAME: "
            "that learner's own data), or revoke one with --revoke.")

    def add_arguments(self, parser):
        parser.add_argument("name", help="A name for what uses the token, e.g. olabs-physics.")
        parser.add_argument("--scope", choices=TokenScope.values, help="lab or learner.")
        parser.add_argument("--user", help="learner scope: the learner's username; lab scope: the owner (optional).")
        parser.add_argument("--revoke", action="store_true", help="Revoke the token called NAME instead.")
        parser.add_argument("--dry-run", action="store_true", help="Check the arguments; create or revoke nothing.")

    def handle(self, name, scope, user, revoke, dry_run, verbosity, **options):
        if revoke:
            return self._revoke(name, dry_run=dry_run, verbosity=verbosity)
        if scope is None:
            raise CommandError(_("--scope is required: lab or learner."))
        owner = None
        if user:
            owner = get_user_model().objects.filter(username=user).first()
            if owner is None:
                raise CommandError(_("No user with username %(name)r.") % {"name": user})
            if not owner.is_active:
                raise CommandError(_("%(name)r is deactivated; a token for them would not work.") % {"name": user})
        if scope == TokenScope.LEARNER and owner is None:
            raise CommandError(_("A learner token needs --user: the learner it acts as."))
        if ApiToken.objects.filter(name=name).exists():
            raise CommandError(
                _("A token called %(name)r exists already; pick another name (or --revoke it).") % {"name": name}
            )
        if dry_run:
            if owner:
                message = _("Would create a %(scope)s token %(name)r for %(owner)s.")
            else:
                message = _("Would create a %(scope)s token %(name)r.")
            self.stdout.write(message % {"scope": scope, "name": name, "owner": owner})
            return
        with transaction.atomic():
            token, plain = ApiToken.issue(name=name, scope=scope, user=owner)
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(
                _("Created %(token)s. Copy the token now; it is not shown again:") % {"token": token}
            ))
        # The token alone on its own line, so scripts can take the last line.
        self.stdout.write(plain)

    def _revoke(self, name, *, dry_run, verbosity):
        token = ApiToken.objects.filter(name=name).first()
        if token is None:
            raise CommandError(_("No token called %(name)r.") % {"name": name})
        if token.is_revoked:
            if verbosity >= 1:
                self.stdout.write(_("%(token)s was already revoked on %(when)s.") % {
                    "token": token, "when": f"{token.revoked_at:%Y-%m-%d %H:%M}",
                })
            return
        if dry_run:
            self.stdout.write(_("Would revoke %(token)s.") % {"token": token})
            return
        with transaction.atomic():
            token.revoke()
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(_("Revoked %(token)s.") % {"token": token}))
