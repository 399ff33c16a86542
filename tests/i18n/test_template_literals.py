"""No template has user-facing text outside {% translate %} / {% blocktranslate %}.

A static check of every template under templates/, including pages the demo
does not render (lockout, admin additions): text between tags and the
user-facing attributes (aria-label, title, placeholder, alt) must come from a
translation tag or a variable.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings

# templates/bench/ holds the benchmarks' fixed baseline pages (bench/), which no person reads.
TEMPLATES = sorted(p for p in (Path(settings.BASE_DIR) / "templates").rglob("*.html") if "bench" not in p.parts)
# Not words to translate: the product's name, symbols, and CSS class lists in admin <body class="...">.
ALLOWED = {"MARS Labs", "&rsaquo;", "◉"}
BLOCK_TRANSLATE = re.compile(r"\{%\s*blocktrans(?:late)?\b.*?\{%\s*endblocktrans(?:late)?\s*%\}", re.S)
TEMPLATE_SYNTAX = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.S)
SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1>", re.S)
ATTRIBUTE = re.compile(r'\b(?:aria-label|title|placeholder|alt)="([^"]*)"')
BLOCK_NAMES = re.compile(r"\{%\s*block\s+bodyclass\s*%\}.*?\{%\s*endblock\s*%\}", re.S)


def literals(source):
    text = BLOCK_NAMES.sub("", source)
    text = BLOCK_TRANSLATE.sub("", text)
    text = TEMPLATE_SYNTAX.sub("", text)
    text = SCRIPT_OR_STYLE.sub("", text)
    found = [value for value in ATTRIBUTE.findall(text) if re.search(r"[A-Za-z]{2,}", value)]
    text = re.sub(r"<[^>]+>", "\n", text)
    for line in text.splitlines():
        line = " ".join(line.split())
        for allowed in ALLOWED:
            line = line.replace(allowed, "")
        if re.search(r"[A-Za-z]{2,}", line):
            found.append(line)
    return found


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(settings.BASE_DIR)))
def test_template_has_no_untranslated_text(template):
    assert literals(template.read_text(encoding="utf-8")) == []


def test_the_check_finds_an_untranslated_literal():
    assert literals('<p>Continue</p><a title="Next step" href="#">{% translate "Next" %}</a>') == [
        "Next step", "Continue",
    ]
    assert literals('{% load i18n %}<p>{% translate "Continue" %} · MARS Labs</p>') == []
