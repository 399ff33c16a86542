"""Curriculum content stays in the language it was written in: mark it when it is not the learner's.

``{% content_language_marker chapter %}`` renders a small badge ("English") when the
subject or chapter is written in another language than the page's, and nothing
otherwise. ``{{ chapter|content_lang }}`` is the code for a ``lang`` attribute, so
screen readers read English content with an English voice on a Hindi page.
"""

from django import template
from django.conf import settings
from django.utils.html import format_html
from django.utils.translation import get_language, get_language_info
from django.utils.translation import gettext as _

from mars_labs.i18n import retranslate

register = template.Library()


def _primary(code):
    return (code or "").split("-")[0].lower()


def language_name(code):
    """The language's name in the interface language ("अंग्रेज़ी" on a Hindi page), else its code."""
    try:
        return get_language_info(code)["name_translated"]
    except KeyError:
        return code


@register.filter
def content_lang(obj):
    """The language code of a Subject's or Chapter's content."""
    return obj.content_language


@register.simple_tag
def content_language_marker(obj):
    code = obj.content_language
    if _primary(code) == _primary(get_language()):
        return ""
    name = language_name(code)
    return format_html(
        '<span class="badge rounded-pill text-bg-light border lang-marker" data-content-language="{}" '
        'title="{}">{}</span>',
        code, _("Written in %(language)s") % {"language": name}, name,
    )


@register.filter
def translated(text):
    """Stored interface text (a verdict, a path's name) in the reader's language: mars_labs.i18n.retranslate."""
    return retranslate(text)


@register.simple_tag
def interface_languages():
    """``[(code, name)]`` from settings.LANGUAGES, each language named in itself ("English", "हिन्दी").

    Django's ``get_available_languages`` would translate the names into the page's language.
    """
    return list(settings.LANGUAGES)
