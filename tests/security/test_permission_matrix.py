"""The permission matrix (issue #10): every URL the resolver knows, as each of the eight roles.

``MATRIX`` below is the one table. Its keys are the URL patterns exactly as
``get_resolver()`` spells them (prefix + route); each row lists requests
(GET, and for state-changing endpoints a POST/PUT with a plausible body) and
the status every role must get. A URL pattern without a row fails
``test_every_url_pattern_has_a_row`` naming it, and a row whose pattern is gone
fails too: adding a URL means deciding who may use it, here.

Every request carries A's ids (A's step, classroom, learner id, admin
objects), so a row reads as "what can this role do to A". On top of the
status, every cell checks for the roles that have no business with A (anonymous,
student B, the teacher of another class, B's learner token) that A's data is
exactly as before, and that the response does not contain A's name.

Codes, in role order (anonymous, student A, student B, teacher of A's class,
teacher of another class, lab token, B's learner token, admin):

* a number: that status (a 302 must then *not* be a redirect to a login page);
* ``L``: 302 to the site's login page (``/accounts/login/?next=...``);
* ``AL``: 302 to the admin's login page (signed out, or signed in without staff status).

Page views ignore bearer tokens, so the two token roles are anonymous there.
"""

import json
import re
import uuid
from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.security.conftest import A_LAST_NAME, A_USERNAME, MAY_CHANGE_A, MAY_SEE_A, ROLES, client_for

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Request:
    method: str
    codes: tuple
    url: object = None  # a callable(world) -> path; default: the pattern with A's ids filled in
    data: object = None  # a callable(world) -> dict (form data, or the JSON body when json=True)
    json: bool = False
    note: str = field(default="", compare=False)


def _codes(spec):
    codes = tuple(int(c) if c.isdigit() else c for c in spec.split())
    assert len(codes) == len(ROLES), spec
    return codes


def get(spec, **kwargs):
    return Request("GET", _codes(spec), **kwargs)


def post(spec, **kwargs):
    return Request("POST", _codes(spec), **kwargs)


def put(spec, **kwargs):
    return Request("PUT", _codes(spec), **kwargs)


# --------------------------------------------------------------------------
# Request bodies (A's ids in them: the IDOR attempts of the issue)
# --------------------------------------------------------------------------

def _marslabs_document(w):
    return {"user_id": w.a.pk, "progress_data": {
        "class": 12, "subject_progress": {"phy": {"completed_experiments": ["ohms law"], "completed_quizzes": []}}}}


def _event_for_a(w):
    return {"id": str(uuid.uuid4()), "verb": "completed", "learner": w.a.pk}


def _step_action_on_a(w):
    return {"learner": w.a.pk, "step": str(w.simulation.pk), "action": "complete", "reason": "matrix"}


def _admin_action_on_a(w):
    return {"action": "complete_selected", "_selected_action": [w.a_progress.pk], "apply": "1", "reason": "matrix"}


def _profile_of(w):
    return {"grade": 11, "background_level": "advanced", "preferred_language": "en"}


# --------------------------------------------------------------------------
# The table
#                                     anon  A    B    T-A  T-oth lab  ltok admin
# --------------------------------------------------------------------------

SIGNED_IN_PAGE = "L 200 200 200 200 L L 200"
POST_ONLY_PAGE = "L 405 405 405 405 L L 405"  # login_required first, then require_POST
ADMIN_ONLY = "AL AL AL {} {} AL AL {}"

