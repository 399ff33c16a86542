"""``manage.py seed_demo``: a demo school to click through: curriculum, a class, students, a teacher, an admin.

Safe to run again (``make run`` runs it every time): it loads the demo
curriculum through the importer, creates what is missing and leaves the rest
alone, so the row counts in every table are the same after the second run.
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from curriculum.importer import DEMO_CURRICULUM_PATH, CurriculumError, import_curriculum, load_curriculum_file
from curriculum.models import Chapter
from learners.enums import BackgroundLevel
from learners.models import Classroom
from progress import engine
from progress.models import LearningProgress, ProgressEvent
from progress.paths import rebuild_main_path

# One documented password per role (README, docs). Demo only: never use these on a real server.
DEMO_PASSWORDS = {"student": "mars-student", "teacher": "mars-teacher", "admin": "mars-admin"}
CLASSROOM_NAME = "Class 12 A"
DEMO_GRADE = 12
OVERRIDE_REASON = "Did this experiment on the optical bench in the school lab instead."


@dataclass(frozen=True)
class Work:
    """What a demo student did in one chapter; replayed through the progress engine, in order.

    ``done`` steps are completed in order (None: all of them). ``failed_quiz``
    quiz attempts fail before the pass (or, when the quiz is not among the done
    steps, stay the only attempts). ``then_seconds`` of reading are spent on
    the first step not done, and ``open_next`` opens it, leaving it in progress.
    ``overridden`` names a step the teacher marks complete instead of the student.
    """

    subject: str
    chapter: str
    done: int | None = None
    failed_quiz: int = 0
    then_seconds: int = 0
    open_next: bool = False
    overridden: str = ""


@dataclass(frozen=True)
class DemoStudent:
    username: str
    first_name: str
    last_name: str
    age: int
    background_level: str
    preferred_language: str = "en"
    learning_preferences: dict = field(default_factory=dict)
    # One entry per day of work, the last one yesterday.
    story: tuple = ()


STUDENTS = (
    # Most of physics done; failed the Mole Concept quiz once and has not retried.
    DemoStudent(
        "asha", "Asha", "Verma", 17, BackgroundLevel.INTERMEDIATE,
        learning_preferences={"daily_goal_minutes": 30},
        story=(
            Work("phy", "Measurement and Errors"),
            Work("phy", "Ohm's Law"),
            Work("chem", "Laboratory Safety"),
            Work("phy", "Metre Bridge"),
            Work("chem", "Mole Concept", done=4, failed_quiz=1),
            Work("phy", "Focal Length of a Convex Lens", done=3, open_next=True),
            Work("math", "Pythagoras Theorem", done=1),
        ),
    ),
    # Only just started: half-way through the second reading of the first chapter.
    DemoStudent(
        "ravi", "Ravi", "Kumar", 17, BackgroundLevel.BEGINNER, preferred_language="hi",
        story=(Work("phy", "Measurement and Errors", done=1, then_seconds=12),),
    ),
    # Far ahead: physics and chemistry done (one quiz passed at the second try), maths nearly.
    DemoStudent(
        "meera", "Meera", "Iyer", 16, BackgroundLevel.ADVANCED,
        learning_preferences={"daily_goal_minutes": 45, "preferred_step_types": ["interactive", "quiz"]},
        story=(
            Work("phy", "Measurement and Errors"),
            Work("phy", "Ohm's Law"),
            Work("phy", "Metre Bridge"),
            Work("phy", "Focal Length of a Convex Lens", overridden="Simulation"),
            Work("chem", "Laboratory Safety"),
            Work("chem", "Mole Concept"),
            Work("chem", "Properties of Acids and Bases"),
            Work("chem", "Titration", failed_quiz=1),
            Work("math", "Pythagoras Theorem"),
            Work("math", "Trigonometric Ratios"),
            Work("math", "Area Under a Curve", done=4),
        ),
    ),
    # Nothing yet: shows the empty dashboard.
    DemoStudent("kabir", "Kabir", "Singh", 17, BackgroundLevel.BEGINNER),
)

STAFF = (
    # (role, username, first name, last name)
    ("teacher", "teacher", "Tara", "Menon"),
    ("admin", "admin", "Site", "Admin"),
)


class Command(BaseCommand):
    help = (
        "Load the demo curriculum and create a demo class (Class 12 A) with students, a teacher and an admin, "
        "with progress made through the progress engine. Safe to run again: it only adds what is missing. "
        f"Passwords: students {DEMO_PASSWORDS['student']}, teacher {DEMO_PASSWORDS['teacher']}, "
        f"admin {DEMO_PASSWORDS['admin']}."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Do everything, report it, then roll it all back."
        )
        parser.add_argument(
            "--reset-passwords", action="store_true",
            help="Set the demo passwords again on accounts that already exist (new accounts always get them).",
        )

    def handle(self, *args, dry_run=False, reset_passwords=False, verbosity=1, **options):
        self.verbosity = verbosity
        try:
            with transaction.atomic():
                report = self.load_curriculum()
                accounts = self.create_accounts(reset_passwords=reset_passwords)
                self.seed_progress(accounts)
                if dry_run:
                    # Everything above really ran (the progress needs the
                    # curriculum in the database); undo it all.
                    transaction.set_rollback(True)
        except CurriculumError as exc:
            raise CommandError(_("The demo curriculum cannot be loaded:\n%(error)s") % {"error": exc}) from exc

        if verbosity >= 1:
            self.stdout.write(report.summary())
            self.print_logins(accounts)
            if dry_run:
                self.stdout.write(self.style.WARNING(_("Dry run: nothing was written.")))
            else:
                self.stdout.write(self.style.SUCCESS(_("The demo school is ready.")))

    def say(self, message, *, level=2):
        if self.verbosity >= level:
            self.stdout.write(message)

    # --- Curriculum --------------------------------------------------------------

    def load_curriculum(self):
        """Upsert the demo curriculum (curriculum/data/demo_curriculum.json) through the importer."""
        report = import_curriculum(load_curriculum_file(DEMO_CURRICULUM_PATH))
        for line in report.changes:
            self.say(f"  {line}")
        for line in report.warnings:
            self.say(self.style.WARNING(f"  {line}"), level=1)
        return report

    # --- Accounts ----------------------------------------------------------------

    def create_accounts(self, *, reset_passwords):
        """Create missing demo users and the classroom; returns ``[(role, user, password_set_now)]``.

        Existing accounts keep their password (unless ``reset_passwords``),
        names and profile; they are only put back into the classroom and,
        for the teacher and admin, given back the flags the demo relies on.
        """
        classroom, created = Classroom.objects.get_or_create(name=CLASSROOM_NAME, defaults={"grade": DEMO_GRADE})
        self.say((_("Created the classroom %(name)s.") if created else _("The classroom %(name)s exists."))
                 % {"name": classroom.name})
        accounts = []
        for student in STUDENTS:
            user, created, password_set = self.ensure_user(
                username=student.username, role="student", reset_password=reset_passwords,
                defaults={"first_name": student.first_name, "last_name": student.last_name, "age": student.age,
                          "email": f"{student.username}@school.example"},
            )
            if created:
                profile = user.profile
                profile.grade = DEMO_GRADE
                profile.background_level = student.background_level
                profile.preferred_language = student.preferred_language
                profile.learning_preferences = student.learning_preferences
                profile.full_clean()
                profile.save()
            classroom.learners.add(user)
            accounts.append(("student", user, password_set))

        teachers_group = Group.objects.filter(name="Teachers").first()
        for role, username, first_name, last_name in STAFF:
            flags = {"is_staff": True} if role == "teacher" else {"is_staff": True, "is_superuser": True}
            user, _created, password_set = self.ensure_user(
                username=username, role=role, reset_password=reset_passwords, flags=flags,
                defaults={"first_name": first_name, "last_name": last_name, "email": f"{username}@school.example"},
            )
            if role == "teacher":
                classroom.teachers.add(user)
                # The group (and its permissions) belongs to another part of the
                # project; join it when it exists, never create it here.
                if teachers_group is not None:
                    user.groups.add(teachers_group)
            accounts.append((role, user, password_set))
        return accounts

    def ensure_user(self, *, username, role, reset_password, defaults, flags=None):
        """Get or create ``username`` with ``flags`` set; returns ``(user, created, password set now)``."""
        flags = flags or {}
        user, created = get_user_model().objects.get_or_create(username=username, defaults={**defaults, **flags})
        changed = [name for name, value in flags.items() if getattr(user, name) != value]
        for name in changed:
            setattr(user, name, flags[name])
        if created or reset_password:
            user.set_password(DEMO_PASSWORDS[role])
            changed.append("password")
        if changed:
            user.save()
        self.say(
            (_("Created %(username)s (%(role)s).") if created else _("%(username)s (%(role)s) already exists."))
            % {"role": role, "username": username}
        )
        return user, created, created or reset_password

    # --- Progress ----------------------------------------------------------------

    def seed_progress(self, accounts):
        """Replay each student's story through the progress engine; students with any progress are skipped."""
        users = {user.username: user for role, user, _set in accounts}
        teacher = next(user for role, user, _set in accounts if role == "teacher")
        chapters = {
            (c.subject.code, c.title): c
            for c in Chapter.objects.filter(grade=DEMO_GRADE).select_related("subject").prefetch_related("steps")
        }
        for student in STUDENTS:
            learner = users[student.username]
            rebuild_main_path(learner=learner)  # unchanged on a second run: writes nothing
            if LearningProgress.objects.filter(user=learner).exists():
                self.say(_("%(username)s already has progress; left as it is.") % {"username": learner.username})
                continue
            if not student.story:
                continue
            replay = _Replay(learner=learner, teacher=teacher, days=len(student.story))
            for work in student.story:
                chapter = chapters.get((work.subject, work.chapter))
                if chapter is None:
                    raise CommandError(
                        _("The demo story of %(username)s needs the chapter '%(title)s' in %(subject)s.")
                        % {"username": learner.username, "title": work.chapter, "subject": work.subject}
                    )
                replay.work(chapter=chapter, work=work)
                replay.next_day()
            self.say(
                _("%(username)s: %(count)d steps done.")
                % {"username": learner.username, "count": replay.completed}
            )

    # --- Output ------------------------------------------------------------------

    def print_logins(self, accounts):
        rows = [(_("role"), _("username"), _("password"), _("name"))]
        kept = False
        for role, user, password_set in accounts:
            password = DEMO_PASSWORDS[role]
            if not password_set:
                password += " *"
                kept = True
            rows.append((role, user.username, password, user.get_full_name()))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        self.stdout.write(_("Demo logins (sign in at %(url)s):") % {"url": reverse("login")})
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, [*widths, 0], strict=True)]
            self.stdout.write("  " + "  ".join(cells))
        if kept:
            self.stdout.write(
                _("  * the account already existed and kept its password; run with --reset-passwords to set it.")
            )


