"""Subject, chapter and step pages, and the step's POST endpoints. Thin: progress/engine.py decides.

Every view starts with one access helper (progress/access.py) and passes
``request.user`` as the learner to the engine, so a URL can name a step but
never somebody else's progress. Status codes: a locked step answers 403 with
the engine's reason; an invalid request 400; criteria not met yet 409; a
successful HTML POST redirects back to the step (Post/Redirect/Get) with a
message. Staff preview any step as a learner would see it, and nothing they do
on the page is recorded.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from curriculum.enums import StepType
from progress import engine
from progress.access import get_chapter_for, get_step_for, get_subject_for, visible_chapters
from progress.engine import Outcome
from progress.enums import DONE_STATUSES
from progress.forms import AnswerForm, HeartbeatForm, QuizForm
from progress.models import LearningProgress

# Outcome -> HTTP status for refusals (the ok outcomes answer 200 or redirect).
REFUSAL_STATUS = {Outcome.LOCKED: 403, Outcome.DENIED: 403, Outcome.INVALID: 400, Outcome.NOT_MET: 409}

# How often step.js reports active time; the engine caps each beat at HEARTBEAT_MAX_SECONDS.
HEARTBEAT_INTERVAL_SECONDS = 15


def _is_preview(user):
    """Teachers look at steps to check them; their visits must not become learner progress."""
    return user.is_staff


def _preview_reason():
    return _("This is a teacher's preview: answers and progress are not recorded.")


# --------------------------------------------------------------------------
# Subject and chapter pages
# --------------------------------------------------------------------------


def _type_ticks(chapter_state):
    """One indicator per step type in the chapter (Reading, Video, Simulation, Quiz ...), MARS-labs style.

    done when every step of that type is done, in progress once one is
    started or done, locked when all of them are locked, else to do.
    """
    groups = {}
    for step_state in chapter_state.steps:
        groups.setdefault(step_state.step.step_type, []).append(step_state)
    ticks = []
    for step_type, states in groups.items():
        statuses = [s.display_status for s in states]
        if all(s == "done" for s in statuses):
            status = "done"
        elif any(s in ("done", "in_progress") for s in statuses):
            status = "in_progress"
        elif all(s == "locked" for s in statuses):
            status = "locked"
        else:
            status = "available"
        ticks.append({
            "label": StepType(step_type).label,
            "status": status,
            "done": statuses.count("done"),
            "total": len(states),
        })
    return ticks


def _continue_step(chapter_state):
    """The first step that is open and not done yet: where a "Continue" link goes."""
    return next((s for s in chapter_state.steps if s.is_available and not s.is_done), None)


def subject_chapter_states(user, subject):
    """The ChapterStates of ``subject``'s chapters that ``user`` may open, in textbook order.

    A learner's come from their class's cached curriculum and one read of their rows
    (``engine.CurriculumFrontier``: the same states as ``chapter_states``, tested in
    tests/progress/test_dashboard_equivalence.py), instead of the subject's steps and rows as
    model objects. Staff see every class's chapters, retired ones too: those are read.
    """
    if not user.is_staff:
        frontier = engine.CurriculumFrontier.for_learner(user)
        return [frontier.state(chapter) for chapter in frontier.chapters_of(subject.pk)]
    chapters = list(
        visible_chapters(user).filter(subject=subject).select_related("subject").order_by("grade", "order_index")
    )
    states = engine.chapter_states(learner=user, chapters=chapters)
    return [states[c.pk] for c in chapters]


@login_required
@require_GET
def subject_detail(request, code):
    subject = get_subject_for(request.user, code)
    rows = [
        {"state": state, "ticks": _type_ticks(state), "continue": _continue_step(state)}
        for state in subject_chapter_states(request.user, subject)
    ]
    steps_total = sum(len(r["state"].steps) for r in rows)
    steps_done = sum(r["state"].done_count for r in rows)
    return render(request, "progress/subject.html", {
        "subject": subject,
        "rows": rows,
        "steps_total": steps_total,
        "steps_done": steps_done,
        "percentage": round(100 * steps_done / steps_total) if steps_total else 0,
    })


@login_required
@require_GET
def chapter_detail(request, slug):
    chapter = get_chapter_for(request.user, slug)
    state = engine.chapter_states(learner=request.user, chapters=[chapter])[chapter.pk]
    return render(request, "progress/chapter.html", {
        "chapter": chapter,
        "state": state,
        "continue": _continue_step(state),
        "preview": _is_preview(request.user),
    })


# --------------------------------------------------------------------------
# The step page
# --------------------------------------------------------------------------


def _embeddable_url(url):
    """A video or simulation address the page may load: site-relative or https, nothing else."""
    if isinstance(url, str) and (url.startswith("https://") or (url.startswith("/") and not url.startswith("//"))):
        return url
    return ""


def _origin(url):
    """The origin step.js accepts postMessage from; empty means this site's own."""
    if not url or url.startswith("/"):
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _duration(seconds):
    """45 -> "45 s", 90 -> "1 min 30 s", 120 -> "2 min"."""
    minutes, seconds = divmod(int(seconds), 60)
    if not minutes:
        return _("%(s)d s") % {"s": seconds}
    if not seconds:
        return _("%(m)d min") % {"m": minutes}
    return _("%(m)d min %(s)d s") % {"m": minutes, "s": seconds}


