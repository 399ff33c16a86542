"""The JSON shapes MARS Labs stores, in one place, with messages teachers can read.

Each shape is a JSON Schema (draft 2020-12) so the API docs can publish it, plus
a ``validate_*`` function that model ``clean()`` methods, admin forms, the
importers and the API all call. The functions raise ``SchemaError`` carrying
plain-language messages ("Time cannot be negative: -5 seconds") instead of
jsonschema's technical ones.

Subschemas carry an ``x-messages`` map from a JSON Schema keyword to the
message shown when that keyword fails; ``{value}`` and ``{field}`` are filled
in. Rules JSON Schema cannot state (an answer index inside its choices) are
checked in Python after the schema passes.
"""

import functools
import re
import uuid

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError as JsonSchemaError

CRITERIA_TYPES = ("time", "quiz", "view", "manual", "submission", "external")
STEP_TYPES = ("reading", "quiz", "exercise", "video", "interactive")
MAX_STEP_SECONDS = 24 * 60 * 60


class SchemaError(ValidationError):
    """A ValidationError whose messages are meant to be shown to people."""


def _closed(properties, required=(), noun="field"):
    """An object schema that names its fields and refuses unknown ones."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
        "x-messages": {
            "type": "must be a JSON object",
            "required": "is missing the {missing!r} " + noun,
            "additionalProperties": "has an unknown " + noun + " {extra!r}",
        },
    }


_SECONDS = {
    "type": "integer",
    "minimum": 1,
    "maximum": MAX_STEP_SECONDS,
    "x-messages": {
        "type": "time must be a whole number of seconds, not {value!r}",
        "minimum": "time must be at least 1 second (got {value})",
        "maximum": "time cannot exceed 24 hours (got {value} seconds)",
    },
}
_PERCENT = {
    "type": "integer",
    "minimum": 0,
    "maximum": 100,
    "x-messages": {
        "type": "the pass mark must be a whole number from 0 to 100, not {value!r}",
        "minimum": "the pass mark must be between 0 and 100, not {value}",
        "maximum": "the pass mark must be between 0 and 100, not {value}",
    },
}

CRITERIA_SCHEMAS = {
    "time": _closed({"type": {"const": "time"}, "value": _SECONDS}, ["type", "value"]),
    "quiz": _closed({"type": {"const": "quiz"}, "min_score": _PERCENT}, ["type", "min_score"]),
    **{
        kind: _closed({"type": {"const": kind}}, ["type"])
        for kind in ("view", "manual", "submission", "external")
    },
}

_URL = {
    "type": "string",
    "pattern": r"^(https?://[^\s]+|/[^\s]*)$",
    "maxLength": 2000,
    "x-messages": {
        "type": "must be a web address",
        "pattern": "must start with http://, https:// or / (got {value!r})",
        "maxLength": "is too long",
    },
}
_TEXT = {
    "type": "string",
    "minLength": 1,
    "x-messages": {"type": "must be text", "minLength": "cannot be empty"},
}
_QUESTION = _closed(
    {
        "text": _TEXT,
        "choices": {
            "type": "array",
            "items": _TEXT,
            "minItems": 2,
            "x-messages": {
                "type": "must be a list of choices",
                "minItems": "needs at least two choices",
            },
        },
        "answer": {
            "type": "integer",
            "minimum": 0,
            "x-messages": {
                "type": "must be the number of the correct choice, counting from 0, not {value!r}",
                "minimum": "must be the number of the correct choice, counting from 0, not {value}",
            },
        },
        "explanation": {"type": "string"},
    },
    ["text", "choices", "answer"],
)

ACTIVITY_SCHEMA = _closed(
    {
        "questions": {
            "type": "array",
            "items": _QUESTION,
            "minItems": 1,
            "x-messages": {
                "type": "must be a list of questions",
                "minItems": "a quiz needs at least one question",
            },
        },
        "video_url": _URL,
        "simulation_url": _URL,
        "expected_answer": _TEXT,
        "instructions": {"type": "string"},
    }
)

LEARNING_PREFERENCES_SCHEMA = _closed(
    {
        "daily_goal_minutes": {
            "type": "integer",
            "minimum": 0,
            "maximum": 600,
            "x-messages": {
                "type": "the daily goal must be a whole number of minutes",
                "minimum": "the daily goal cannot be negative",
                "maximum": "the daily goal cannot exceed 600 minutes",
            },
        },
        "preferred_step_types": {
            "type": "array",
            "items": {"enum": list(STEP_TYPES), "x-messages": {"enum": "{value!r} is not a step type"}},
            "uniqueItems": True,
            "x-messages": {"type": "must be a list of step types", "uniqueItems": "lists a step type twice"},
        },
        "captions": {"type": "boolean", "x-messages": {"type": "must be true or false"}},
        "reduced_motion": {"type": "boolean", "x-messages": {"type": "must be true or false"}},
    },
    noun="preference",
)

STEPS_SEQUENCE_SCHEMA = {
    "type": "array",
    "items": {
        "type": "string",
        "format": "uuid",
        "pattern": "^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$",
        "x-messages": {"type": "must be a step id", "pattern": "{value!r} is not a step id"},
    },
    "uniqueItems": True,
    "x-messages": {"type": "must be a list of step ids", "uniqueItems": "lists the same step twice"},
}

_TITLES = {
    "type": "array",
    "items": {
        "type": "string",
        "minLength": 1,
        "x-messages": {"type": "must be a title", "minLength": "is empty"},
    },
    "x-messages": {"type": "must be a list of titles"},
}
MARSLABS_PROGRESS_SCHEMA = {
    "type": "object",
    "properties": {
        "class": {
            "type": "integer",
            "minimum": 1,
            "maximum": 12,
            "x-messages": {
                "type": "class must be a whole number from 1 to 12, not {value!r}",
                "minimum": "class must be from 1 to 12, not {value}",
                "maximum": "class must be from 1 to 12, not {value}",
            },
        },
        "subject_progress": {
            "type": "object",
            "propertyNames": {
                "pattern": "^[a-z][a-z0-9_-]{0,31}$",
                "x-messages": {"pattern": "{value!r} is not a subject code (like phy, chem, math)"},
            },
            "additionalProperties": {
                "type": "object",
                "properties": {"completed_experiments": _TITLES, "completed_quizzes": _TITLES},
                "x-messages": {"type": "must be an object with completed_experiments and completed_quizzes"},
            },
            "x-messages": {"type": "must be an object keyed by subject code"},
        },
    },
    "required": ["subject_progress"],
    "x-messages": {"type": "must be a JSON object", "required": "is missing the {missing!r} field"},
}


@functools.lru_cache(maxsize=64)
def _python_pattern(pattern):
    """``pattern`` (ECMA-262, as JSON Schema says) compiled so that ``$`` means what it means there.

    In ECMA-262 an unescaped ``$`` outside a character class matches only at
    the end of the text; in Python it also matches before a final newline, so
    "phy\\n" would pass "^[a-z]+$" and be stored. Those ``$`` become ``\\Z``.
    """
    out, escaped, in_class = [], False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            char = r"\Z"
        out.append(char)
    return re.compile("".join(out))


def _ecma_pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not _python_pattern(pattern).search(instance):
        yield JsonSchemaError(f"{instance!r} does not match {pattern!r}")


# Draft 2020-12 with ECMA-262's "$"; the published schemas stay standard JSON Schema.
_Validator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})


def _where(error, root):
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"{root}{path}" if path else root


class _Shown:
    """A value as a message shows it: cut short (an error must not echo a megabyte back), never failing."""

    LIMIT = 80

    def __init__(self, value):
        self.value = value

    def _cut(self, show):
        try:
            text = show(self.value)
        except ValueError:  # Python will not print a whole number of over 4300 digits
            return "a number too large to show"
        return text if len(text) <= self.LIMIT else text[: self.LIMIT - 1] + "…"

    def __str__(self):
        return self._cut(str)

    def __repr__(self):
        return self._cut(repr)


def _message(error, root):
    value = error.instance
    messages = error.schema.get("x-messages", {}) if isinstance(error.schema, dict) else {}
    template = messages.get(error.validator)
    fields = {"value": _Shown(value)}
    if error.validator == "required":
        fields["missing"] = next((k for k in error.validator_value if k not in value), "?")
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        fields["extra"] = next((k for k in value if k not in known), "?")
    if error.validator == "propertyNames":
        # The failing name sits on the sub-error; reach it for the message.
        sub = error.context[0] if error.context else None
        fields["value"] = _Shown(sub.instance if sub else value)
        template = error.schema["propertyNames"].get("x-messages", {}).get("pattern")
    if template is None:
        template = "is not valid ({detail})"
        fields["detail"] = _Shown(error.message)
    return f"{_where(error, root)}: {template.format(**fields)}"


def _check(schema, value, root):
    try:
        errors = sorted(_Validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
    except ValueError:
        # jsonschema prints the value into its own message, and Python refuses to print a whole number of
        # over 4300 digits. JSON text cannot carry one (json.loads refuses it too); Python callers can.
        raise SchemaError(f"{root}: holds a number too large to be real") from None
    if errors:
        raise SchemaError([_message(e, root) for e in errors])


def validate_completion_criteria(value):
    """Check ``required_completion_criteria`` ({"type": "time", "value": 60}, ...)."""
    if not isinstance(value, dict):
        raise SchemaError(_('Completion criteria must be an object such as {"type": "time", "value": 60}.'))
    kind = value.get("type")
    if kind is None or kind == "":
        raise SchemaError(
            _("Completion criteria need a type: one of %(types)s.") % {"types": ", ".join(CRITERIA_TYPES)}
        )
    # isinstance first: a list or object as the type is unhashable and would crash the lookup.
    if not isinstance(kind, str) or kind not in CRITERIA_SCHEMAS:
        raise SchemaError(
            _("Unknown completion type %(kind)r: use one of %(types)s.")
            % {"kind": _Shown(kind), "types": ", ".join(CRITERIA_TYPES)}
        )
    if kind == "time" and isinstance(value.get("value"), int | float) and value["value"] < 0:
        raise SchemaError(_("Time cannot be negative: %(value)s seconds.") % {"value": _Shown(value["value"])})
    _check(CRITERIA_SCHEMAS[kind], value, "criteria")


def validate_activity(value, *, criteria=None):
    """Check a step's ``activity``; with ``criteria`` also the cross-field quiz rules."""
    questions = value.get("questions") if isinstance(value, dict) else None
    for number, question in enumerate(questions if isinstance(questions, list) else [], start=1):
        # A missing answer is the mistake teachers make most; say it their way.
        if isinstance(question, dict) and "answer" not in question:
            raise SchemaError(_("Question %(n)d has no correct answer marked.") % {"n": number})
    _check(ACTIVITY_SCHEMA, value, "activity")
    for number, question in enumerate(value.get("questions", []), start=1):
        count = len(question["choices"])
        if question["answer"] >= count:
            # Answers count from 0; say so, since "answer": 2 for the 2nd of two choices is the usual slip.
            raise SchemaError(
                _("Question %(n)d: the answer is %(answer)d, but its %(count)d choices are numbered "
                  "0 to %(last)d.")
                % {"n": number, "answer": question["answer"], "count": count, "last": count - 1}
            )
    if isinstance(criteria, dict) and criteria.get("type") == "quiz" and not value.get("questions"):
        raise SchemaError(_("A quiz step needs at least one question with a correct answer marked."))


