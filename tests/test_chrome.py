"""{% constant_tags_once %} (progress/templatetags/mars_chrome.py): the page chrome, cheaper and unchanged."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template, TemplateSyntaxError
from django.template.loader import get_template
from django.test import RequestFactory, override_settings
from django.urls import set_script_prefix
from django.utils import translation

from progress.templatetags import mars_chrome
from tests.factories import TeacherFactory, UserFactory

CHROME_TEMPLATES = ("base.html", "_language_switcher.html")
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def render(source, **context):
    return Template("{% load i18n static mars_chrome %}" + source).render(Context(context))


def unfolded_templates():
    """TEMPLATES with base.html and the switcher as they read without the tag: the plain Django rendering."""
    sources = {}
    for name in CHROME_TEMPLATES:
        text = (Path(settings.BASE_DIR) / "templates" / name).read_text()
        sources[name] = re.sub(r"\{% (end)?constant_tags_once %\}", "", text)
    options = {
        **settings.TEMPLATES[0]["OPTIONS"],
        "loaders": [
            ("django.template.loaders.locmem.Loader", sources),
            "django.template.loaders.filesystem.Loader",
            "django.template.loaders.app_directories.Loader",
        ],
    }
    return [{**settings.TEMPLATES[0], "APP_DIRS": False, "OPTIONS": options}]


def page(client, url, **headers):
    response = client.get(url, **headers)
    assert response.status_code == 200
    return TOKEN.sub('name="csrfmiddlewaretoken" value="TOKEN"', response.content.decode())


@pytest.mark.parametrize("language", ["en", "hi"])
@pytest.mark.parametrize("who", ["learner", "teacher", "anonymous"])
def test_chrome_html_is_the_same_as_plain_django_rendering(client, db, who, language):
    if who == "anonymous":
        url, headers = "/accounts/login/", {"HTTP_ACCEPT_LANGUAGE": language}
    else:
        user = (TeacherFactory if who == "teacher" else UserFactory)(username=f"chrome-{who}", grade=12)
        user.profile.preferred_language = language
        user.profile.save()
        client.force_login(user)
        url, headers = "/", {}
    folded = [page(client, url, **headers) for _ in range(2)]  # first render fills the cache, second reads it
    with override_settings(TEMPLATES=unfolded_templates()):
        assert "constant_tags_once" not in get_template("base.html").template.source
        plain = page(client, url, **headers)
    assert folded[0] == plain
    assert folded[1] == plain
    assert f'<html lang="{language}">' in plain


def test_chrome_follows_the_language_of_each_request(db):
    source = '{% constant_tags_once %}{% translate "Log out" %}|{% url "logout" %}{% endconstant_tags_once %}'
    template = Template("{% load i18n mars_chrome %}" + source)
    seen = []
    for language in ("en", "hi", "en"):
        with translation.override(language):
            seen.append(template.render(Context()))
    assert seen[0] == seen[2] == "Log out|/accounts/logout/"
    with translation.override("hi"):
        assert seen[1] == translation.gettext("Log out") + "|/accounts/logout/"
    assert seen[1] != seen[0]


def test_variables_and_tags_with_variables_render_every_time(db):
    source = (
        "{% constant_tags_once %}{{ name }} {% url 'progress:subject' code %} {% url 'progress:subject' 'phy' as u %}"
        "{{ u }}{% if flag %} {% translate 'Log out' %}{% endif %}{% endconstant_tags_once %}"
    )
    template = Template("{% load i18n mars_chrome %}" + source)
    with translation.override("en"):
        first = template.render(Context({"name": "Asha", "code": "phy", "flag": True}))
        second = template.render(Context({"name": "Ravi", "code": "chem", "flag": False}))
    assert first == "Asha /subjects/phy/ /subjects/phy/ Log out"
    assert second == "Ravi /subjects/chem/ /subjects/phy/"


def test_language_tag_inside_is_left_alone(db):
    html = render(
        "{% constant_tags_once %}{% translate 'Log out' %}/{% language 'hi' %}{% translate 'Log out' %}"
        "{% endlanguage %}{% endconstant_tags_once %}"
    )
    with translation.override("hi"):
        hindi = translation.gettext("Log out")
    assert html == f"Log out/{hindi}"


def test_static_urls_follow_a_settings_change():
    template = Template(
        "{% load static mars_chrome %}{% constant_tags_once %}{% static 'css/mars.css' %}{% endconstant_tags_once %}"
    )
    assert template.render(Context()) == "/static/css/mars.css"
    with override_settings(STATIC_URL="/cdn/"):
        assert template.render(Context()) == "/cdn/css/mars.css"
    assert template.render(Context()) == "/static/css/mars.css"


def test_urls_follow_the_script_prefix(db):
    template = Template("{% load mars_chrome %}{% constant_tags_once %}{% url 'logout' %}{% endconstant_tags_once %}")
    request = RequestFactory().get("/")
    assert template.render(Context({"request": request})) == "/accounts/logout/"
    set_script_prefix("/school/")
    try:
        assert template.render(Context({"request": request})) == "/school/accounts/logout/"
    finally:
        set_script_prefix("/")


def test_autoescape_is_part_of_the_key(db):
    template = Template("{% load mars_chrome %}{% constant_tags_once %}{% url 'logout' %}{% endconstant_tags_once %}")
    set_script_prefix("/r&d/")
    try:
        assert template.render(Context(autoescape=True)) == "/r&amp;d/accounts/logout/"
        assert template.render(Context(autoescape=False)) == "/r&d/accounts/logout/"
    finally:
        set_script_prefix("/")


def test_blocks_inside_can_still_be_overridden():
    from django.template import engines

    engine = engines["django"].engine
    parent = (
        "{% load i18n mars_chrome %}{% constant_tags_once %}"
        "<{% block a %}{% translate 'Log out' %}{% endblock %}>{% endconstant_tags_once %}"
    )
    child = Template("{% extends parent %}{% block a %}{{ block.super }}+{{ who }}{% endblock %}", engine=engine)
    with translation.override("en"):
        html = child.render(Context({"parent": Template(parent, engine=engine), "who": "Asha"}))
    assert html == "<Log out+Asha>"


def test_tag_takes_no_arguments():
    with pytest.raises(TemplateSyntaxError, match="takes no arguments"):
        render("{% constant_tags_once now %}{% endconstant_tags_once %}")


def test_rendered_copies_are_bounded():
    template = Template("{% load mars_chrome %}{% constant_tags_once %}{% url 'logout' %}{% endconstant_tags_once %}")
    run = next(node for node in template.nodelist.get_nodes_by_type(mars_chrome.ConstantRun))
    for n in range(mars_chrome.MAX_KEYS + 5):
        set_script_prefix(f"/p{n}/")
        try:
            template.render(Context())
        finally:
            set_script_prefix("/")
    assert len(run.rendered) <= mars_chrome.MAX_KEYS


def test_url_arguments_that_are_objects_are_reversed_every_time(db):
    class Named:
        def __init__(self, code):
            self.code = code

        def __str__(self):
            return self.code

        def __hash__(self):
            return 1

        def __eq__(self, other):
            return True  # equal to every other: a cache keyed on it would hand back the wrong URL

    template = Template(
        "{% load mars_chrome %}{% constant_tags_once %}{% url 'progress:subject' s %}{% endconstant_tags_once %}"
    )
    assert template.render(Context({"s": Named("phy")})) == "/subjects/phy/"
    assert template.render(Context({"s": Named("chem")})) == "/subjects/chem/"


def test_url_with_variable_arguments_reverses_each_value_once(db, monkeypatch):
    from django.template import defaulttags

    template = Template(
        "{% load mars_chrome %}{% constant_tags_once %}{% for c in codes %}{% url 'progress:subject' c %} "
        "{% endfor %}{% endconstant_tags_once %}"
    )
    assert template.render(Context({"codes": ["phy", "chem"]})) == "/subjects/phy/ /subjects/chem/ "
    calls = []
    real = defaulttags.URLNode.render
    monkeypatch.setattr(defaulttags.URLNode, "render", lambda self, context: calls.append(1) or real(self, context))
    assert template.render(Context({"codes": ["phy", "chem", "phy", "bio"]})) == (
        "/subjects/phy/ /subjects/chem/ /subjects/phy/ /subjects/bio/ "
    )
    assert len(calls) == 1  # only "bio" was new
