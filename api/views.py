"""The JSON API under /api/v1/ (docs/api.md; contract: /api/v1/openapi.json).

MARS-labs-compatible endpoints keep MARS-labs' paths, fields, messages and
status codes (its Flask app answered 200 for POST /progress and POST /update:
``jsonify(...)`` without a status). Every write goes through the engine.

Access (each handler starts with one helper from this module that returns the
object or raises): a learner — signed in, or with a learner token — reaches
only their own data, and someone else's id answers 404 as if it did not
exist; a lab token reaches any learner, signed-in staff the learners of
the classrooms they teach (superusers: any). Listing users is for staff (the
same scope) and lab tokens; creating them for lab tokens and staff with the
add-user permission (teachers have none).
"""

import json
import re

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.http import HttpResponse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from curriculum import cache as curriculum_cache
from learners.models import UserProfile
from learners.roles import scope_to_learners
from mars_labs.schemas import SchemaError, validate_marslabs_progress
from progress import engine
from progress import versions as progress_versions
from progress.models import Progress

from . import events, queries
from .http import ApiError, as_id, endpoint, json_response, read_json
from .openapi import openapi_document
from .queries import one

User = get_user_model()

MAX_NAME_LENGTH = 150  # User.first_name / last_name


# --------------------------------------------------------------------------
# Access helpers
# --------------------------------------------------------------------------


def learners():
    """The users the MARS-labs endpoints call "users": active, not staff."""
    return User.objects.filter(is_active=True, is_staff=False, is_superuser=False)


def learners_in_reach(principal):
    """The learners the caller may act for besides themselves.

    A lab token: any learner. Staff signed in with the browser: the learners of
    the classrooms they teach (a superuser: everyone), as in the admin and the
    report pages (learners/roles.py). Anyone else: nobody.
    """
    if principal.is_lab:
        return learners()
    if principal.is_staff:
        return scope_to_learners(learners(), principal.user, learner_field="pk")
    return learners().none()


def learner_for(principal, user_id, *, message):
    """The learner ``user_id`` names, if the caller may act for them; else 404 with ``message``.

    A learner asking for anyone else gets the same 404 as for an unknown id,
    so ids cannot be probed.
    """
    user_id = as_id(user_id)
    own = principal.own_learner
    if user_id is not None and own is not None and own.pk == user_id:
        return own
    if user_id is not None and principal.may_act_for_others:
        learner = one(learners_in_reach(principal).filter(pk=user_id))
        if learner is not None:
            return learner
    raise ApiError(404, message)


def event_target(principal, learner_id, step_id, *, event_id):
    """``(learner, step, seen)`` for a simulation event, if the caller may send it; else 400/403/404.

    The learner: a lab token names one (``learner_id``, required); anyone else
    sends their own events only. The step: learners acting for themselves
    reach only the steps of their class (the rule the pages use); a lab token
    reaches any step. ``seen``: the ApiEvent stored under ``event_id`` already, else False.

    One query (``queries.event_target``). The engine needs only the learner's
    id, so a lab token's learner comes back as a deferred User (a field is
    read from the database on first use).
    """
    if learner_id is None:
        if principal.is_lab:
            raise ApiError(400, _("learner is required with a lab token"))
        learner = principal.user
    elif principal.is_lab:
        learner = None  # checked in the step query below
    elif learner_id != principal.user.pk:
        raise ApiError(403, _("you can only send your own events: leave learner out, or send your own id"))
    else:
        learner = principal.user
    step = None
    if isinstance(step_id, str) and events.UUID_PATTERN.fullmatch(step_id):
        step = queries.event_target(step_id=step_id, learner_id=learner_id or learner.pk, event_id=event_id)
    if learner is None:
        if step is not None and step.is_learner:
            learner = User.from_db(DEFAULT_DB_ALIAS, ["id"], [learner_id])
        else:  # which 404: the learner's first, as everywhere else
            learner = learner_for(principal, learner_id, message=_("No such learner."))
    elif step is not None and not step.in_class:
        step = None
    if step is None:
        raise ApiError(404, _("No such step."))
    return learner, step, step.seen or False