# After a quiz POST the step page shows that attempt's result once. The POST's redirect carries a
# cookie naming the learner and their attempt count, scoped to the step's page; the page rebuilds
# the result from the learner's own row (the attempt's answers and score, the quiz's right answers
# and explanations) and drops the cookie. Keeping the result in the session instead cost a
# session write on the POST and another on the page. A made-up cookie can only name the
# learner's own latest attempt, which they have seen.
QUIZ_RESULT_COOKIE = "quiz_result"


def _quiz_result_marker(request, attempts):
    return f"{request.user.pk}.{attempts}"


def _quiz_result(step, data, *, reason):
    """The latest attempt in ``data`` as the result card shows it, or None when the quiz changed since."""
    questions = (step.activity or {}).get("questions", [])
    attempt = (data.get("attempts") or [None])[-1]
    if not attempt or sorted(attempt.get("answers", {})) != sorted(str(i) for i in range(len(questions))):
        return None
    answers = attempt["answers"]
    return {
        "answers": answers,
        "reason": reason,
        "score": attempt["score"],
        "correct": [answers[str(i)] == q["answer"] for i, q in enumerate(questions)],
        "explanations": [q.get("explanation", "") for q in questions],
        "right_answers": [q["answer"] for q in questions],
        "best_score": data.get("best_score"),
    }


def _quiz_feedback(questions, stored, *, reveal):
    """Per question: the learner's choice, whether it was right, the explanation (and the right choice)."""
    if len(stored.get("correct", [])) != len(questions):
        return []  # the teacher changed the quiz since this attempt: the score stands, the details do not
    rows = []
    for question in questions:
        i = question["index"]
        choices = dict(question["choices"])
        mine = stored["answers"].get(str(i))
        right_choice = stored["right_answers"][i]
        is_right = stored["correct"][i]
        rows.append({
            "number": i + 1,
            "text": question["text"],
            "mine": choices.get(mine, ""),
            "right": is_right,
            # The right choice of a missed question is shown once the step is passed,
            # so a retry still asks the learner to think rather than copy.
            "right_choice": choices.get(right_choice, "") if (reveal or is_right) else "",
            "explanation": stored["explanations"][i],
        })
    return rows


def _render_locked(request, step, reason, *, status=403):
    return render(request, "progress/step.html", {
        "step": step, "chapter": step.chapter, "locked_reason": reason,
    }, status=status)


