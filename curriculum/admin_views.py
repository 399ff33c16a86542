"""Extra admin pages for the curriculum: import (with a dry-run preview), export, recompute, Markdown preview.

Wired into the admin by ``ChapterAdmin.get_urls`` / ``LearningStepAdmin.get_urls``
(curriculum/admin.py) and wrapped in ``admin_site.admin_view``, so only
signed-in staff reach them; each view then checks the model permissions it
needs.
"""

import json
import secrets
import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from learners.roles import learners_for, sees_everyone
from progress import engine
from progress.enums import DONE_STATUSES, Status
from progress.models import LearningProgress
from progress.templatetags.mars_markdown import render_markdown

from .exporter import export_curriculum
from .forms import CurriculumUploadForm
from .importer import CurriculumError, import_curriculum
from .models import LearningStep

IMPORT_PERMISSIONS = (
    "curriculum.add_subject", "curriculum.change_subject",
    "curriculum.add_chapter", "curriculum.change_chapter",
    "curriculum.add_learningstep", "curriculum.change_learningstep",
)
RECOMPUTE_PERMISSIONS = ("curriculum.change_learningstep", "progress.override_progress")
SESSION_KEY = "curriculum_import"
MAX_PREVIEW_CHARS = 200_000


def criteria_summary(criteria):
    criteria = criteria or {}
    kind = criteria.get("type")
    if kind == "time":
        return _("%(s)s s of active time") % {"s": criteria.get("value")}
    if kind == "quiz":
        return _("quiz score ≥ %(n)s%%") % {"n": criteria.get("min_score")}
    labels = {"view": _("opened"), "manual": _("marked done"), "submission": _("answer submitted"),
              "external": _("reported by the simulation")}
    return labels.get(kind, _("invalid criteria"))


def _context(model_admin, request, **extra):
    return {**model_admin.admin_site.each_context(request), "opts": model_admin.model._meta, **extra}


# --------------------------------------------------------------------------
# Markdown preview
# --------------------------------------------------------------------------


@require_POST
def markdown_preview(request):
    """The step content as learners will see it: rendered and sanitised by the step page's own filter."""
    if not (request.user.has_perm("curriculum.change_learningstep")
            or request.user.has_perm("curriculum.add_learningstep")):
        raise PermissionDenied
    text = request.POST.get("text", "")
    if len(text) > MAX_PREVIEW_CHARS:
        return HttpResponseBadRequest(_("That text is too long to preview."))
    return JsonResponse({"html": render_markdown(text)})


# --------------------------------------------------------------------------
# Import and export
# --------------------------------------------------------------------------


def export_view(model_admin, request):
    """Download the whole curriculum as one JSON file in the native format (curriculum/exporter.py)."""
    if not request.user.has_perm("curriculum.view_chapter"):
        raise PermissionDenied
    document = export_curriculum()
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False, indent=2) + "\n", content_type="application/json; charset=utf-8"
    )
    filename = f"mars-labs-curriculum-{timezone.localdate():%Y-%m-%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _preview(model_admin, request, *, document, text, notice=""):
    """Dry-run ``document``; render the report (kept in the session for "Apply") or the errors."""
    try:
        report = import_curriculum(document, dry_run=True)
    except CurriculumError as exc:
        request.session.pop(SESSION_KEY, None)
        return TemplateResponse(request, "admin/curriculum/import.html", _context(
            model_admin, request, title=_("Import a curriculum"), form=CurriculumUploadForm(), errors=exc.messages,
        ))
    token = secrets.token_urlsafe(16)
    # The file stays on the server: "Apply" sends back only this token, and
    # the import checks everything again when it runs.
    request.session[SESSION_KEY] = {"token": token, "text": text, "changes": report.changes}
    return TemplateResponse(request, "admin/curriculum/import.html", _context(
        model_admin, request, title=_("Import a curriculum: check, then apply"), report=report, token=token,
        notice=notice,
    ))


def import_view(model_admin, request):
    """Upload a curriculum file, see what it would change (dry run), then apply it."""
    if not request.user.has_perms(IMPORT_PERMISSIONS):
        raise PermissionDenied
    if request.method == "POST" and "apply" in request.POST:
        return _apply(model_admin, request)
    form = CurriculumUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        return _preview(model_admin, request, document=form.cleaned_data["document"], text=form.cleaned_data["text"])
    return TemplateResponse(request, "admin/curriculum/import.html", _context(
        model_admin, request, title=_("Import a curriculum"), form=form,
    ))