PAGES = {
    "healthz": [get("200 200 200 200 200 200 200 200")],
    "accounts/login/": [get("200 302 302 302 302 200 200 302")],
    # Logout is POST only (Django 5); a GET must not sign anyone out.
    "accounts/logout/": [get("405 405 405 405 405 405 405 405"), post("L L L L L L L L")],
    "profile/": [get(SIGNED_IN_PAGE), post("L 302 302 302 302 L L 302", data=_profile_of,
                                           note="each signed-in user edits only their own profile")],
    "profile/password/": [get(SIGNED_IN_PAGE),
                          post("L 200 200 200 200 L L 200", data=lambda w: {"old_password": "wrong"})],
    "profile/password/done/": [get(SIGNED_IN_PAGE)],
    "language/": [get("405 405 405 405 405 405 405 405"),
                  post("302 302 302 302 302 302 302 302", data=lambda w: {"language": "hi"})],
    "": [get(SIGNED_IN_PAGE)],
    "path/": [get("L 200 200 403 403 L L 403")],
    "path/skip/<uuid:step_id>": [get(POST_ONLY_PAGE), post("L 302 302 302 302 L L 302")],
    "subjects/<slug:code>/": [get(SIGNED_IN_PAGE)],
    "chapters/<slug:slug>/": [get(SIGNED_IN_PAGE)],
    # B has not done Theory, so A's current step is locked for B (and B's view of it is B's own progress).
    "steps/<uuid:step_id>/": [get("L 200 403 200 200 L L 200")],
    "steps/<uuid:step_id>/heartbeat": [get(POST_ONLY_PAGE),
                                       post("L 200 403 403 403 L L 403", data=lambda w: {"seconds": 5})],
    # A's step is judged by the simulation ("external"): marking it done is a 409 with the reason.
    "steps/<uuid:step_id>/complete": [get(POST_ONLY_PAGE), post("L 409 403 403 403 L L 403")],
    "steps/<uuid:step_id>/quiz": [get(POST_ONLY_PAGE), post("L 400 403 403 403 L L 403")],
    "steps/<uuid:step_id>/answer": [get(POST_ONLY_PAGE),
                                    post("L 302 403 403 403 L L 403", data=lambda w: {"answer": "42"})],
    "steps/<uuid:step_id>/report": [get(POST_ONLY_PAGE), post("L 302 403 403 403 L L 403")],
}

REPORTS = {
    "reports/": [get("L 403 403 200 200 L L 200")],
    "reports/classrooms/<int:classroom_id>/": [get("L 403 403 200 404 L L 200")],
    "reports/classrooms/<int:classroom_id>/progress.csv": [get("L 403 403 200 404 L L 200")],
    "reports/classrooms/<int:classroom_id>/attention/": [get("L 403 403 200 404 L L 200")],
    "reports/classrooms/<int:classroom_id>/attention.csv": [get("L 403 403 200 404 L L 200")],
    "reports/learners/<int:learner_id>/": [get("L 403 403 200 404 L L 200")],
    "reports/actions/step/": [get("405 405 405 405 405 405 405 405"),
                              post("L 403 403 302 404 L L 302", data=_step_action_on_a)],
}

API = {
    "api/v1/progress": [get("405 405 405 405 405 405 405 405"),
                        post("401 200 404 200 404 200 404 200", data=_marslabs_document, json=True)],
    "api/v1/progress/<str:user_id>": [
        get("401 200 404 200 404 200 404 200"),
        put("401 200 404 200 404 200 404 200", json=True,
            data=lambda w: {"progress_data": _marslabs_document(w)["progress_data"]}),
    ],
    "api/v1/users": [get("401 403 403 200 200 200 403 200"),
                     get("401 200 404 200 404 200 404 200", url=lambda w: f"/api/v1/users?Id={w.a.pk}")],
    "api/v1/update": [get("405 405 405 405 405 405 405 405"),
                      post("401 403 403 403 403 200 403 200", json=True,
                           data=lambda w: {"first_name": "New", "last_name": "Pupil", "age": 15})],
    "api/v1/steps/<str:step_id>/events": [get("405 405 405 405 405 405 405 405"),
                                          post("401 201 403 403 403 201 403 403", data=_event_for_a, json=True)],
    "api/v1/me/progress": [get("401 200 200 200 200 403 200 200")],
    "api/v1/learners/<str:learner_id>/progress": [get("401 200 404 200 404 200 404 200")],
    "api/v1/openapi.json": [get("200 200 200 200 200 200 200 200")],
    # A JSON 404 for anyone: it names no data, so it needs no credentials.
    "api/v1/^(?P<rest>.*)$": [get("404 404 404 404 404 404 404 404", url=lambda w: "/api/v1/no-such-thing")],
}