def valid_document(data):
    """A MARS-labs progress document, checked with mars_labs.schemas; ApiError(400) with its messages."""
    problems = []
    if isinstance(data, dict):
        grade = data.get("class")
        # schemas accepts any str.isdigit() class, but "²".isdigit() is True and int("²") fails, and
        # int() refuses over 4300 digits: insist on a few ASCII digits, as the OpenAPI schema says.
        if isinstance(grade, str) and not re.fullmatch(r"[0-9]{1,10}", grade):
            problems.append(_("progress_data.class: class must be a whole number from 1 to 12, not %(v)r")
                            % {"v": grade})
        subjects = data.get("subject_progress")
        if isinstance(subjects, dict):
            # The schema's pattern ends in "$", which Python lets match before a final newline.
            problems += [
                _("progress_data.subject_progress: %(v)r is not a subject code (like phy, chem, math)") % {"v": key}
                for key in subjects if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", key)
            ]
    if not problems:
        try:
            validate_marslabs_progress(data)
        except SchemaError as error:
            problems = list(error.messages)
    if problems:
        raise ApiError(400, "; ".join(problems), extra={"errors": problems})
    return data


# --------------------------------------------------------------------------
# MARS-labs-compatible endpoints
# --------------------------------------------------------------------------


def _document_json(document):
    return {"id": document.pk, "user_id": document.user_id, "progress_data": document.progress_data}


def add_progress(request):
    """POST /progress: store a MARS-labs document verbatim and apply it."""
    body = read_json(request)
    user_id, data = body.get("user_id"), body.get("progress_data")
    if not user_id or not data:  # MARS-labs' own test: falsy counts as missing
        raise ApiError(400, "User ID and progress data are required")
    if isinstance(user_id, str) or as_id(user_id) is None:
        raise ApiError(400, _("user_id must be a user id (a whole number)"))
    valid_document(data)
    # MARS-labs' own message: its clients match on it, so it stays in English (not translated).
    learner = learner_for(request.principal, user_id, message="User not found")
    request.audit_learner = learner.pk  # for the audit line (api/http.py)
    with transaction.atomic():
        document = Progress.objects.create(user=learner, progress_data=data)
        engine.apply_marslabs_document(
            document=document, actor=request.principal.actor_for(learner),
            # A learner's claim about themselves goes through locks and criteria; labs and staff are trusted.
            trusted=request.principal.may_act_for_others,
        )
    return json_response({"message": "Progress added successfully", "id": document.pk})


def list_progress(request, user_id):
    """GET /progress/<user_id>: the learner's documents, as received."""
    not_found = "No progress data found for the user"
    learner = learner_for(request.principal, user_id, message=not_found)
    documents = [_document_json(d) for d in Progress.objects.filter(user=learner).order_by("id")]
    if not documents:
        raise ApiError(404, not_found)
    return json_response(documents)


def update_progress(request, user_id):
    """PUT /progress/<user_id>: replace the learner's first document and apply it.

    Applying is additive: steps a document completed stay completed when a
    later version no longer lists them (progress is never taken away).
    """
    not_found = "No progress data found for the user"
    body = read_json(request)
    data = body.get("progress_data")
    if not data:
        raise ApiError(400, "Progress data is required")
    learner = learner_for(request.principal, user_id, message=not_found)
    request.audit_learner = learner.pk  # for the audit line (api/http.py)
    valid_document(data)
    with transaction.atomic():
        document = Progress.objects.select_for_update().filter(user=learner).order_by("id").first()
        if document is None:
            raise ApiError(404, not_found)
        document.progress_data = data
        document.save(update_fields=["progress_data", "updated_at"])
        engine.apply_marslabs_document(
            document=document, actor=request.principal.actor_for(learner),
            # A learner's claim about themselves goes through locks and criteria; labs and staff are trusted.
            trusted=request.principal.may_act_for_others,
        )
    return json_response({"message": "Progress updated successfully"})


def _user_json(user):
    # MARS-labs kept age as VARCHAR(4), so its clients read a string.
    return {"id": user.pk, "first": user.first_name, "last": user.last_name,
            "age": None if user.age is None else str(user.age)}


