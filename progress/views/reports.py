"""Teacher report pages under /reports/: class matrix, needs attention, learner drill-down, CSV, step actions.

Thin: numbers come from progress/reports.py, changes from progress/engine.py.
Every view starts with an access helper: a teacher reaches only classrooms
they teach and learners in them (learners/roles.py); anything else answers
404, so a guessed URL does not even confirm that a classroom or learner
exists. Superusers see every classroom.
"""

import csv
import functools
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from curriculum import cache as curriculum_cache
from curriculum.models import LearningStep
from learners.roles import can_see_learner, classrooms_for, learners_for
from progress import engine, reports
from progress import versions as progress_versions

REPORT_PERMISSION = "progress.view_learningprogress"
# Which permission each one-click action needs, and the engine function it calls.
STEP_ACTIONS = {
    "reset": ("progress.reset_progress", engine.reset),
    "excuse": ("progress.excuse_progress", engine.skip_step),
    "complete": ("progress.override_progress", engine.force_complete),
}


def report_view(view):
    """Signed-in staff who may view learners' progress; everyone else gets 403."""

    @login_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not (user.is_active and user.is_staff and user.has_perm(REPORT_PERMISSION)):
            raise PermissionDenied(_("Reports are for teachers."))
        return view(request, *args, **kwargs)

    return wrapper


def get_classroom_for(user, classroom_id):
    """The classroom if ``user`` teaches it (or is a superuser), else 404."""
    classroom = classrooms_for(user).filter(pk=classroom_id).first()
    if classroom is None:
        raise Http404(_("No such classroom."))
    return classroom


def get_learner_for(user, learner_id):
    """The learner if they are in one of ``user``'s classrooms (superuser: anyone), else 404."""
    learner = learners_for(user).filter(pk=learner_id).select_related("profile").first()
    if learner is None:
        raise Http404(_("No such learner."))
    return learner


def _action_context(user):
    """Which one-click actions this user may use (permissions are cached on the user: no query)."""
    return {name: user.has_perm(permission) for name, (permission, _function) in STEP_ACTIONS.items()}


# --------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------


@require_GET
@report_view
def index(request):
    classrooms = classrooms_for(request.user).annotate(learner_count=Count("learners", distinct=True))
    return render(request, "reports/index.html", {"classrooms": classrooms})


def _matrix_for(request, classroom, *, subject):
    return reports.class_matrix(
        classroom=classroom,
        subject=subject,
        sort=request.GET.get("sort", "learner"),
        column_order=request.GET.get("columns", "curriculum"),
    )


def _unknown_subject(request, template, context, problem):
    """The page without its table, saying which subjects there are: a 404 a person can act on."""
    return render(request, template, {**context, "subjects": problem.subjects, "unknown_subject": problem.code},
                  status=404)


@require_GET
@report_view
def classroom_matrix(request, classroom_id):
    """One subject of the class at a time (``?subject=CODE``, default the first), every learner × its chapters.

    The access check comes first, on every request: the cached table is only looked up for a
    classroom this teacher may see.
    """
    classroom = get_classroom_for(request.user, classroom_id)
    try:
        report_html = _matrix_html(request, classroom)
    except reports.UnknownSubject as problem:
        report_html = render_to_string("reports/_matrix.html", {
            "classroom": classroom, "subjects": problem.subjects, "unknown_subject": problem.code,
        })
        return render(request, "reports/matrix.html", {"classroom": classroom, "report_html": report_html},
                      status=404)
    return render(request, "reports/matrix.html", {"classroom": classroom, "report_html": report_html})