class _Replay:
    """Drives one learner through the engine on a simulated clock, one session a day.

    The engine takes ``now``, so started_at, completed_at and quiz attempts
    fall on the demo's past days. ProgressEvent.created_at is auto_now_add,
    so the events each call writes are re-stamped to the same simulated time:
    otherwise the dashboard's activity chart would show the whole demo as
    done today.
    """

    def __init__(self, *, learner, teacher, days):
        self.learner, self.teacher = learner, teacher
        today = timezone.localdate()
        start_day = today - timedelta(days=days)
        self.now = timezone.make_aware(datetime.combine(start_day, time(16, 30)))
        self.completed = 0

    def next_day(self):
        self.now = timezone.make_aware(datetime.combine(timezone.localdate(self.now) + timedelta(days=1), time(16, 30)))

    def call(self, function, **kwargs):
        """Call an engine function at the simulated time; stop the seeding if the engine refuses."""
        before = ProgressEvent.objects.aggregate(last=Max("pk"))["last"] or 0
        result = function(learner=self.learner, now=self.now, **kwargs)
        if not result.ok:
            raise CommandError(
                _("The progress engine refused the demo story of %(username)s at '%(step)s': %(reason)s")
                % {"username": self.learner.username, "step": kwargs["step"], "reason": result.reason}
            )
        ProgressEvent.objects.filter(pk__gt=before, user=self.learner).update(created_at=self.now)
        self.completed += int(result.completed)
        return result

    def work(self, *, chapter, work):
        steps = sorted(chapter.steps.all(), key=lambda s: s.order_index)
        done = len(steps) if work.done is None else work.done
        for step in steps[:done]:
            if step.title == work.overridden:
                self.now += timedelta(minutes=1)
                self.call(engine.force_complete, step=step, actor=self.teacher, reason=OVERRIDE_REASON)
            else:
                self.complete(step, failed_quiz=work.failed_quiz)
        following = steps[done] if done < len(steps) else None
        if following is None:
            return
        if following.criteria_type == "quiz" and work.failed_quiz:
            self.open(following)
            self.fail_quiz(following, times=work.failed_quiz)
        elif work.then_seconds:
            self.open(following)
            self.read(following, seconds=work.then_seconds)
        elif work.open_next:
            self.open(following)

    def open(self, step):
        self.now += timedelta(seconds=20)
        self.call(engine.open_step, step=step)

    def read(self, step, *, seconds):
        """Heartbeats as step.js sends them, each at most HEARTBEAT_MAX_SECONDS apart."""
        while seconds > 0:
            beat = min(seconds, settings.HEARTBEAT_MAX_SECONDS)
            self.now += timedelta(seconds=beat)
            self.call(engine.record_active_time, step=step, seconds=beat)
            seconds -= beat

    def fail_quiz(self, step, *, times):
        questions = step.activity["questions"]
        for _attempt in range(times):
            self.now += timedelta(minutes=3)
            # Half right (rounded down): below every pass mark the demo uses.
            answers = {
                str(i): q["answer"] if i < len(questions) // 2 else (q["answer"] + 1) % len(q["choices"])
                for i, q in enumerate(questions)
            }
            self.call(engine.submit_quiz, step=step, answers=answers)

    def complete(self, step, *, failed_quiz=0):
        """Do what the step's criteria ask, the way a learner would on the step page."""
        self.open(step)
        kind = step.criteria_type
        if kind == "time":
            self.read(step, seconds=step.required_completion_criteria["value"])
        elif kind == "manual":
            self.now += timedelta(minutes=2)
            self.call(engine.mark_done, step=step)
        elif kind == "external":
            self.now += timedelta(minutes=10)
            self.call(engine.report_external, step=step, completed=True)
        elif kind == "submission":
            self.now += timedelta(minutes=2)
            self.call(engine.submit_answer, step=step, answer=step.activity.get("expected_answer", "done"))
        elif kind == "quiz":
            self.fail_quiz(step, times=failed_quiz)
            self.now += timedelta(minutes=3)
            answers = {str(i): q["answer"] for i, q in enumerate(step.activity["questions"])}
            self.call(engine.submit_quiz, step=step, answers=answers)
        # "view" is met by opening the step.
