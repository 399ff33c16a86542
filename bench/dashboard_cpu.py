#!/usr/bin/env python
"""Dashboard CPU per request: the frontier computation (progress/dashboard.py now) against the full one it replaced.

    .venv/bin/python bench/dashboard_cpu.py --database-url sqlite:////tmp/cachework/d2000.sqlite3
    .venv/bin/python bench/dashboard_cpu.py --database-url postgres://postgres@127.0.0.1:5432/mars_cache_bench

"full" is the dashboard as it was before issue #9's frontier work: ``engine.curriculum_states`` over every
chapter of the cached snapshot (4,000 step states and lock reasons), ``rollups_from_states`` and
``next_steps(states=...)``. "frontier" is ``progress.dashboard.build_dashboard``. For each, CPU ms
(``time.process_time``) and queries per request through the whole stack (bench/read_cpu.py's ``measure``:
8 learners of different classrooms, Django test client, templates included), then CPU ms of
``build_dashboard`` alone. Both produce the same context (tests/progress/test_dashboard_equivalence.py).
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common, read_cpu  # noqa: E402


def full_build_dashboard(*, learner, today=None):
    """The dashboard before the frontier: every step's state built on every request."""
    from django.utils import timezone

    from curriculum import cache as curriculum_cache
    from curriculum.enums import StepType
    from learners.models import UserProfile
    from progress import dashboard, engine
    from progress import paths as learning_paths
    from progress.enums import Status

    today = today or timezone.localdate()
    profile, _created = UserProfile.objects.get_or_create(user=learner)
    paths = learning_paths.ensure_active_paths(learner=learner, profile=profile)
    states = engine.curriculum_states(
        learner=learner, snapshot=curriculum_cache.snapshot(profile.grade), paths=paths, done_data=False
    )
    rollups = engine.rollups_from_states(states)
    recommendations = engine.next_steps(learner=learner, limit=3, states=states, rollups=rollups, paths=paths)
    activity = engine.active_minutes_by_day(learner=learner, days=14, today=today)
    every = [s for cs in states.values() for s in cs.steps]
    has_progress = any(s.status != Status.NOT_STARTED for s in every)
    in_progress = [s for s in every if s.status == Status.IN_PROGRESS]
    simulations = {}
    for cs in states.values():
        done, total = simulations.get(cs.chapter.subject_id, (0, 0))
        for s in cs.steps:
            if s.step.step_type == StepType.INTERACTIVE:
                done, total = done + s.is_done, total + 1
        simulations[cs.chapter.subject_id] = (done, total)
    steps_total = sum(r.steps_total for r in rollups)
    return dashboard.StudentDashboard(
        profile=dashboard.ProfileSummary(
            name=learner.get_full_name() or learner.get_username(), email=learner.email, grade=profile.grade,
            background_level=profile.get_background_level_display(), subjects_count=len(rollups),
            overall_percentage=engine.overall_percentage(rollups),
        ),
        curriculum=dashboard.Curriculum.OK if rollups else dashboard.Curriculum.NO_CHAPTERS,
        subjects=[
            dashboard.SubjectCard(rollup=r, accent=i % dashboard.ACCENT_COUNT,
                                  simulations_done=simulations.get(r.subject.pk, (0, 0))[0],
                                  simulations_total=simulations.get(r.subject.pk, (0, 0))[1])
            for i, r in enumerate(rollups)
        ],
        recommendations=recommendations,
        focus=dashboard._focus(rollups),
        continue_state=max(in_progress, key=lambda s: s.progress.updated_at, default=None),
        start_state=None if has_progress else next((s for s in every if s.is_available and not s.is_done), None),
        has_progress=has_progress,
        all_done=bool(steps_total) and sum(r.steps_done for r in rollups) == steps_total,
        activity=activity,
        today=today,
    )


def build_only(build, *, rounds):
    users = [user for user, _url in read_cpu.targets("dashboard", 8)]
    for user in users:
        build(learner=user)
    start = time.process_time()
    for _ in range(rounds):
        for user in users:
            build(learner=user)
    return 1000 * (time.process_time() - start) / (rounds * len(users))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--cache-url", default="locmemcache://")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
    env = _common.django_env(args.database_url, CACHE_URL=args.cache_url, ALLOWED_HOSTS="127.0.0.1,testserver")
    _common.setup_django(env)
    read_cpu._plain_static_files()
    from progress import dashboard
    from progress.views import dashboard as dashboard_view

    variants = {"full": full_build_dashboard, "frontier": dashboard.build_dashboard}
    for name, build in variants.items():
        dashboard_view.build_dashboard = build
        cpu, queries = read_cpu.measure("dashboard", requests=args.requests)
        alone = build_only(build, rounds=max(1, args.requests // 8))
        print(f"dashboard {name:9s} request {cpu:7.2f} ms CPU {queries:5.1f} queries | build_dashboard alone "
              f"{alone:7.2f} ms CPU", flush=True)
    dashboard_view.build_dashboard = dashboard.build_dashboard


if __name__ == "__main__":
    main()
