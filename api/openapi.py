"""The OpenAPI 3.1 contract of /api/v1/, built from the same schemas the code validates with.

Served at /api/v1/openapi.json. The MARS-labs document schema comes from
mars_labs.schemas (its ``x-messages`` stripped); the event body's patterns
come from api.events. tests/api/test_openapi.py validates real responses
against it and runs schemathesis over it.
"""

import copy
from functools import cache

from django.conf import settings

from mars_labs.schemas import MARSLABS_PROGRESS_SCHEMA

from .enums import Verb
from .events import DURATION_PATTERN, UUID_PATTERN
from .http import MAX_BODY_BYTES, MAX_ID


def strip_extensions(schema):
    """A copy of ``schema`` without our ``x-messages`` annotations (not part of JSON Schema)."""
    if isinstance(schema, dict):
        return {k: strip_extensions(v) for k, v in schema.items() if k != "x-messages"}
    if isinstance(schema, list):
        return [strip_extensions(v) for v in schema]
    return copy.deepcopy(schema)


def marslabs_progress_schema():
    """MARSLABS_PROGRESS_SCHEMA as published: ``class`` may also be a string of digits, as the
    validator accepts (MARS-labs clients sent "12")."""
    schema = strip_extensions(MARSLABS_PROGRESS_SCHEMA)
    schema["properties"]["class"] = {
        "anyOf": [schema["properties"]["class"], {"type": "string", "pattern": "^0{0,8}([1-9]|1[0-2])$"}],
        "description": "The learner's class, 1-12 (a number, or digits in a string).",
    }
    schema["description"] = (
        "A MARS-labs progress document: {\"class\": 12, \"subject_progress\": {\"phy\": "
        "{\"completed_experiments\": [...], \"completed_quizzes\": [...]}}}. Other top-level fields are kept verbatim."
    )
    return schema


ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
STATUS = {"type": "string", "enum": ["not_started", "in_progress", "completed", "skipped"]}
PERCENT = {"type": "integer", "minimum": 0, "maximum": 100}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes):
    return {str(code): {"$ref": f"#/components/responses/E{code}"} for code in codes}


ERROR_DESCRIPTIONS = {
    400: "The request is not valid (the message says why); nothing was written.",
    401: "No credentials, or a bad, revoked or deactivated token.",
    403: "Not allowed for this caller (or a signed-in browser's CSRF check failed); nothing was written.",
    404: "No such object for this caller (also what a learner gets for someone else's id).",
    409: "A valid request the current state refuses (locked step, reused event id); nothing was written.",
    413: f"The body is larger than {MAX_BODY_BYTES} bytes.",
    415: "The body is not sent as application/json.",
    429: "Over the rate limit (API_RATE_LIMIT per token or signed-in user); see Retry-After.",
}
AUTHENTICATED = [{"bearerAuth": []}, {"sessionCookie": []}]


def _operation(summary, responses, *, body=None, parameters=(), description="", tags=("MARS-labs",)):
    operation = {"summary": summary, "tags": list(tags), "security": AUTHENTICATED, "responses": responses}
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = list(parameters)
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


def _path_id(name, description):
    return {"name": name, "in": "path", "required": True, "schema": ID, "description": description}