def validate_learning_preferences(value):
    _check(LEARNING_PREFERENCES_SCHEMA, value, "preferences")


def validate_steps_sequence(value):
    """Shape only; LearningPath.clean() checks that every id names a real step."""
    _check(STEPS_SEQUENCE_SCHEMA, value, "steps")
    # The schema compares spellings; one step may be spelt in upper case or
    # without hyphens. Compare the ids themselves.
    seen = set()
    for index, item in enumerate(value):
        try:
            step_id = uuid.UUID(item)
        except ValueError:
            raise SchemaError(f"steps[{index}]: {item!r} is not a step id") from None
        if step_id in seen:
            raise SchemaError("steps: lists the same step twice")
        seen.add(step_id)


def validate_marslabs_progress(value):
    """A MARS-labs progress document: {"class": 12, "subject_progress": {...}}."""
    if isinstance(value, dict) and isinstance(value.get("class"), str) and re.fullmatch(r"[0-9]{1,10}", value["class"]):
        # MARS-labs clients sometimes sent the class as a string; the document
        # is stored verbatim, so accept the spelling and let the engine read it.
        # ASCII digits only: "²".isdigit() is true but int("²") fails, and
        # int() refuses strings of over 4300 digits; those get the schema's message.
        value = {**value, "class": int(value["class"])}
    _check(MARSLABS_PROGRESS_SCHEMA, value, "progress_data")