def list_users(request):
    """GET /users (staff, lab tokens) and GET /users?Id=N (also a learner asking for themselves)."""
    principal = request.principal
    if "Id" in request.GET:  # MARS-labs tested `if Id:`; an empty Id here is a bad id, not "list everyone"
        user_id = as_id(request.GET["Id"])
        own = principal.own_learner
        if user_id is not None and own is not None and own.pk == user_id:
            return json_response(_user_json(own))
        user = one(learners_in_reach(principal).filter(pk=user_id)) if user_id else None
        if user is None:
            raise ApiError(404, "Unable to detect the user!")
        return json_response(_user_json(user))
    if not principal.may_act_for_others:
        raise ApiError(403, _("only staff and lab tokens can list users"))
    return json_response([_user_json(u) for u in learners_in_reach(principal).order_by("id")])


def _clean_age(value):
    # MARS-labs sent "16"; and JSON has one number type, so 16.0 is 16.
    if (isinstance(value, str) and re.fullmatch(r"[0-9]{1,12}", value)) or (
        isinstance(value, float) and value.is_integer()
    ):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 120:
        raise ApiError(400, _("age must be a whole number from 0 to 120"))
    return value


def _clean_name(body, key):
    value = body[key]
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_NAME_LENGTH:
        raise ApiError(400, _("%(key)s must be text of 1 to %(n)d characters") % {"key": key, "n": MAX_NAME_LENGTH})
    return value


def username_for(first, last):
    """A free username from the names: "asha.verma", then "asha.verma2", ... (one query)."""
    parts = [slugify(first, allow_unicode=True), slugify(last, allow_unicode=True)]
    base = ".".join(p for p in parts if p)[:140] or "learner"
    taken = set(User.objects.filter(username__startswith=base).values_list("username", flat=True))
    if base not in taken:
        return base
    n = 2
    while f"{base}{n}" in taken:
        n += 1
    return f"{base}{n}"


def create_user(request):
    """POST /update: MARS-labs' "create a user" (a learner who signs in only once given a password)."""
    principal = request.principal
    # Teachers manage no user accounts (learners/roles.py): staff need the add-user permission.
    if not (principal.is_lab or (principal.is_staff and principal.user.has_perm("learners.add_user"))):
        raise ApiError(403, _("only lab tokens and staff who may add users can create users"))
    body = read_json(request)
    if "id" in body:
        raise ApiError(400, "User already registered")
    missing = [key for key in ("first_name", "last_name", "age") if key not in body]
    if missing:
        raise ApiError(400, _("first_name, last_name and age are required (missing: %(keys)s)")
                       % {"keys": ", ".join(missing)})
    first, last = _clean_name(body, "first_name"), _clean_name(body, "last_name")
    age = _clean_age(body["age"])
    for _attempt in range(5):
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    username=username_for(first, last), password=None, first_name=first, last_name=last, age=age,
                )
            break
        except IntegrityError:  # another request took the same username in between: pick again
            continue
    else:
        raise ApiError(409, _("could not find a free username; try again"))
    return json_response({"message": "Success", "id": user.pk})


# --------------------------------------------------------------------------
# Simulation events and read endpoints
# --------------------------------------------------------------------------


def post_event(request, step_id):
    """POST /steps/<uuid>/events: see api/events.py for what each verb does."""
    principal = request.principal
    event = events.clean_event(read_json(request))
    learner, step, seen = event_target(principal, event["learner_id"], step_id, event_id=event["event_id"])
    request.audit_learner = learner.pk  # for the audit line (api/http.py)
    status, body = events.record(event=event, learner=learner, step=step, principal=principal, seen=seen)
    response = json_response(body, status=status)
    if status == 200:
        response["Idempotent-Replayed"] = "true"
    return response


def _class_and_version(learner):
    """The learner's class and progress version as the database has them now (one query).

    Not from ``learner.profile``: a token's user is remembered by the process for a few seconds
    (api/auth.py), and a summary named by an old version would be an old summary.
    """
    found = UserProfile.objects.filter(user=learner).values_list("grade", "progress_version").first()
    return found or (None, 0)


