"""Simulation events: check the body, hand the event to the engine once, remember the answer.

``POST /api/v1/steps/<uuid>/events`` with ``{"id", "verb", "score", "duration", "learner"}``.
What each verb asks of the engine (the engine decides what it changes):

* ``started``  -> ``engine.open_step`` (starts the step; a view criterion completes).
* ``completed`` -> ``engine.report_external(completed=True)`` (+ the score, if sent).
* ``passed``   -> ``report_external(completed=True, score=...)``.
* ``failed``   -> ``report_external(completed=False, score=...)``.
* ``answered`` -> ``report_external(completed=False, score=...)``; the score is required.

An *external* criterion is met by ``completed`` or ``passed``; ``failed`` and
``answered`` only record the score. A *quiz* criterion is judged by the best
score against the step's own pass mark: the simulation's "passed"/"failed"
verdict never overrides the teacher's ``min_score``. ``duration`` is kept
with the event but never credited as active time: that comes only from the
learner's own heartbeats, which the server can check.
"""

import datetime
import re
import uuid

from django.db import IntegrityError
from django.utils.translation import gettext as _

from progress import engine
from progress.enums import Status

from .enums import Verb
from .http import ApiError, as_id
from .models import ApiEvent
from .queries import one

EVENT_FIELDS = {"id", "learner", "verb", "score", "duration"}
UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# ISO 8601 durations as xAPI uses them (PT42S, PT1M30.5S, P1DT2H), bounded so they always fit a timedelta.
_D, _H, _M, _S = r"[0-9]{1,4}D", r"[0-9]{1,5}H", r"[0-9]{1,6}M", r"[0-9]{1,7}(?:\.[0-9]{1,6})?S"
_TIME = rf"T(?:{_H}(?:{_M})?(?:{_S})?|{_M}(?:{_S})?|{_S})"
DURATION_PATTERN = rf"^P(?:{_D}(?:{_TIME})?|{_TIME})$"
_DURATION = re.compile(DURATION_PATTERN)
VERBS = frozenset(Verb.values)  # Verb.values builds a new list on every use
SCORELESS_VERBS = {Verb.STARTED}
SCORE_REQUIRED_VERBS = {Verb.ANSWERED}


def parse_duration(text):
    """``"PT1M30.5S"`` -> timedelta(seconds=90.5); None when it is not such a duration."""
    if not isinstance(text, str) or not _DURATION.fullmatch(text):
        return None
    # The pattern allows no years or months, so each letter names one unit.
    units = {"D": "days", "H": "hours", "M": "minutes", "S": "seconds"}
    return datetime.timedelta(**{units[unit]: float(n) for n, unit in re.findall(r"([0-9.]+)([DHMS])", text)})


def clean_event(body):
    """The event fields from a request body, checked; ApiError(400) listing every problem."""
    problems = []
    unknown = sorted(set(body) - EVENT_FIELDS)
    if unknown:
        problems.append(_("unknown fields: %(names)s (allowed: id, learner, verb, score, duration)")
                        % {"names": ", ".join(unknown)})
    event_id = body.get("id")
    if event_id is None:
        problems.append(_("id is required: a UUID you choose, the same one when you retry"))
    elif not (isinstance(event_id, str) and UUID_PATTERN.fullmatch(event_id)):
        problems.append(_("id must be a UUID like 3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b"))
    verb = body.get("verb")
    if verb is None:
        problems.append(_("verb is required: one of %(verbs)s") % {"verbs": ", ".join(Verb.values)})
    elif not isinstance(verb, str) or verb not in VERBS:
        problems.append(_("verb must be one of %(verbs)s") % {"verbs": ", ".join(Verb.values)})
        verb = None
    score = body.get("score")
    if "score" in body:
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 100:
            problems.append(_("score must be a number from 0 to 100"))
        elif verb in SCORELESS_VERBS:
            problems.append(_("a started event has no score"))
    elif verb in SCORE_REQUIRED_VERBS:
        problems.append(_("an answered event needs a score"))
    duration = None
    if "duration" in body:
        duration = parse_duration(body["duration"])
        if duration is None:
            problems.append(_("duration must be an ISO 8601 duration like PT42S or PT1M30S"))
    learner_id = None
    if "learner" in body:
        learner_id = None if isinstance(body["learner"], str) else as_id(body["learner"])
        if learner_id is None:
            problems.append(_("learner must be a user id (a whole number)"))
    if problems:
        raise ApiError(400, "; ".join(problems), extra={"errors": problems})
    return {
        "event_id": uuid.UUID(event_id), "verb": verb, "score": score, "duration": duration,
        "learner_id": learner_id,
    }