ADMIN_SITE = {
    "admin/": [get(ADMIN_ONLY.format(200, 200, 200))],
    "admin/login/": [get("200 200 200 302 302 200 200 302")],
    # Signed-out or non-staff: the admin sends them to its index (and from there to its login page).
    "admin/logout/": [get("302 302 302 405 405 302 302 405")],
    "admin/password_change/": [get(ADMIN_ONLY.format(200, 200, 200))],
    "admin/password_change/done/": [get(ADMIN_ONLY.format(200, 200, 200))],
    "admin/autocomplete/": [get(ADMIN_ONLY.format(403, 403, 403))],
    "admin/jsi18n/": [get(ADMIN_ONLY.format(200, 200, 200))],
    "admin/r/<path:content_type_id>/<path:object_id>/": [
        get(ADMIN_ONLY.format(302, 302, 302), url=lambda w: _view_on_site(w))],
    "admin/^(?P<app_label>auth|axes|learners|curriculum|progress|api)/$": [
        get(ADMIN_ONLY.format(200, 200, 200), url=lambda w: "/admin/progress/"),
        get(ADMIN_ONLY.format(404, 404, 200), url=lambda w: "/admin/axes/")],
    "admin/(?P<url>.*)$": [get(ADMIN_ONLY.format(404, 404, 404), url=lambda w: "/admin/no/such/page/")],
    "admin/learners/user/<id>/password/": [get(ADMIN_ONLY.format(403, 403, 200))],
    "admin/curriculum/chapter/import/": [get(ADMIN_ONLY.format(200, 200, 200))],
    "admin/curriculum/chapter/export/": [get(ADMIN_ONLY.format(200, 200, 200))],
    "admin/curriculum/chapter/markdown-preview/": [get(ADMIN_ONLY.format(405, 405, 405))],
    "admin/curriculum/learningstep/recompute/": [
        get(ADMIN_ONLY.format(200, 200, 200),
            url=lambda w: f"/admin/curriculum/learningstep/recompute/?ids={w.simulation.pk}"),
        post(ADMIN_ONLY.format(302, 302, 302),
             data=lambda w: {"ids": str(w.simulation.pk), "reason": "matrix"},
             note="the teacher of another class recomputes only their own learners"),
    ],
}


def _view_on_site(w):
    from django.contrib.contenttypes.models import ContentType

    return f"/admin/r/{ContentType.objects.get_for_model(w.chapter).pk}/{w.chapter.pk}/"


# The registered ModelAdmins, per view: (teacher of A's class, teacher of another class, admin).
# Everyone else gets the admin's login page. Teachers: learners/roles.py; rows of learners outside a
# teacher's classes answer 404 (learners/admin.py ScopedAdminMixin).
#                               changelist     add            change         history        delete
ADMIN_MODELS = {
    "auth.group":                ("403 403 200", "403 403 200", "403 403 200", "403 403 200", "403 403 200"),
    "axes.accessattempt":        ("403 403 200", "403 403 403", "403 403 200", "403 403 200", "403 403 200"),
    "axes.accesslog":            ("403 403 200", "403 403 403", "403 403 200", "403 403 200", "403 403 200"),
    "axes.accessfailurelog":     ("403 403 200", "403 403 403", "403 403 200", "403 403 200", "403 403 200"),
    "learners.user":             ("403 403 200", "403 403 200", "403 403 200", "403 403 200", "403 403 200"),
    "learners.userprofile":      ("200 200 200", "403 403 200", "200 404 200", "200 404 200", "403 404 200"),
    "learners.classroom":        ("200 200 200", "403 403 200", "200 404 200", "200 404 200", "403 404 200"),
    "curriculum.subject":        ("200 200 200", "200 200 200", "200 200 200", "200 200 200", "200 200 200"),
    "curriculum.chapter":        ("200 200 200", "200 200 200", "200 200 200", "200 200 200", "200 200 200"),
    "curriculum.learningstep":   ("200 200 200", "200 200 200", "200 200 200", "200 200 200", "200 200 200"),
    "progress.learningprogress": ("200 200 200", "403 403 403", "200 404 200", "200 404 200", "403 404 200"),
    "progress.learningpath":     ("200 200 200", "403 403 403", "200 404 200", "200 404 200", "403 404 200"),
    "progress.progress":         ("200 200 200", "403 403 403", "200 404 200", "200 404 200", "403 404 200"),
    "progress.progressevent":    ("200 200 200", "403 403 403", "200 404 200", "200 404 200", "403 404 403"),
    "progress.pathrule":         ("200 200 200", "403 403 403", "200 200 200", "200 200 200", "403 403 403"),
    "api.apitoken":              ("403 403 200", "403 403 403", "403 403 200", "403 403 200", "403 403 200"),
    "api.apievent":              ("403 403 200", "403 403 403", "403 403 200", "403 403 200", "403 403 403"),
}
# POSTs that would change A's data through the admin, by role.
ADMIN_POSTS = {
    # The "mark complete" action on A's row: the other class's teacher cannot even select it.
    "admin/progress/learningprogress/": [
        post(ADMIN_ONLY.format(302, 302, 302), data=_admin_action_on_a,
             note="teacher_other's changelist queryset excludes A's row: nothing selected, nothing changed")],
    "admin/learners/userprofile/<path:object_id>/change/": [
        post(ADMIN_ONLY.format(403, 404, 200), data=lambda w: {"grade": 11},
             note="a teacher may only view profiles; admin gets the form back (incomplete data)")],
    "admin/progress/learningpath/<path:object_id>/delete/": [
        post(ADMIN_ONLY.format(403, 404, 302), data=lambda w: {"post": "yes"})],
}