def _apply(model_admin, request):
    pending = request.session.get(SESSION_KEY) or {}
    if not pending or not secrets.compare_digest(str(pending.get("token", "")), request.POST.get("token", "")):
        messages.error(request, _("That preview has expired (or was replaced by another upload): "
                                  "upload the file again."))
        return redirect("admin:curriculum_chapter_import")
    document = json.loads(pending["text"])
    # The database may have changed since the preview (another teacher, another import):
    # if the import would now do something else, show that instead of applying it.
    try:
        again = import_curriculum(document, dry_run=True)
    except CurriculumError:
        again = None
    if again is None or again.changes != pending.get("changes"):
        return _preview(model_admin, request, document=document, text=pending["text"], notice=_(
            "The curriculum changed since your preview, so nothing was imported. "
            "This is what the import would do now; check it and apply again."
        ))
    try:
        report = import_curriculum(document, dry_run=False)
    except CurriculumError as exc:
        request.session.pop(SESSION_KEY, None)
        return TemplateResponse(request, "admin/curriculum/import.html", _context(
            model_admin, request, title=_("Import a curriculum"), form=CurriculumUploadForm(), errors=exc.messages,
        ))
    request.session.pop(SESSION_KEY, None)
    messages.success(request, _("Imported. %(summary)s") % {"summary": report.summary().replace("\n", "; ")})
    for warning in report.warnings:
        messages.warning(request, warning)
    return redirect("admin:curriculum_chapter_changelist")


# --------------------------------------------------------------------------
# Recompute
# --------------------------------------------------------------------------


def learner_counts(step_ids):
    """``{step_id: (working, finished)}``: learners in progress on each step, and learners done with it (one query)."""
    rows = (
        LearningProgress.objects.filter(step_id__in=step_ids).exclude(status=Status.NOT_STARTED)
        .values("step_id")
        .annotate(working=Count("pk", filter=Q(status=Status.IN_PROGRESS)),
                  finished=Count("pk", filter=Q(status__in=DONE_STATUSES)))
        .order_by()
    )
    return {row["step_id"]: (row["working"], row["finished"]) for row in rows}


def criteria_change_message(step, count):
    """The warning shown after saving new criteria on a step ``count`` learners are working on."""
    return format_html(
        "{} <a href=\"{}\">{}</a>",
        ngettext(
            "You changed how “%(step)s” is completed. %(n)d learner is working on it and is still judged "
            "by the old rule.",
            "You changed how “%(step)s” is completed. %(n)d learners are working on it and are still judged "
            "by the old rule.",
            count,
        ) % {"step": step.title, "n": count},
        reverse("admin:curriculum_learningstep_recompute") + f"?ids={step.pk}",
        _("Preview a recompute with the new criteria…"),
    )


def recompute_view(model_admin, request):
    """Dry-run preview of ``engine.recompute`` for the steps in ``?ids=``; apply it with a reason on POST."""
    if not request.user.has_perms(RECOMPUTE_PERMISSIONS):
        raise PermissionDenied
    raw_ids = request.POST.get("ids") or request.GET.get("ids", "")
    try:
        ids = [uuid.UUID(i.strip()) for i in raw_ids.split(",") if i.strip()]
    except ValueError:  # a malformed id: treat as nothing chosen
        ids = []
    steps = list(LearningStep.objects.filter(pk__in=ids).select_related("chapter__subject")
                 .order_by("chapter__title", "order_index"))
    if not steps:
        messages.error(request, _("Choose the steps to recompute in the step list first."))
        return redirect("admin:curriculum_learningstep_changelist")
    learners = None if sees_everyone(request.user) else learners_for(request.user)
    reason = (request.POST.get("reason") or "").strip()
    error = ""
    if request.method == "POST":
        if not reason:
            error = _("Write a reason: it is kept in each learner's history with your name.")
        else:
            changed = completed = 0
            for step in steps:
                result = engine.recompute(step=step, actor=request.user, reason=reason, dry_run=False,
                                          learners=learners)
                changes = result.details.get("changes", [])
                changed += len(changes)
                completed += sum(1 for c in changes if c.status_changes)
            messages.success(request, ngettext(
                "Recomputed: %(n)d learner now judged by the new criteria, %(done)d of them completed by it.",
                "Recomputed: %(n)d learners now judged by the new criteria, %(done)d of them completed by it.",
                changed,
            ) % {"n": changed, "done": completed})
            if len(steps) == 1:
                return redirect("admin:curriculum_learningstep_change", steps[0].pk)
            return redirect("admin:curriculum_learningstep_changelist")
    previews = []
    for step in steps:
        changes = engine.recompute(step=step, actor=request.user, reason="", dry_run=True, learners=learners)
        previews.append((step, [
            {
                "learner": change.learner, "verdict": change.verdict, "status_changes": change.status_changes,
                "old_rule": criteria_summary(change.old_criteria), "new_rule": criteria_summary(change.new_criteria),
                "old_status": Status(change.old_status).label, "new_status": Status(change.new_status).label,
            }
            for change in changes.details["changes"]
        ]))
    return TemplateResponse(request, "admin/curriculum/recompute.html", _context(
        model_admin, request, title=_("Recompute progress with the current criteria"), previews=previews,
        ids=",".join(str(s.pk) for s in steps), reason=reason, error=error,
        anything=any(changes for _step, changes in previews),
    ))

