import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _
from tqdm import tqdm

from learners.models import Classroom
from progress.paths import rebuild_main_path


class Command(BaseCommand):
    help = (
        "Rebuild learners' main learning paths from their class, background level and the current "
        "curriculum (run after curriculum changes). Prints what changes; --dry-run writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--learner", metavar="USERNAME", help="only this learner")
        parser.add_argument("--classroom", metavar="NAME", help="only the learners of this classroom")
        parser.add_argument("--dry-run", action="store_true", help="print what would change, write nothing")

    def handle(self, *args, learner=None, classroom=None, dry_run=False, verbosity=1, **options):
        learners = get_user_model().objects.filter(is_staff=False, is_active=True).order_by("username")
        if learner:
            learners = learners.filter(username=learner)
            if not learners.exists():
                raise CommandError(_("No active learner with username %(name)r.") % {"name": learner})
        if classroom:
            room = Classroom.objects.filter(name=classroom).first()
            if room is None:
                raise CommandError(_("No classroom named %(name)r.") % {"name": classroom})
            learners = learners.filter(classrooms=room)
        changed = 0
        rows = list(learners)
        bar = tqdm(rows, unit="learner", disable=not sys.stdout.isatty() or verbosity == 0)
        with transaction.atomic():
            for user in bar:
                result = rebuild_main_path(learner=user, dry_run=dry_run)
                changed += result.changed
                if result.changed and verbosity >= 1:
                    self.stdout.write(f"{user.username}: {result.summary}")
                elif verbosity >= 2:
                    self.stdout.write(f"{user.username}: " + _("unchanged"))
        summary = (
            _("%(n)d learners checked, %(changed)d paths would change.") if dry_run
            else _("%(n)d learners checked, %(changed)d paths changed.")
        )
        self.stdout.write(self.style.SUCCESS(summary % {"n": len(rows), "changed": changed}))