def _admin_model_rows():
    rows = {}
    for label, specs in ADMIN_MODELS.items():
        app, model = label.split(".")
        base = f"admin/{app}/{model}/"
        changelist, add, change, history, delete = (ADMIN_ONLY.format(*spec.split()) for spec in specs)
        rows[base] = [get(changelist)]
        rows[f"{base}add/"] = [get(add)]
        rows[f"{base}<path:object_id>/change/"] = [get(change)]
        rows[f"{base}<path:object_id>/history/"] = [get(history)]
        rows[f"{base}<path:object_id>/delete/"] = [get(delete)]
        # The bare object URL redirects to its change page (for staff), like any admin.
        rows[f"{base}<path:object_id>/"] = [get(ADMIN_ONLY.format(302, 302, 302))]
    for key, requests in ADMIN_POSTS.items():
        rows[key] = rows[key] + requests
    return rows


MATRIX = {**PAGES, **REPORTS, **API, **ADMIN_SITE, **_admin_model_rows()}


# --------------------------------------------------------------------------
# Walking the resolver
# --------------------------------------------------------------------------


def url_patterns(patterns=None, prefix=""):
    """Every URL pattern as ``prefix + route`` (admin included), in resolver order."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route


def _admin_object(world, route):
    match = re.match(r"admin/(\w+)/(\w+)/", route)
    return world.admin_objects[f"{match[1]}.{match[2]}"]


def url_for(route, world):
    """The pattern with A's ids in it."""
    values = {
        "step_id": world.simulation.pk, "code": world.subject.code, "slug": world.chapter.slug,
        "classroom_id": world.classroom_a.pk, "learner_id": world.a.pk, "user_id": world.a.pk, "id": world.a.pk,
    }
    if "<path:object_id>" in route:
        values["object_id"] = _admin_object(world, route).pk
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m[1]]), route)
    assert "^" not in path and "(" not in path, f"{route}: a regex pattern needs an explicit url= in its row"
    return "/" + path


def test_every_url_pattern_has_a_row():
    routes = list(url_patterns())
    missing = [route for route in routes if route not in MATRIX]
    stale = sorted(set(MATRIX) - set(routes))
    assert not missing, "URL patterns with no row in MATRIX (tests/security/test_permission_matrix.py): " + ", ".join(
        repr(r) for r in missing)
    assert not stale, "MATRIX rows for URL patterns that no longer exist: " + ", ".join(repr(r) for r in stale)
    assert len(routes) == len(set(routes)), "two URL patterns with the same route"


def test_every_role_is_in_every_row():
    assert all(len(request.codes) == len(ROLES) for requests in MATRIX.values() for request in requests)
    assert sum(len(requests) for requests in MATRIX.values()) > len(MATRIX)  # POSTs on top of one GET per row


def _perform(client, request, path, world):
    data = request.data(world) if request.data else {}
    if request.method == "GET":
        return client.get(path)
    if request.json:
        return getattr(client, request.method.lower())(path, json.dumps(data), content_type="application/json")
    return getattr(client, request.method.lower())(path, data)


def _check(response, expected, role):
    """An error message, or '' when ``response`` matches the code ``expected``."""
    status = response.status_code
    location = response.get("Location", "")
    if expected == "L":
        ok = status == 302 and location.startswith("/accounts/login/")
    elif expected == "AL":
        ok = status == 302 and location.startswith("/admin/login/")
    else:
        ok = status == expected and not (status == 302 and "/login/" in location)
    return "" if ok else f"{role}: expected {expected}, got {status} {location}".rstrip()


@pytest.mark.parametrize("route", sorted(MATRIX))
def test_permission_matrix(world, route):
    problems = []
    for request in MATRIX[route]:
        path = request.url(world) if request.url else url_for(route, world)
        for role, expected in zip(ROLES, request.codes, strict=True):
            before = world.a_state() if role not in MAY_CHANGE_A else None
            response = _perform(client_for(role, world), request, path, world)
            problem = _check(response, expected, role)
            if problem:
                problems.append(f"{request.method} {path} {problem}")
            if before is not None and world.a_state() != before:
                problems.append(f"{request.method} {path} {role}: CHANGED A's data")
            body = b"" if response.streaming else response.content
            if role not in MAY_SEE_A and (A_USERNAME.encode() in body or A_LAST_NAME.encode() in body):
                problems.append(f"{request.method} {path} {role}: the response shows A's name")
    assert not problems, "\n".join(problems)