@cache
def openapi_document():
    """The whole contract as a dict (built once per process)."""
    event_body = {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "verb"],
        "properties": {
            "id": {"type": "string", "format": "uuid", "pattern": f"^{UUID_PATTERN.pattern}$",
                   "description": "Your id for this event (a UUID). Resend the same id to retry safely."},
            "learner": {**ID, "description": "The learner's user id. Required with a lab token; "
                                             "with a learner token or session, leave it out or send your own."},
            "verb": {"type": "string", "enum": Verb.values},
            "score": {"type": "number", "minimum": 0, "maximum": 100,
                      "description": "Percent. Required for answered; not allowed for started."},
            "duration": {"type": "string", "pattern": DURATION_PATTERN,
                         "description": "ISO 8601 duration (PT42S). Kept with the event, never credited as time."},
        },
        "allOf": [
            {"if": {"properties": {"verb": {"const": "started"}}, "required": ["verb"]},
             "then": {"not": {"required": ["score"]}}},
            {"if": {"properties": {"verb": {"const": "answered"}}, "required": ["verb"]},
             "then": {"required": ["score"]}},
        ],
    }
    event_result = {
        "type": "object",
        "required": ["id", "verb", "learner", "step", "outcome", "status", "percentage", "completed", "reason"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "verb": {"type": "string", "enum": Verb.values},
            "learner": ID,
            "step": {"type": "string", "format": "uuid"},
            "outcome": {"type": "string", "enum": ["changed", "unchanged"]},
            "status": STATUS,
            "percentage": PERCENT,
            "completed": {"type": "boolean", "description": "This event completed the step."},
            "reason": {"type": "string", "description": "The engine's verdict, e.g. “score 55 < 70”."},
        },
    }
    summary = {
        "type": "object",
        "required": ["learner", "percentage", "subjects"],
        "properties": {
            "learner": {
                "type": "object",
                "required": ["id", "username", "first", "last", "class"],
                "properties": {"id": ID, "username": {"type": "string"}, "first": {"type": "string"},
                               "last": {"type": "string"}, "class": {"type": ["integer", "null"]}},
            },
            "percentage": PERCENT,
            "subjects": {"type": "array", "items": {
                "type": "object",
                "required": ["code", "name", "percentage", "steps_done", "steps_total", "chapters_done",
                             "chapters_total", "chapters"],
                "properties": {
                    "code": {"type": "string"}, "name": {"type": "string"}, "percentage": PERCENT,
                    "steps_done": {"type": "integer", "minimum": 0}, "steps_total": {"type": "integer", "minimum": 0},
                    "chapters_done": {"type": "integer", "minimum": 0},
                    "chapters_total": {"type": "integer", "minimum": 0},
                    "chapters": {"type": "array", "items": {
                        "type": "object",
                        "required": ["id", "slug", "title", "percentage", "steps_done", "steps_total"],
                        "properties": {
                            "id": {"type": "string", "format": "uuid"}, "slug": {"type": "string"},
                            "title": {"type": "string"}, "percentage": PERCENT,
                            "steps_done": {"type": "integer", "minimum": 0},
                            "steps_total": {"type": "integer", "minimum": 0},
                        },
                    }},
                },
            }},
        },
    }
    titles = {"type": "array", "items": {"type": "string"}}
    derived_document = {
        "type": "object",
        "required": ["subject_progress"],
        "description": "The learner's progress in MARS-labs' shape, derived from their step progress.",
        "properties": {
            "class": {"type": "integer", "minimum": 1, "maximum": 12},
            "subject_progress": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["completed_experiments", "completed_quizzes"],
                "properties": {"completed_experiments": titles, "completed_quizzes": titles},
            }},
        },
    }
    user = {
        "type": "object", "required": ["id", "first", "last", "age"],
        "properties": {"id": ID, "first": {"type": "string"}, "last": {"type": "string"},
                       "age": {"type": ["string", "null"], "description": "A string, as MARS-labs stored it."}},
    }
    message = {
        "type": "object", "required": ["message"],
        "properties": {"message": {"type": "string"}, "errors": {"type": "array", "items": {"type": "string"}}},
    }
    name = {"type": "string", "minLength": 1, "maxLength": 150}
    new_user = {
        "type": "object", "required": ["first_name", "last_name", "age"],
        "properties": {
            "first_name": name, "last_name": name,
            "age": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 120},
                              {"type": "string", "pattern": "^0{0,9}([0-9]|[1-9][0-9]|1[01][0-9]|120)$"}]},
        },
        "not": {"required": ["id"]},
    }
    responses = {f"E{code}": _json(_ref("Message"), text) for code, text in ERROR_DESCRIPTIONS.items()}
    responses["E429"]["headers"] = {
        "Retry-After": {"description": "Seconds until the window resets.", "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9]+$"}},
    }
    user_id_param = _path_id("user_id", "The learner's user id.")
    ok_message = _ref("Message")
    paths = {
        "/progress": {"post": _operation(
            "Store and apply a MARS-labs progress document",
            {"200": _json({**ok_message, "description": "{\"message\": \"Progress added successfully\", \"id\": N}"},
                          "Stored and applied (MARS-labs answered 200, not 201)."),
             **_errors(400, 401, 403, 404, 413, 415, 429)},
            body={"type": "object", "required": ["user_id", "progress_data"],
                  "properties": {"user_id": ID, "progress_data": _ref("MarsLabsProgress")}},
        )},
        "/progress/{user_id}": {
            "get": _operation(
                "The learner's MARS-labs documents, as received",
                {"200": _json({"type": "array", "minItems": 1, "items": _ref("ProgressDocument")}, "The documents."),
                 **_errors(401, 404, 429)},
                parameters=[user_id_param],
            ),
            "put": _operation(
                "Replace the learner's first document and apply it",
                {"200": _json(ok_message, "{\"message\": \"Progress updated successfully\"}"),
                 **_errors(400, 401, 403, 404, 413, 415, 429)},
                body={"type": "object", "required": ["progress_data"],
                      "properties": {"progress_data": _ref("MarsLabsProgress")}},
                parameters=[user_id_param],
            ),
        },
        "/users": {"get": _operation(
            "All learners (staff, lab tokens), or one with ?Id=N",
            {"200": _json({"oneOf": [{"type": "array", "items": _ref("User")}, _ref("User")]},
                          "A list, or one user when Id is given."),
             **_errors(401, 403, 404, 429)},
            parameters=[{"name": "Id", "in": "query", "required": False, "schema": ID,
                         "description": "One user's id (MARS-labs spelling, capital I)."}],
        )},
        "/update": {"post": _operation(
            "Create a learner (MARS-labs' POST /update)",
            {"200": _json(ok_message, "{\"message\": \"Success\", \"id\": N}"),
             **_errors(400, 401, 403, 409, 413, 415, 429)},
            body=new_user,
        )},
        "/steps/{step_id}/events": {"post": _operation(
            "A simulation reports what the learner did on a step",
            {"201": _json(_ref("EventResult"), "Recorded and applied."),
             "200": {**_json(_ref("EventResult"), "This event id was seen before: the first answer, again."),
                     "headers": {"Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}}}},
             **_errors(400, 401, 403, 404, 409, 413, 415, 429)},
            body=_ref("Event"),
            parameters=[{"name": "step_id", "in": "path", "required": True,
                         "schema": {"type": "string", "format": "uuid"}}],
            tags=("Simulations",),
            description="started opens the step; completed and passed meet an external criterion; "
                        "a score counts against a quiz criterion's own pass mark. A locked step answers 409 "
                        "with the reason and records nothing.",
        )},
        "/me/progress": {"get": _operation(
            "My subject and chapter percentages",
            {"200": _json(_ref("ProgressSummary"), "Per subject, per chapter."), **_errors(401, 403, 429)},
            tags=("Progress",),
        )},
        "/learners/{learner_id}/progress": {"get": _operation(
            "A learner's progress (self, staff, lab tokens)",
            {"200": _json({"oneOf": [_ref("ProgressSummary"), _ref("DerivedMarsLabsDocument")]},
                          "format=summary (default): percentages; format=marslabs: a MARS-labs document."),
             **_errors(400, 401, 404, 429)},
            parameters=[_path_id("learner_id", "The learner's user id."),
                        {"name": "format", "in": "query", "required": False,
                         "schema": {"type": "string", "enum": ["summary", "marslabs"]}}],
            tags=("Progress",),
        )},
        "/openapi.json": {"get": {
            "summary": "This document", "tags": ["Meta"], "security": [],
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
        }},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MARS Labs API",
            "version": "1.0.0",
            "description": (
                "MARS-labs-compatible progress and user endpoints, and simulation events. "
                f"Authenticate with “Authorization: Bearer <token>” or a browser session. Bodies up to "
                f"{MAX_BODY_BYTES} bytes of JSON; text may not contain NUL (\\u0000). Rate limit: "
                f"{settings.API_RATE_LIMIT} per token or user. See docs/api.md."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "A token from `manage.py create_api_token`."},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME,
                                  "description": "A signed-in browser; unsafe methods also need X-CSRFToken."},
            },
            "schemas": {
                "MarsLabsProgress": marslabs_progress_schema(),
                "DerivedMarsLabsDocument": derived_document,
                "ProgressDocument": {
                    "type": "object", "required": ["id", "user_id", "progress_data"],
                    "properties": {"id": ID, "user_id": ID, "progress_data": _ref("MarsLabsProgress")},
                },
                "User": user,
                "Event": event_body,
                "EventResult": event_result,
                "ProgressSummary": summary,
                "Message": message,
            },
            "responses": responses,
        },
    }
