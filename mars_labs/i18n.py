"""Interface text that was stored, shown again in the reader's language.

A few interface messages are kept in the database as text: the engine's last
verdict on a step (``progress_data["reason"]``: "not yet: 12 of 30 seconds"),
the names and notes of learning paths ("Your path for class 12"). They are
written in whatever language was active at the time (an operator command:
English; a Hindi learner's request: Hindi), but a teacher reading them later
may use another language.

``retranslate(text)`` recognises such a text as one of the project's own
messages, in any of the catalogue's languages, recovers its parameters, and
renders the same message in the active language. Text that is not one of our
messages (a teacher's free-text reason, curriculum titles) comes back as it was.
"""

import gettext as gettext_module
import re
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.utils.translation import get_language, gettext

_PLACEHOLDER = re.compile(r"%\((\w+)\)([sdrif])|%%")
_SPLIT = re.compile(r"%\(\w+\)[sdrif]|%%")


PREFIX = 4  # patterns are filed under the first characters of their text, when it starts with text


def _pattern(text):
    """A regex matching a formatted ``text`` (python-format), and its placeholders' kinds."""
    parts, kinds, pos = ["^"], {}, 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(re.escape(text[pos:match.start()]))
        pos = match.end()
        if match.group(0) == "%%":
            parts.append("%")
            continue
        name, kind = match.groups()
        if name in kinds:
            parts.append(f"(?P={name})")
        else:
            kinds[name] = kind
            parts.append(f"(?P<{name}>-?\\d+)" if kind in "di" else f"(?P<{name}>.+?)")
    parts.append(re.escape(text[pos:]) + "$")
    return re.compile("".join(parts), re.S), kinds


@lru_cache(maxsize=1)
def _index():
    """``(exact, patterns)``: every project message in every language, mapped back to its msgid.

    Only the project's own catalogues (LOCALE_PATHS), never Django's, and only
    messages with some text besides placeholders. ``patterns`` maps the first
    PREFIX characters of a message (None when it starts with a placeholder) to
    ``(specificity, needle, regex, kinds, msgid)``: tried most specific (most literal text)
    first, so "Your path for class %(grade)s" wins over "%(subject)s class %(grade)d".
    Patterns that start with a placeholder are filed under their last characters.
    """
    exact, found = {}, []
    for locale_dir in settings.LOCALE_PATHS:
        for mo in sorted(Path(locale_dir).glob("*/LC_MESSAGES/django.mo")):
            with open(mo, "rb") as handle:
                catalog = gettext_module.GNUTranslations(handle)._catalog
            for msgid, msgstr in catalog.items():
                if not isinstance(msgid, str) or not msgid or "\x04" in msgid:
                    continue  # the header, plural forms and contextual messages are never stored
                for text in {msgid, msgstr} - {""}:
                    if _PLACEHOLDER.search(text):
                        if _PLACEHOLDER.sub("", text).strip(" :.,;()%"):
                            regex, kinds = _pattern(text)
                            found.append((text, regex, kinds, msgid))
                    else:
                        exact.setdefault(text, msgid)
    patterns = {}
    for text, regex, kinds, msgid in found:
        literal = _SPLIT.split(text)
        prefix, suffix = literal[0], literal[-1]
        if len(prefix) >= PREFIX:
            key = ("starts", prefix[:PREFIX])
        elif len(suffix) >= PREFIX:
            key = ("ends", suffix[-PREFIX:])
        else:
            key = None
        specificity = -len(_PLACEHOLDER.sub("", text))
        needle = max(literal, key=len)  # cheap test before the regex: the longest piece of literal text
        patterns.setdefault(key, []).append((specificity, needle, regex, kinds, msgid))
    return exact, patterns


def _render(msgid, params, kinds):
    values = {}
    for name, kind in kinds.items():
        value = params[name]
        values[name] = int(value) if kind in "di" else retranslate(value, _depth=1)
    translated = re.sub(r"%\((\w+)\)r", r"%(\1)s", gettext(msgid))
    try:
        return translated % values
    except (KeyError, TypeError, ValueError):
        return None


def retranslate(text, *, _depth=0):
    """``text`` in the active language if it is one of our messages, else ``text`` unchanged."""
    if not text or not isinstance(text, str) or get_language() is None:
        return text
    exact, patterns = _index()
    for candidate in dict.fromkeys((text, text[:1].lower() + text[1:])):
        if candidate in exact:
            return gettext(exact[candidate])
        if _depth:
            continue  # a parameter is only ever a whole message (a level, a status), never a pattern
        filed = (patterns.get(("starts", candidate[:PREFIX]), []) + patterns.get(("ends", candidate[-PREFIX:]), [])
                 + patterns.get(None, []))
        for _specificity, needle, regex, kinds, msgid in sorted(filed, key=lambda p: p[0]):
            match = needle in candidate and regex.match(candidate)
            if match:
                rendered = _render(msgid, match.groupdict(), kinds)
                if rendered is not None:
                    return rendered
    return text
