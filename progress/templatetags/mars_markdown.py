"""``{{ step.content|markdown }}``: a step's Markdown as HTML a browser can safely show.

Teachers write step content in Markdown and may paste HTML into it, so the
rendered HTML is sanitised with nh3 (an allow-list): no <script> or <style>
(content dropped too), no ``on*`` attributes, no ``javascript:`` or ``data:``
URLs. Headings, lists, code, tables, links and images survive.
"""

import markdown as markdown_lib
import nh3
from django import template
from django.utils.safestring import mark_safe

register = template.Library()

# nh3's defaults plus tfoot, minus the layout tags that have no place inside a step.
ALLOWED_TAGS = (set(nh3.ALLOWED_TAGS) | {"tfoot"}) - {"center", "footer", "header", "nav", "area", "map"}
ALLOWED_ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"title", "lang", "dir"},
    "abbr": {"title"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
EXTENSIONS = ["extra", "sane_lists"]
EXTENSION_CONFIGS = {"extra": {"tables": {"use_align_attribute": True}}}


def render_markdown(text):
    """Markdown -> sanitised HTML (a plain ``str``; the filter marks it safe)."""
    html = markdown_lib.markdown(
        str(text or ""), extensions=EXTENSIONS, extension_configs=EXTENSION_CONFIGS, output_format="html"
    )
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"table": {"class": "table table-sm table-bordered"}},
    )


@register.filter(name="markdown", is_safe=True)
def markdown_filter(text):
    return mark_safe(render_markdown(text))  # sanitised by nh3 in render_markdown
