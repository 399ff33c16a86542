"""``{% constant_tags_once %}``: the page chrome's fixed URLs and labels, rendered once per language, not per request.

base.html draws the same links on every page: ``{% url 'progress:home' %}``,
``{% static 'css/mars.css' %}``, ``{% translate "Log out" %}``. Each such tag
costs a ``reverse()``, a storage lookup or a catalogue lookup on every request,
though its output only changes with the language, the URL prefix and the
settings (docs/performance.md, "Page chrome and dashboard render").

    {% load mars_chrome %}
    {% constant_tags_once %} ... the template ... {% endconstant_tags_once %}

Inside the block, every run of plain text and of ``url``, ``static`` and
``translate`` tags whose arguments are all literals (no variables, no filters,
no ``as``) is rendered the first time and then reused, once per (language, URL
prefix, URLconf, current app, autoescape). Everything else inside, at any
depth (variables, ``if``, ``for``, ``csrf_token``, ``include``, blocks a child
template overrides), renders on every request as before, so no user's data can
be reused for another. A settings change (tests' ``override_settings``)
forgets what was rendered. The key is read once, where the block starts: a
child template that wrapped ``{{ block.super }}`` of a block inside it in
``{% language %}`` would get the outer language's text (no template does).

A ``url`` tag with a literal view name and variable arguments (a dashboard's
``{% url 'progress:subject' card.subject.code %}``) resolves its arguments on
every render, and reverses each distinct (key, arguments) only once, when every
argument is a string, a number or a UUID (an object's URL could change with the
object).
"""

import uuid
import weakref

from django import template
from django.core.signals import setting_changed
from django.template.base import TextNode, Variable
from django.template.defaulttags import ForNode, IfNode, SpacelessNode, URLNode, WithNode
from django.template.loader_tags import BlockNode
from django.templatetags.i18n import TranslateNode
from django.templatetags.static import StaticNode
from django.urls import get_script_prefix, get_urlconf
from django.utils.safestring import SafeString
from django.utils.translation import get_language

register = template.Library()

# Every folded run and cached URL, so that a settings change can empty them all.
_CACHES = weakref.WeakSet()

# More distinct keys than this means something varies that should not (a per-request script
# prefix?): start again rather than grow without bound.
MAX_KEYS = 32
# A URL tag inside a loop sees one argument per subject, chapter or step (4,000 steps at district scale).
MAX_URLS = 4096


def _is_plain_argument(value):
    """A URL argument whose text is its value: a string, an int (not a bool: True == 1) or a UUID."""
    return isinstance(value, str) or type(value) in (int, uuid.UUID)


KEY_ATTRIBUTE = "_constant_tags_key"


def _key(context):
    """What a constant tag's output depends on, read once per block render (thread-locals are not free)."""
    request = getattr(context, "request", None)
    app = getattr(request, "current_app", None)  # {% url %} reverses within the request's app (URLNode.render)
    if app is None:
        app = getattr(getattr(request, "resolver_match", None), "namespace", None)
    return get_language(), get_script_prefix(), get_urlconf(), app, context.autoescape


def _is_literal(expression):
    """A FilterExpression that always resolves to the same value: a literal with no filters."""
    if expression is None or expression.filters:
        return False
    var = expression.var
    return not isinstance(var, Variable) or var.lookups is None


def _is_constant(node):
    """Whether ``node`` renders the same text for every request in one language (see the module docstring)."""
    if isinstance(node, TextNode):
        return True
    if isinstance(node, URLNode):
        return (
            node.asvar is None
            and _is_literal(node.view_name)
            and all(map(_is_literal, node.args))
            and all(map(_is_literal, node.kwargs.values()))
        )
    if isinstance(node, StaticNode):
        return node.varname is None and _is_literal(node.path)
    if isinstance(node, TranslateNode):
        return node.asvar is None and node.message_context is None and _is_literal(node.filter_expression)
    return False