def _apply(*, verb, learner, step, score, reporter, also):
    """Hand one event to the engine (see the module docstring for the mapping)."""
    if verb == Verb.STARTED:
        # A simulation starting is not the learner opening the page: heartbeats keep crediting that page.
        return engine.open_step(learner=learner, step=step, viewing=False, also=also)
    completed = verb in (Verb.COMPLETED, Verb.PASSED)
    return engine.report_external(learner=learner, step=step, completed=completed, score=score, reporter=reporter,
                                  also=also)


def _answer(event, result, learner, step):
    progress = result.progress
    return {
        "id": str(event["event_id"]),
        "verb": event["verb"],
        "learner": learner.pk,
        "step": str(step.pk),
        "outcome": str(result.outcome),
        "status": progress.status if progress else Status.NOT_STARTED,
        "percentage": progress.completion_percentage if progress else 0,
        "completed": result.completed,
        "reason": result.reason,
    }


REFUSAL_STATUS = {
    engine.Outcome.LOCKED: 409,  # a valid request the step's current state refuses; retry when it unlocks
    engine.Outcome.NOT_MET: 409,
    engine.Outcome.INVALID: 400,
    engine.Outcome.DENIED: 403,
}


def replay(existing, event):
    """The answer for an event id seen before: the first answer again (200), or 409 if reused."""
    if not existing.same_as(learner_id=event["learner"].pk, step_id=event["step"].pk, verb=event["verb"],
                            score=event["score"], duration=event["duration"]):
        raise ApiError(409, _("this event id was already used for a different event: use a new id"))
    return existing.response


def record(*, event, learner, step, principal, seen=None):
    """Apply ``event`` once: ``(status, body)``. 201 the first time, 200 with the same body after.

    The ApiEvent row and the engine's writes commit together or not at all:
    the engine inserts it with its own writes (``also``; on PostgreSQL in the
    same statement), in its one transaction, with no savepoint. A refused
    event (locked step) records nothing, so the same id may be sent again
    once the step is open. ``seen``: what the caller already looked up under
    the event id: the ApiEvent, or False for none (either saves the lookup; a
    race is still caught below); None looks it up here.
    """
    event = {**event, "learner": learner, "step": step}
    if isinstance(seen, ApiEvent) and seen.event_id == event["event_id"]:
        existing = seen
    elif seen is False:
        existing = None
    else:
        existing = one(ApiEvent.objects.filter(event_id=event["event_id"]))
    if existing is not None:
        return 200, replay(existing, event)
    reporter = principal.actor_for(learner)
    answered = {}

    def api_event(result):
        answered["body"] = body = _answer(event, result, learner, step)
        token, reporter = principal.token, principal.user
        return [ApiEvent(  # ids, not instances: a related instance costs its descriptor's checks
            event_id=event["event_id"], learner_id=learner.pk, step_id=step.pk, verb=event["verb"],
            score=event["score"], duration=event["duration"], token_id=None if token is None else token.pk,
            reporter_id=None if reporter is None else reporter.pk, response=body,
        )]

    try:
        result = _apply(verb=event["verb"], learner=learner, step=step, score=event["score"], reporter=reporter,
                        also=api_event)
    except IntegrityError:
        # The same id raced in from another request and won; everything here rolled back.
        existing = one(ApiEvent.objects.filter(event_id=event["event_id"]))
        if existing is None:
            raise
        return 200, replay(existing, event)
    if not result.ok:  # the engine rolled back: nothing was written
        state = {k: v for k, v in _answer(event, result, learner, step).items() if k != "reason"}
        raise ApiError(REFUSAL_STATUS.get(result.outcome, 409), result.reason, extra=state)
    return 201, answered["body"]
