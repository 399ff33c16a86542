"""progress/templatetags/mars_markdown.py: step content as sanitised HTML."""

import pytest
from django.template import engines

from progress.templatetags.mars_markdown import render_markdown


def render(text):
    return render_markdown(text)


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert('x')</script>",
        "Hello <SCRIPT src=https://evil.example/x.js></SCRIPT>",
        "<scr<script>ipt>alert('x')</script>",
    ],
)
def test_markdown_script_tags_removed(source):
    html = render(source).lower()

    assert "<script" not in html
    assert "alert(" not in html
    assert "evil.example" not in html


@pytest.mark.parametrize(
    "source",
    [
        '<img src="x.png" onerror="alert(1)">',
        '<b onmouseover="alert(1)">bold</b>',
        '<div onclick="steal()">box</div>',
        '<svg onload="alert(1)"></svg>',
        '<a href="/ok" ONCLICK="alert(1)">link</a>',
    ],
)
def test_markdown_event_handlers_removed(source):
    html = render(source).lower()

    assert " on" not in html.replace("noopener", "")
    assert "alert(" not in html and "steal(" not in html


@pytest.mark.parametrize(
    "source",
    [
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        '<a href=" javascript:alert(1)">x</a>',
        '<a href="jav&#x09;ascript:alert(1)">x</a>',
        "![img](javascript:alert(1))",
        '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    ],
)
def test_markdown_javascript_and_data_urls_removed(source):
    html = render(source).lower()

    assert "javascript" not in html
    assert "data:" not in html


def test_markdown_style_iframe_and_forms_removed():
    html = render('<style>body{display:none}</style><iframe src="https://evil.example"></iframe>'
                  '<form action="/x"><input name="a"></form><p style="color:red">text</p>')

    assert "<style" not in html and "display:none" not in html
    assert "<iframe" not in html and "<form" not in html and "<input" not in html
    assert "style=" not in html
    assert "text" in html


def test_markdown_headings_lists_code_tables_and_links_survive():
    html = render(
        "# Ohm's law\n\n"
        "## Apparatus\n\n"
        "- a battery\n- a resistor\n\n"
        "1. connect\n2. measure\n\n"
        "Use `V = I × R`.\n\n"
        "```\nprint(1 < 2)\n```\n\n"
        "| V | I |\n|---|--:|\n| 2 | 1 |\n\n"
        "[OLabs](https://www.olabs.edu.in/) and [the chapter](/chapters/ohm/) and **bold** *italic*\n\n"
        "![circuit](/static/img/circuit.png)\n"
    )

    assert "<h1>Ohm's law</h1>" in html
    assert "<h2>Apparatus</h2>" in html
    assert "<ul>" in html and "<li>a battery</li>" in html
    assert "<ol>" in html and "<li>connect</li>" in html
    assert "<code>V = I × R</code>" in html
    assert "<pre><code>print(1 &lt; 2)" in html
    assert "<table" in html and "<th>V</th>" in html and '<td align="right">1</td>' in html
    assert '<a href="https://www.olabs.edu.in/" rel="noopener noreferrer nofollow">OLabs</a>' in html
    assert '<a href="/chapters/ohm/"' in html
    assert "<strong>bold</strong>" in html and "<em>italic</em>" in html
    assert '<img alt="circuit" src="/static/img/circuit.png">' in html


def test_markdown_filter_marks_output_safe_and_handles_empty():
    template = engines["django"].from_string("{% load mars_markdown %}{{ text|markdown }}")

    assert template.render({"text": "**hi** <script>x()</script>"}).strip() == "<p><strong>hi</strong> </p>"
    assert template.render({"text": None}).strip() == ""