def _matrix_html(request, classroom):
    """The matrix page's content (reports/_matrix.html): from the cache while nothing it shows has changed.

    Keyed by ``reports.matrix_cache_key``: the learners' query (their progress versions and names)
    comes first, and a stored copy then costs one cache ``get`` (kept zlib-compressed). Rendering
    afresh costs one query counting the steps done by the learners whose counts are not cached
    (``reports.done_by_chapter``: after one learner's write, that learner alone) and drawing the
    table. The fragment holds nothing tied to the request or to the teacher (no CSRF token, no
    messages: base.html draws those each time). ``PROGRESS_CACHE_SECONDS`` bounds how long a change
    made behind the engine's back can go unseen; 0 turns the cache off. Raises
    ``reports.UnknownSubject``.
    """
    snapshot = curriculum_cache.snapshot(classroom.grade)
    index = reports.curriculum_index(snapshot)
    subject = reports.choose_subject(index.subjects, request.GET.get("subject") or reports.FIRST_SUBJECT)
    chapters = index.by_subject[subject.pk] if subject else []
    sort = reports.row_sort(request.GET.get("sort", "learner"), chapters)
    column_order = reports.column_order_of(request.GET.get("columns", "curriculum"))
    learners = reports.class_learners(classroom)
    key = reports.matrix_cache_key(
        classroom=classroom, learners=learners, version=snapshot.version, subject=subject, sort=sort,
        column_order=column_order,
    )

    def render():
        matrix = reports.class_matrix(
            classroom=classroom, subject=subject.code if subject else reports.FIRST_SUBJECT, sort=sort,
            column_order=column_order, learners=learners, snapshot=snapshot,
        )
        sort_links = _sort_links(matrix)
        return render_to_string("reports/_matrix.html", {
            "classroom": classroom, "matrix": matrix, "subjects": matrix.subjects, "bands": reports.BANDS,
            "sort_links": sort_links, "chapter_headers": _matrix_header(matrix, sort_links),
            "rows": _matrix_rows(matrix),
        })

    # 360 KB of HTML for 40 × 50 cells, 10 KB stored (0.6 ms to compress, 0.3 ms to expand).
    return mark_safe(progress_versions.cached_html(key, render, level=3))  # noqa: S308 - our own template


def _sort_links(matrix):
    """The query string each header link sets: clicking the current sort again reverses it."""

    def toggle(key):
        return f"-{key}" if matrix.sort == key else key

    return {
        "learner": toggle("learner"),
        "overall": toggle("overall"),
        "subject": toggle("subject"),
        # (column, its sort link, its aria-sort: "" unless the rows are sorted by it)
        "chapters": [
            (column, toggle(f"chapter:{column.chapter.slug}"), _aria_sort(matrix.sort, column.chapter.slug))
            for column in matrix.columns
        ],
    }


def _aria_sort(sort, slug):
    if sort.removeprefix("-") != f"chapter:{slug}":
        return ""
    return "descending" if sort.startswith("-") else "ascending"


_CELL = '<td class="cell band-{band}" data-chapter="{slug}" data-pct="{pct}" title="{title}">{text}</td>'
_CELL_TEXT = '{tick}{pct}%<span class="visually-hidden"> ({label}, {title})</span>'
_EMPTY_CELL = '<td class="cell band-empty" data-chapter="{slug}" data-pct="" title="{title}">—</td>'
_ROW = (
    '\n    <tr data-learner="{username}">\n'
    '      <th scope="row" class="learner-col"><a href="{url}?subject={q}">{name}</a></th>\n'
    '      <td class="text-end overall cell band-{band}" data-pct="{pct}">{pct}%</td>\n'
    '      <td class="text-end subject-total cell band-{subject_band}" data-pct="{subject_pct}">{subject_pct}%</td>\n'
    '      {cells}\n'
    '    </tr>'
)
_HEADER = (
    '\n      <th scope="col" class="chapter-col" data-chapter="{slug}"{aria}>\n'
    '        <a href="?subject={q}&amp;sort={link}&amp;columns={columns}" title="{subject} · {title}">'
    '<span lang="{lang}">{title}</span></a>\n'
    '        <span class="d-block small text-body-secondary fw-normal">{average}</span>\n'
    '      </th>'
)


def _query_value(value):
    """As the template's ``value|urlencode`` writes it."""
    return escape(quote(str(value), safe="/"))


def _matrix_header(matrix, sort_links):
    """The chapter headings (sort link, class average) as HTML: the markup the template wrote, a tenth of the time."""
    q = _query_value(matrix.subject.code) if matrix.subject else ""
    subject = escape(matrix.subject.name) if matrix.subject else ""
    columns = escape(matrix.column_order)
    no_steps = escape(_("no steps"))
    parts = []
    for column, link, aria_sort in sort_links["chapters"]:
        chapter = column.chapter
        parts.append(_HEADER.format(
            slug=escape(chapter.slug), aria=f' aria-sort="{aria_sort}"' if aria_sort else "", q=q,
            link=_query_value(link), columns=columns, subject=subject, title=escape(chapter.title),
            lang=escape(chapter.content_language),
            average=no_steps if column.average is None else escape(_("avg %(avg)s%%") % {"avg": column.average}),
        ))
    return mark_safe("".join(parts))  # noqa: S308 - every piece escaped above