def _render_step(request, step, *, status=200, quiz_form=None, answer_form=None, quiz_result=False):
    """The step page as ``request.user`` sees it now. Reads only: the engine wrote what it had to.

    ``quiz_result``: show the result of the learner's latest quiz attempt (once, after submitting).
    """
    preview = _is_preview(request.user)
    chapter_state = engine.chapter_states(learner=request.user, chapters=[step.chapter])[step.chapter_id]
    index = next(i for i, s in enumerate(chapter_state.steps) if s.step.pk == step.pk)
    state = chapter_state.steps[index]
    if state.lock_reason and not preview:
        return _render_locked(request, step, state.lock_reason)

    # A learner who has not started (or a teacher previewing) is judged on a blank row.
    progress = state.progress if state.progress and not preview else LearningProgress(user=request.user, step=step)
    met, _percentage, reason = engine.evaluate(progress=progress, step=step)
    criteria = engine.criteria_for(progress, step)
    data = progress.progress_data or {}
    is_done = progress.status in DONE_STATUSES
    kind = criteria.get("type")
    activity = step.activity or {}
    previous_state = chapter_state.steps[index - 1] if index > 0 else None
    next_state = chapter_state.steps[index + 1] if index + 1 < len(chapter_state.steps) else None

    context = {
        "step": step,
        "chapter": step.chapter,
        "preview": preview,
        "state": state,
        "progress": progress,
        "is_done": is_done,
        "percentage": progress.completion_percentage,
        "criteria": criteria,
        "criteria_kind": kind,
        "reason": reason,
        "met": met,
        # Mark complete does something only when the criteria are met, or *are* the press itself.
        "can_mark": not preview and not is_done and (met or kind == "manual"),
        # A quiz, an answer or a simulation report completes its step by itself; the button
        # would only ever be disabled there, so it is shown for the other criteria (or if met).
        "show_mark_complete": met or kind not in ("quiz", "submission", "external"),
        "needed_seconds": int(criteria["value"]) if kind == "time" else None,
        "earned_seconds": int(data.get("active_seconds", 0)),
        "needed_display": _duration(criteria["value"]) if kind == "time" else "",
        "earned_display": _duration(data.get("active_seconds", 0)),
        "position": index + 1,
        "step_count": len(chapter_state.steps),
        "previous_state": previous_state,
        "next_state": next_state,
        # The next step waits only for this one: step.js may reveal its link when this completes.
        "next_waits_on_this": bool(
            next_state and next_state.lock_reason and not is_done and not chapter_state.lock_reason
        ),
        "heartbeat_interval": HEARTBEAT_INTERVAL_SECONDS,
    }
    if step.step_type == StepType.VIDEO:
        context["video_url"] = _embeddable_url(activity.get("video_url"))
        context["video_url_refused"] = bool(activity.get("video_url")) and not context["video_url"]
    elif step.step_type == StepType.INTERACTIVE:
        context["simulation_url"] = _embeddable_url(activity.get("simulation_url"))
        context["simulation_url_refused"] = bool(activity.get("simulation_url")) and not context["simulation_url"]
        context["simulation_origin"] = _origin(context["simulation_url"])
    elif step.step_type == StepType.QUIZ:
        questions = engine.quiz_questions(step)
        context["quiz_form"] = quiz_form or QuizForm(questions=questions)
        context["pass_mark"] = criteria.get("min_score") if kind == "quiz" else None
        context["attempt_count"] = len(data.get("attempts", []))
        context["best_score"] = data.get("best_score")
        quiz_result = _quiz_result(step, data, reason=data.get("reason", "")) if quiz_result and not preview else None
        if quiz_result:
            context["quiz_result"] = quiz_result
            context["quiz_feedback"] = _quiz_feedback(questions, quiz_result, reveal=is_done)
    elif step.step_type == StepType.EXERCISE:
        context["answer_form"] = answer_form or AnswerForm()
        submissions = data.get("submissions", [])
        context["last_submission"] = submissions[-1] if submissions else None
        context["accepted_answer"] = data.get("accepted_answer")
    return render(request, "progress/step.html", context, status=status)


@login_required
@require_GET
def step_detail(request, step_id):
    step = get_step_for(request.user, step_id)
    if _is_preview(request.user):
        return _render_step(request, step)
    result = engine.open_step(learner=request.user, step=step)
    if not result.ok:
        return _render_locked(request, step, result.reason, status=REFUSAL_STATUS.get(result.outcome, 403))
    marker = request.COOKIES.get(QUIZ_RESULT_COOKIE)
    attempts = len((result.progress.progress_data or {}).get("attempts", [])) if result.progress else 0
    response = _render_step(request, step, quiz_result=marker == _quiz_result_marker(request, attempts))
    if marker is not None:
        response.delete_cookie(QUIZ_RESULT_COOKIE, path=step.get_absolute_url(), samesite="Lax")
    return response


def _after_post(request, step, result, *, message="", **render_kwargs):
    """The shared end of the step's HTML POSTs: redirect on success, else say why with the right status."""
    if result.ok:
        level = messages.SUCCESS if result.completed or result.outcome == Outcome.UNCHANGED else messages.INFO
        messages.add_message(request, level, capfirst(message or result.reason))
        return redirect(step.get_absolute_url())
    if result.outcome in (Outcome.LOCKED, Outcome.DENIED):
        return _render_locked(request, step, result.reason)
    if not render_kwargs:  # a form shows its own errors; otherwise the reason goes in a message
        messages.add_message(
            request, messages.WARNING if result.outcome == Outcome.NOT_MET else messages.ERROR, capfirst(result.reason)
        )
    return _render_step(request, step, status=REFUSAL_STATUS[result.outcome], **render_kwargs)


