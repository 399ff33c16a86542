"""The learner's learning path at /path/: ordered, grouped, explained."""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from learners.models import UserProfile

from .. import engine
from .. import paths as learning_paths
from ..access import get_step_for


@dataclass
class PathEntry:
    state: engine.StepState
    note: str
    skippable: bool
    here: bool = False


@dataclass
class PathChapter:
    chapter: object
    entries: list

    @property
    def all_done(self):
        return all(entry.state.is_done for entry in self.entries)


def _entries(path, state_by_id, *, include_omitted):
    """The path's steps in order, grouped by chapter (consecutive runs), with their notes."""
    order = _stable_merge(path.steps_sequence, path.omitted, state_by_id) if include_omitted else path.steps_sequence
    groups, here_found = [], False
    for step_id in order:
        state = state_by_id.get(step_id)
        if state is None:
            continue  # a step of another class, or deleted since: nothing to show
        note = path.step_notes.get(step_id, {})
        if state.is_done and note.get("skippable_if"):
            note = {}  # "skipped if you test out" means nothing once the step is done
        if note.get("test_out") and not state.test_out:
            note = {}  # no longer a test-out (attempted, or the chapter is otherwise done)
        entry = PathEntry(
            state=state,
            note=path.omitted.get(step_id) or note.get("note", ""),
            skippable=bool(note.get("skippable")) and not state.is_done and state.is_available,
        )
        if not here_found and not state.is_done and state.is_available:
            entry.here = here_found = True
        if not groups or groups[-1].chapter.pk != state.step.chapter_id:
            groups.append(PathChapter(chapter=state.step.chapter, entries=[]))
        groups[-1].entries.append(entry)
    return groups


def _stable_merge(sequence, omitted, state_by_id):
    """The path's order with each left-out step put back just before the next step of its chapter."""
    merged = list(sequence)
    for step_id in omitted:
        state = state_by_id.get(step_id)
        if state is None:
            continue
        later = [
            i for i, sid in enumerate(merged)
            if sid in state_by_id and state_by_id[sid].step.chapter_id == state.step.chapter_id
            and state_by_id[sid].step.order_index > state.step.order_index
        ]
        merged.insert(later[0] if later else len(merged), step_id)
    return merged


@login_required
def my_path(request):
    """Remedial paths first, then the main path; every left-out or skipped step says why."""
    if request.user.is_staff:
        return HttpResponseForbidden(_("Teachers see learners' paths in the admin."))
    profile = UserProfile.objects.get(user=request.user)
    main, remedial = learning_paths.ensure_active_paths(learner=request.user, profile=profile)
    states = engine.curriculum_states(learner=request.user, paths=(main, remedial))
    state_by_id = {str(s.step.pk): s for cs in states.values() for s in cs.steps}
    context = {
        "profile": profile,
        "main": main,
        "main_groups": _entries(main, state_by_id, include_omitted=True) if main else [],
        "remedial": [(path, _entries(path, state_by_id, include_omitted=False)) for path in remedial],
    }
    return render(request, "progress/path.html", context)


@login_required
@require_POST
def skip_on_path(request, step_id):
    """Skip a step the learner's path marks skippable; the engine decides and gives the reason."""
    step = get_step_for(request.user, step_id)
    result = engine.skip_step(learner=request.user, step=step)
    if result.ok:
        messages.success(request, result.reason)
    else:
        messages.error(request, result.reason)
    return redirect("progress:path")