def _matrix_rows(matrix):
    """Every row of the matrix as HTML (``<tr>``: the learner, overall and subject totals, the cells), in one pass.

    A 40 × 50 matrix is 2,000 cells; through the template language each cost
    tens of microseconds, here well under one: a cell's markup depends only on
    its column and its "done of total", so each distinct one is written once.
    The markup is the same the template used to write: the number, a tick for
    done, the band's name and "n of m steps" for screen readers (colour is
    never the only signal). Every text that is not a number is escaped.
    """
    slugs = [escape(chapter.slug) for chapter in matrix.chapters]
    labels = {band: escape(label) for band, label in reports.BANDS.items()}
    tick = '<span aria-hidden="true">✓ </span>'
    q = _query_value(matrix.subject.code) if matrix.subject else ""
    cells_cache = {}

    def cell_html(slug, cell):
        title = escape(_("%(done)s of %(total)s steps") % {"done": cell.done, "total": cell.total})
        pct, band = cell.percentage, cell.band
        if pct is None:
            return _EMPTY_CELL.format(slug=slug, title=title)
        text = _CELL_TEXT.format(tick=tick if band == "done" else "", pct=pct, label=labels[band], title=title)
        return _CELL.format(band=band, slug=slug, pct=pct, title=title, text=text)

    out = []
    for row in matrix.rows:
        parts = []
        for slug, cell in zip(slugs, row.cells, strict=True):
            key = (slug, cell.done, cell.total)
            html = cells_cache.get(key)
            if html is None:
                html = cells_cache[key] = cell_html(slug, cell)
            parts.append(html)
        learner = row.learner
        out.append(mark_safe(_ROW.format(  # noqa: S308 - every piece escaped here or above
            username=escape(learner.username), url=reverse("reports:learner", args=[learner.pk]), q=q,
            name=escape(learner.get_full_name() or learner.username), band=row.band, pct=row.percentage,
            subject_band=row.subject_band, subject_pct=row.subject_percentage, cells="".join(parts),
        )))
    return out


@require_GET
@report_view
def classroom_attention(request, classroom_id):
    classroom = get_classroom_for(request.user, classroom_id)
    matrix = reports.class_overview(classroom=classroom)
    items = reports.needs_attention(classroom=classroom, matrix=matrix)
    return render(request, "reports/attention.html", {
        "classroom": classroom, "items": items, "median": matrix.median, "actions": _action_context(request.user),
        "stalled_days": reports.STALLED_AFTER.days, "failed_attempts": reports.FAILED_QUIZ_ATTEMPTS,
        "below_points": reports.BELOW_MEDIAN_POINTS,
        "remedial_note": any(i.kind == "failed_quiz" and not i.remedial_path for i in items),
    })


@require_GET
@report_view
def learner_detail(request, learner_id):
    learner = get_learner_for(request.user, learner_id)
    classrooms = classrooms_for(request.user).filter(learners=learner)
    context = {"learner": learner, "classrooms": classrooms, "actions": _action_context(request.user)}
    try:
        report = reports.learner_report(learner=learner, subject=request.GET.get("subject") or None)
    except reports.UnknownSubject as problem:
        return _unknown_subject(request, "reports/learner.html", context, problem)
    if any(context["actions"].values()):
        _attach_step_forms(request, learner, report, context["actions"])
    return render(request, "reports/learner.html", {**context, "report": report})


class _StepPlaceholder:
    pk = "00000000-step-pk-placeholder"
    title = "step-title-placeholder"


def _attach_step_forms(request, learner, report, actions):
    """Each step's "Change…" form: reports/_step_actions.html rendered once, then filled in per step.

    A subject of 250 steps rendered the include 250 times (most of the page's
    CPU); the markup and its translations are the same for every step but the
    step's id and title, which are escaped and put in here.
    """
    blank = get_template("reports/_step_actions.html").render({
        "learner": learner, "step": _StepPlaceholder, "actions": actions, "next": request.get_full_path(),
        "show_complete": True, "suffix": "",
    }, request)
    for _state, lines in report.chapters:
        for line in lines:
            if line.state.progress or actions.get("excuse") or actions.get("complete"):
                line.actions_html = mark_safe(  # noqa: S308 - the template escaped the rest
                    blank.replace(_StepPlaceholder.pk, escape(str(line.step.pk)))
                    .replace(_StepPlaceholder.title, escape(line.step.title))
                )


# --------------------------------------------------------------------------
# CSV (the same computation as the pages, so the numbers are identical)
# --------------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    """A CSV cell; text that a spreadsheet would run as a formula is quoted with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


class _Line:
    """A file-like object whose ``write`` hands the line back, so csv.writer can feed a streaming response."""

    def write(self, value):
        return value