@login_required
@require_POST
def mark_complete(request, step_id):
    step = get_step_for(request.user, step_id)
    if _is_preview(request.user):
        return _render_locked(request, step, _preview_reason())
    result = engine.mark_done(learner=request.user, step=step)
    message = _("Completed ✓") if result.completed else ""
    return _after_post(request, step, result, message=message)


@login_required
@require_POST
def quiz_submit(request, step_id):
    step = get_step_for(request.user, step_id)
    if _is_preview(request.user):
        return _render_locked(request, step, _preview_reason())
    form = QuizForm(request.POST, questions=engine.quiz_questions(step))
    if not form.is_valid():
        return _render_step(request, step, status=400, quiz_form=form)
    result = engine.submit_quiz(learner=request.user, step=step, answers=form.answers())
    if result.outcome == Outcome.INVALID:
        form.add_error(None, result.reason)
    if not result.ok:
        return _after_post(request, step, result, quiz_form=form)
    message = _("You scored %(score)d%% (%(reason)s).") % {"score": result.details["score"], "reason": result.reason}
    response = _after_post(request, step, result, message=message)
    response["Location"] += "#quiz-result"
    response.set_cookie(
        QUIZ_RESULT_COOKIE, _quiz_result_marker(request, result.details["attempts"]), path=step.get_absolute_url(),
        secure=settings.SESSION_COOKIE_SECURE, httponly=True, samesite="Lax",
    )
    return response


@login_required
@require_POST
def answer_submit(request, step_id):
    step = get_step_for(request.user, step_id)
    if _is_preview(request.user):
        return _render_locked(request, step, _preview_reason())
    form = AnswerForm(request.POST)
    if not form.is_valid():
        return _render_step(request, step, status=400, answer_form=form)
    result = engine.submit_answer(learner=request.user, step=step, answer=form.cleaned_data["answer"])
    if result.outcome == Outcome.INVALID:
        form.add_error("answer", result.reason)
    if result.ok and not result.details.get("right"):
        messages.warning(request, capfirst(result.reason))
        return redirect(step.get_absolute_url())
    return _after_post(request, step, result, answer_form=form)


@login_required
@require_POST
def simulation_report(request, step_id):
    """The learner says they finished the simulation (the form, or step.js relaying the simulation's message).

    Only ``completed`` is taken from the page: a score posted by the learner's
    own browser could be anything, so scores come only through the simulations' API.
    """
    step = get_step_for(request.user, step_id)
    if _is_preview(request.user):
        return _render_locked(request, step, _preview_reason())
    result = engine.report_external(learner=request.user, step=step, completed=True)
    return _after_post(request, step, result)


# --------------------------------------------------------------------------
# Heartbeat (JSON, for step.js)
# --------------------------------------------------------------------------


@login_required
@require_POST
def heartbeat(request, step_id):
    """``seconds`` of visible, active time since the page's previous beat -> engine.record_active_time."""
    step = get_step_for(request.user, step_id)
    if _is_preview(request.user):
        return JsonResponse({"ok": False, "reason": _preview_reason()}, status=403)
    form = HeartbeatForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"ok": False, "reason": form.first_error()}, status=400)
    result = engine.record_active_time(
        learner=request.user, step=step, seconds=form.cleaned_data["seconds"], watched=form.cleaned_data["watched"]
    )
    if not result.ok:
        return JsonResponse({"ok": False, "reason": result.reason}, status=REFUSAL_STATUS.get(result.outcome, 400))
    progress = result.progress
    if progress is None:  # a late beat from a page the learner has left: no credit, nothing to report
        return JsonResponse({"ok": True, "reason": result.reason, "credited": 0, "stale": True})
    criteria = engine.criteria_for(progress, step)
    return JsonResponse({
        "ok": True,
        "reason": result.reason,
        "credited": result.details.get("credited", 0),
        "active_seconds": int(progress.progress_data.get("active_seconds", 0)),
        "needed": int(criteria["value"]) if criteria.get("type") == "time" else None,
        "completed": progress.status in DONE_STATUSES,
        "percentage": progress.completion_percentage,
    })