class ConstantRun(template.Node):
    """Consecutive constant nodes, rendered once per key and then served from ``self.rendered``."""

    child_nodelists = ()

    def __init__(self, nodes):
        self.nodes = nodes
        self.token = nodes[0].token
        self.origin = nodes[0].origin
        self.rendered = {}
        _CACHES.add(self)

    def __repr__(self):
        return f"<ConstantRun {self.nodes!r}>"

    def render(self, context):
        key = getattr(context, KEY_ATTRIBUTE, None) or _key(context)
        html = self.rendered.get(key)
        if html is None:
            html = SafeString("".join(node.render_annotated(context) for node in self.nodes))
            if len(self.rendered) >= MAX_KEYS:
                self.rendered.clear()
            self.rendered[key] = html
        return html


class CachedURL(template.Node):
    """A ``{% url %}`` with variable arguments: reversed once per (key, argument values)."""

    child_nodelists = ()

    def __init__(self, node):
        self.node = node
        self.token = node.token
        self.origin = node.origin
        self.rendered = {}
        _CACHES.add(self)

    def __repr__(self):
        return f"<CachedURL {self.node!r}>"

    def render(self, context):
        node = self.node
        args = tuple(arg.resolve(context) for arg in node.args)
        kwargs = tuple((name, value.resolve(context)) for name, value in node.kwargs.items())
        if not all(map(_is_plain_argument, args + tuple(value for _name, value in kwargs))):
            return node.render(context)
        key = (getattr(context, KEY_ATTRIBUTE, None) or _key(context), args, kwargs)
        html = self.rendered.get(key)
        if html is None:
            html = node.render(context)
            if len(self.rendered) >= MAX_URLS:
                self.rendered.clear()
            self.rendered[key] = html
        return html


def _is_cacheable_url(node):
    return isinstance(node, URLNode) and node.asvar is None and _is_literal(node.view_name)


# Tags whose contents render with the same language, autoescape and request as the block around
# them: folded inside. Others ({% language %}, {% autoescape %}, anything unknown) are left alone.
CONTAINERS = (BlockNode, ForNode, WithNode, SpacelessNode)


def fold(nodelist):
    """Replace, in place and at every depth, each run of constant nodes in ``nodelist`` by a ConstantRun
    and each other cacheable ``url`` tag by a CachedURL."""
    folded, run = [], []
    for node in nodelist:
        if _is_constant(node):
            run.append(node)
            continue
        if run:
            folded.append(run[0] if len(run) == 1 and isinstance(run[0], TextNode) else ConstantRun(run))
            run = []
        if _is_cacheable_url(node):
            node = CachedURL(node)
        elif isinstance(node, IfNode):  # its ``nodelist`` is a property: a fresh copy of its branches
            for _condition, branch in node.conditions_nodelists:
                fold(branch)
        elif isinstance(node, CONTAINERS):
            for attr in node.child_nodelists:
                fold(getattr(node, attr))
        folded.append(node)
    if run:
        folded.append(run[0] if len(run) == 1 and isinstance(run[0], TextNode) else ConstantRun(run))
    nodelist[:] = folded
    return nodelist


class ConstantTagsOnceNode(template.Node):
    child_nodelists = ("nodelist",)

    def __init__(self, nodelist):
        self.nodelist = fold(nodelist)

    def render(self, context):
        outer = getattr(context, KEY_ATTRIBUTE, None)
        setattr(context, KEY_ATTRIBUTE, _key(context))
        try:
            return self.nodelist.render(context)
        finally:
            setattr(context, KEY_ATTRIBUTE, outer)


@register.tag
def constant_tags_once(parser, token):
    """``{% constant_tags_once %}...{% endconstant_tags_once %}``: see the module docstring."""
    if len(token.split_contents()) != 1:
        raise template.TemplateSyntaxError("constant_tags_once takes no arguments")
    nodelist = parser.parse(("endconstant_tags_once",))
    parser.delete_first_token()
    return ConstantTagsOnceNode(nodelist)


def _forget(**kwargs):
    for cache in list(_CACHES):
        cache.rendered.clear()


setting_changed.connect(_forget, dispatch_uid="mars_chrome_forget")