def _csv_response(filename, header, rows):
    """A streamed CSV download: ``rows`` (any iterable) is written line by line as the response is sent."""
    writer = csv.writer(_Line())

    def lines():
        yield "\ufeff" + writer.writerow(header)  # a BOM, so spreadsheet programs read the names as UTF-8
        for row in rows:
            yield writer.writerow([_cell(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _filename(classroom, what):
    return f"{slugify(classroom.name) or 'class'}-{what}-{timezone.localdate():%Y-%m-%d}.csv"


@require_GET
@report_view
def classroom_matrix_csv(request, classroom_id):
    """Every chapter of the class (or of ``?subject=CODE``), one row per learner, streamed.

    Every query runs before the first line goes out (the learners, and their
    steps done unless cached: reports.done_by_chapter); the rows are then
    written one at a time.
    """
    classroom = get_classroom_for(request.user, classroom_id)
    try:
        matrix = _matrix_for(request, classroom, subject=request.GET.get("subject") or None)
    except reports.UnknownSubject as problem:
        raise Http404(_("There is no subject “%(code)s” in this class.") % {"code": problem.code}) from problem
    header = [_("learner"), _("username"), _("overall %"), _("steps done"), _("steps total")]
    header += [f"{c.subject.code}: {c.title} (%)" for c in matrix.chapters]
    rows = (
        [reports.learner_display_name(row.learner), row.learner.username, row.percentage, row.done, row.total]
        + [cell.percentage for cell in row.cells]
        for row in matrix.rows
    )
    name = f"progress-{matrix.subject.code}" if matrix.subject else "progress"
    return _csv_response(_filename(classroom, name), header, rows)


@require_GET
@report_view
def classroom_attention_csv(request, classroom_id):
    classroom = get_classroom_for(request.user, classroom_id)
    items = reports.needs_attention(classroom=classroom)
    header = [
        _("learner"), _("username"), _("reason"), _("subject"), _("chapter"), _("step"),
        _("days without activity"), _("failed attempts"), _("overall %"), _("class median %"), _("details"),
    ]
    rows = [
        [
            reports.learner_display_name(item.learner), item.learner.username, item.kind,
            item.chapter.subject.code if item.chapter else None, item.chapter.title if item.chapter else None,
            item.step.title if item.step else None, item.days_idle, item.failed_attempts, item.percentage,
            item.median, item.detail,
        ]
        for item in items
    ]
    return _csv_response(_filename(classroom, "needs-attention"), header, rows)


# --------------------------------------------------------------------------
# One-click actions (POST, with a reason, through the engine)
# --------------------------------------------------------------------------


class StepActionForm(forms.Form):
    learner = forms.IntegerField(widget=forms.HiddenInput)
    step = forms.UUIDField(widget=forms.HiddenInput)
    action = forms.ChoiceField(choices=[(name, name) for name in STEP_ACTIONS])
    reason = forms.CharField(
        max_length=500, strip=True,
        error_messages={"required": gettext_lazy("Write a reason: it is kept in the learner's history.")},
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)


def _safe_next(request, url, fallback):
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return url
    return fallback


@require_POST
@report_view
def step_action(request):
    """Reset, excuse or mark complete one learner's step, with a reason; then back to the page it came from."""
    form = StepActionForm(request.POST)
    fallback = reverse("reports:index")
    if not form.is_valid():
        # The learner and step come from the page; only the reason is typed.
        problems = "; ".join(str(e) for errors in form.errors.values() for e in errors)
        messages.error(request, _("Nothing was changed: %(problems)s") % {"problems": problems})
        return redirect(_safe_next(request, request.POST.get("next"), fallback))
    data = form.cleaned_data
    next_url = _safe_next(request, data["next"], fallback)
    permission, function = STEP_ACTIONS[data["action"]]
    if not request.user.has_perm(permission):
        raise PermissionDenied(_("You may not do this."))
    learner = get_user_model().objects.filter(pk=data["learner"]).first()
    if learner is None or not can_see_learner(request.user, learner.pk):
        raise Http404(_("No such learner."))
    step = LearningStep.objects.select_related("chapter").filter(pk=data["step"]).first()
    if step is None:
        raise Http404(_("No such step."))
    result = function(learner=learner, step=step, actor=request.user, reason=data["reason"])
    who = reports.learner_display_name(learner)
    if result.outcome == engine.Outcome.CHANGED:
        done = {
            "reset": _("“%(step)s” was reset for %(who)s."),
            "excuse": _("%(who)s is excused from “%(step)s”."),
            "complete": _("“%(step)s” is marked complete for %(who)s."),
        }[data["action"]]
        messages.success(request, done % {"step": step.title, "who": who})
    elif result.ok:
        messages.info(request, _("Nothing to change for %(who)s on “%(step)s”: %(reason)s") % {
            "who": who, "step": step.title, "reason": result.reason,
        })
    else:
        messages.error(request, _("Not changed: %(reason)s") % {"reason": result.reason})
    return redirect(next_url)