def progress_summary(learner, *, snapshot=None):
    """Subject and chapter percentages for ``learner``: two queries (the class, the steps done per
    chapter), one when the caller gives the curriculum of the learner's class (``snapshot``).

    The curriculum comes from its cache (curriculum/cache.py); the numbers are
    ``engine.subject_rollups`` and ``engine.chapter_rollups``' (tests/api/test_read.py).
    """
    if snapshot is None:  # read the class, then its curriculum
        snapshot = curriculum_cache.snapshot(_class_and_version(learner)[0])
    grade = snapshot.grade
    done = engine.done_counts_by_chapter(learner=learner)
    by_subject = {}
    for chapter in snapshot.curriculum_chapters:
        steps_done = min(done.get(chapter.pk, 0), chapter.steps_total)
        entry = by_subject.setdefault(chapter.subject_id, {"subject": chapter.subject, "chapters": []})
        entry["chapters"].append({
            "id": str(chapter.pk), "slug": chapter.slug, "title": chapter.title,
            "steps_done": steps_done, "steps_total": chapter.steps_total,
            "percentage": round(100 * steps_done / chapter.steps_total) if chapter.steps_total else 0,
        })
    rollups = sorted(
        (
            engine.SubjectRollup(
                subject=entry["subject"],
                steps_total=sum(c["steps_total"] for c in entry["chapters"]),
                steps_done=sum(c["steps_done"] for c in entry["chapters"]),
                chapters_total=len(entry["chapters"]),
                chapters_done=sum(1 for c in entry["chapters"] if c["steps_done"] == c["steps_total"]),
            )
            for entry in by_subject.values()
        ),
        key=lambda r: (r.subject.order, r.subject.name),
    )
    return {
        "learner": {"id": learner.pk, "username": learner.get_username(), "first": learner.first_name,
                    "last": learner.last_name, "class": grade},
        "percentage": engine.overall_percentage(rollups),
        "subjects": [
            {
                "code": r.subject.code, "name": r.subject.name, "percentage": r.percentage,
                "steps_done": r.steps_done, "steps_total": r.steps_total,
                "chapters_done": r.chapters_done, "chapters_total": r.chapters_total,
                "chapters": by_subject[r.subject.pk]["chapters"],
            }
            for r in rollups
        ],
    }


def summary_response(learner):
    """``progress_summary`` as a JSON response, from the cache while nothing it shows has changed.

    Simulations and apps poll it; at district scale drawing it costs more than a dashboard hit
    (800 chapters). It is named like the dashboard (progress/dashboard.py): the learner's progress
    version, their class and the names it shows; the curriculum version is checked beside it
    (``cached_html(curriculum=True)``). Nothing in it is translated, so the language is not named.
    """
    grade, progress_version = _class_and_version(learner)
    shown = (learner.get_username(), learner.first_name, learner.last_name, grade)
    key = (f"api-summary:{curriculum_cache.database_tag()}:{learner.pk}:{progress_version}:"
           f"{progress_versions.fingerprint(shown)}")

    def draw(version):
        snapshot = curriculum_cache.snapshot(grade, version=version)
        return json.dumps(progress_summary(learner, snapshot=snapshot), ensure_ascii=False)

    return HttpResponse(progress_versions.cached_html(key, draw, curriculum=True), content_type="application/json")


def my_progress(request):
    """GET /me/progress: the caller's own subject and chapter percentages."""
    learner = request.principal.own_learner
    if learner is None:
        raise ApiError(403, _("a lab token acts for no learner: use /api/v1/learners/<id>/progress"))
    return summary_response(learner)


def learner_progress(request, learner_id):
    """GET /learners/<id>/progress[?format=marslabs]: self, staff or a lab token."""
    learner = learner_for(request.principal, learner_id, message=_("No such learner."))
    kind = request.GET.get("format", "summary")
    if kind == "marslabs":
        return json_response(engine.marslabs_document_for(learner=learner))
    if kind == "summary":
        return summary_response(learner)
    raise ApiError(400, _("format must be summary or marslabs"))


def openapi(request):
    return json_response(openapi_document())


# --------------------------------------------------------------------------
# The views urls.py routes to
# --------------------------------------------------------------------------

progress_collection = endpoint(POST=add_progress)
progress_detail = endpoint(GET=list_progress, PUT=update_progress)
users = endpoint(GET=list_users)
update = endpoint(POST=create_user)
step_events = endpoint(POST=post_event)
me_progress = endpoint(GET=my_progress)
learner_progress_view = endpoint(GET=learner_progress)
openapi_json = endpoint(public=True, GET=openapi)


@csrf_exempt
def unknown(request, rest=""):
    """Any other path under /api/v1/: a JSON 404, never the HTML page."""
    return ApiError(404, _("No such API endpoint: see /api/v1/openapi.json")).response()
