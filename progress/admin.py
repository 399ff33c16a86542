"""Progress in the admin: what learners did, and the teacher's reset / excuse / override actions.

LearningProgress and ProgressEvent are never edited as forms: the engine is
the only writer (progress/engine.py). Actions that change a learner's
progress ask for a reason on an intermediate page and call the engine once
per row, so each change leaves a ProgressEvent with the teacher as actor.
Teachers see only learners in their classrooms (learners.admin.ScopedAdminMixin).
"""

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from curriculum.models import Chapter, LearningStep, Subject
from learners.admin import ScopedAdminMixin
from learners.roles import classrooms_for

from . import engine
from .enums import Status
from .models import LearningPath, LearningProgress, PathRule, Progress, ProgressEvent
from .paths import rebuild_main_path

STATUS_ICONS = {
    Status.NOT_STARTED: "○",
    Status.IN_PROGRESS: "◐",
    Status.COMPLETED: "✓",
    Status.SKIPPED: "↷",
}


def learner_name(user):
    full = user.get_full_name()
    return f"{full} ({user.username})" if full else user.username


# --------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------


class SubjectFilter(admin.SimpleListFilter):
    title = gettext_lazy("subject")
    parameter_name = "subject"

    def lookups(self, request, model_admin):
        return list(Subject.objects.values_list("code", "name"))

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(step__chapter__subject__code=self.value())
        return queryset


class ChapterFilter(admin.SimpleListFilter):
    """Chapters of the chosen subject (all when none is chosen), named with their class."""

    title = gettext_lazy("chapter")
    parameter_name = "chapter"

    def lookups(self, request, model_admin):
        chapters = Chapter.objects.order_by("subject__order", "subject__code", "grade", "order_index")
        subject = request.GET.get(SubjectFilter.parameter_name)
        if subject:
            chapters = chapters.filter(subject__code=subject)
        return [
            (str(pk), f"{code}: {title}" + (f" ({_('class')} {grade})" if grade else ""))
            for pk, code, title, grade in chapters.values_list("pk", "subject__code", "title", "grade")
        ]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            chapter_id = uuid.UUID(self.value())
        except ValueError:  # a malformed id in the URL: nothing matches
            return queryset.none()
        return queryset.filter(step__chapter_id=chapter_id)


class ClassroomFilter(admin.SimpleListFilter):
    """The classrooms this teacher teaches (a superuser: all)."""

    title = gettext_lazy("classroom")
    parameter_name = "classroom"
    learner_field = "user"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in classrooms_for(request.user).values_list("pk", "name")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit() or value not in {key for key, _name in self.lookup_choices}:
            return queryset.none()
        return queryset.filter(**{f"{self.learner_field}__classrooms": int(value)})


# --------------------------------------------------------------------------
# Actions that ask for a reason
# --------------------------------------------------------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=gettext_lazy("Required. Kept in each learner's history with your name."),
        error_messages={"required": gettext_lazy("Write a reason: it is kept in the learner's history.")},
    )


def ask_for_reason(modeladmin, request, queryset, *, title, intro, button, rows, apply):
    """Show the selected rows and a required reason; on a valid POST call ``apply(reason)`` and go back.

    ``rows`` is a list of short descriptions of what will change (shown, at most 200).
    Returns None after applying (the admin then redirects to the changelist).
    """
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        apply(form.cleaned_data["reason"])
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "button": button,
        "opts": modeladmin.model._meta,
        "form": form,
        "rows": rows[:200],
        "more": max(0, len(rows) - 200),
        "queryset": queryset,
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "select_across": request.POST.get("select_across", "0"),
    }
    return TemplateResponse(request, "admin/progress/reason_action.html", context)


def report_outcomes(modeladmin, request, results, *, changed_message):
    """One message with how many rows changed, and one per kind of refusal."""
    changed = sum(1 for r in results if r.outcome == engine.Outcome.CHANGED)
    if changed:
        modeladmin.message_user(request, changed_message(changed), messages.SUCCESS)
    reasons = {}
    for result in results:
        if result.outcome != engine.Outcome.CHANGED:
            reasons[result.reason] = reasons.get(result.reason, 0) + 1
    for reason, count in reasons.items():
        modeladmin.message_user(
            request,
            ngettext("%(count)d row was not changed: %(reason)s", "%(count)d rows were not changed: %(reason)s", count)
            % {"count": count, "reason": reason},
            messages.WARNING,
        )


# --------------------------------------------------------------------------
# LearningProgress
# --------------------------------------------------------------------------


@admin.register(LearningProgress)
class LearningProgressAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["learner", "chapter", "step_title", "status_label", "completion_percentage", "started_at",
                    "completed_at"]
    list_filter = [ClassroomFilter, SubjectFilter, ChapterFilter, "status"]
    list_select_related = ["user", "step__chapter__subject"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "step__title", "step__chapter__title"]
    ordering = ["user__last_name", "user__first_name", "user__username", "step__chapter__subject__order",
                "step__chapter__order_index", "step__order_index"]
    actions = ["reset_selected", "excuse_selected", "complete_selected"]
    fields = ["learner", "step_link", "status_label", "completion_percentage", "started_at", "completed_at",
              "criteria", "evidence", "history"]
    readonly_fields = fields
    list_per_page = 100

    def has_add_permission(self, request):
        return False  # rows are made by the engine when a learner starts a step

    def has_change_permission(self, request, obj=None):
        return False  # only through the engine: use the actions

    @admin.display(description=gettext_lazy("learner"), ordering="user__last_name")
    def learner(self, obj):
        return learner_name(obj.user)

    @admin.display(description=gettext_lazy("chapter"), ordering="step__chapter__title")
    def chapter(self, obj):
        return f"{obj.step.chapter.subject.code}: {obj.step.chapter.title}"

    @admin.display(description=gettext_lazy("step"), ordering="step__order_index")
    def step_title(self, obj):
        return f"{obj.step.order_index}. {obj.step.title}"

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_label(self, obj):
        return f"{STATUS_ICONS.get(obj.status, '')} {obj.get_status_display()}"

    @admin.display(description=gettext_lazy("step"))
    def step_link(self, obj):
        return format_html('<a href="{}">{}</a>', obj.step.get_absolute_url(), obj.step)

    @admin.display(description=gettext_lazy("judged by"))
    def criteria(self, obj):
        return engine.criteria_for(obj, obj.step)

    @admin.display(description=gettext_lazy("evidence"))
    def evidence(self, obj):
        data = obj.progress_data or {}
        parts = []
        if data.get("active_seconds"):
            parts.append(_("%(s)d s of active time") % {"s": int(data["active_seconds"])})
        attempts = data.get("attempts") or []
        if attempts:
            scores = ", ".join(f"{a.get('score')}%" for a in attempts)
            parts.append(_("quiz attempts: %(scores)s") % {"scores": scores})
        if data.get("reason"):
            parts.append(_("last verdict: %(reason)s") % {"reason": data["reason"]})
        return "; ".join(parts) or "—"

    @admin.display(description=gettext_lazy("history"))
    def history(self, obj):
        events = ProgressEvent.objects.filter(user_id=obj.user_id, step_id=obj.step_id).select_related("actor")
        return format_html_join(
            "", "<div>{} · <strong>{}</strong> {} {}</div>",
            (
                (f"{e.created_at:%Y-%m-%d %H:%M}", e.get_kind_display(),
                 _("by %(actor)s") % {"actor": e.actor} if e.actor else "", f"“{e.reason}”" if e.reason else "")
                for e in events[:100]
            ),
        ) or "—"

    # --- permissions for the actions (custom permissions from learners/roles.py)

    def has_reset_permission(self, request):
        return request.user.has_perm("progress.reset_progress")

    def has_excuse_permission(self, request):
        return request.user.has_perm("progress.excuse_progress")

    def has_override_permission(self, request):
        return request.user.has_perm("progress.override_progress")

    def _rows(self, queryset):
        return list(queryset.select_related("user", "step__chapter__subject"))

    def _describe(self, rows):
        return [
            f"{learner_name(r.user)} — {r.step.chapter.title} › {r.step.title} ({r.get_status_display()})"
            for r in rows
        ]

    def _teacher_action(self, request, queryset, *, function, title, intro, button, done):
        rows = self._rows(queryset)

        def apply(reason):
            results = [function(learner=r.user, step=r.step, actor=request.user, reason=reason) for r in rows]
            report_outcomes(self, request, results, changed_message=done)

        return ask_for_reason(self, request, queryset, title=title, intro=intro, button=button,
                              rows=self._describe(rows), apply=apply)

    @admin.action(description=gettext_lazy("Reset the selected steps (asks for a reason)"), permissions=["reset"])
    def reset_selected(self, request, queryset):
        return self._teacher_action(
            request, queryset, function=engine.reset,
            title=_("Reset steps"), button=_("Reset"),
            intro=_("These steps go back to “not started” for these learners. Their history is kept and "
                    "shows your name and reason."),
            done=lambda n: ngettext("Reset %(n)d step.", "Reset %(n)d steps.", n) % {"n": n},
        )

    @admin.action(description=gettext_lazy("Excuse learners from the selected steps (asks for a reason)"),
                  permissions=["excuse"])
    def excuse_selected(self, request, queryset):
        return self._teacher_action(
            request, queryset, function=engine.skip_step,
            title=_("Excuse learners from steps"), button=_("Excuse"),
            intro=_("These steps are marked “skipped”: they count as done, so the next step unlocks. "
                    "Steps already done are left as they are."),
            done=lambda n: ngettext("Excused %(n)d step.", "Excused %(n)d steps.", n) % {"n": n},
        )

    @admin.action(description=gettext_lazy("Mark the selected steps complete (override, asks for a reason)"),
                  permissions=["override"])
    def complete_selected(self, request, queryset):
        return self._teacher_action(
            request, queryset, function=engine.force_complete,
            title=_("Mark steps complete"), button=_("Mark complete"),
            intro=_("These steps are marked completed whatever their criteria say (e.g. the learner did the "
                    "experiment in the school lab)."),
            done=lambda n: ngettext("Marked %(n)d step complete.", "Marked %(n)d steps complete.", n) % {"n": n},
        )


# --------------------------------------------------------------------------
# The rest of the progress models
# --------------------------------------------------------------------------


@admin.register(LearningPath)
class LearningPathAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Read-only: paths are built by progress/paths.py. "Rebuild" makes them afresh from the rules."""

    list_display = ["name", "learner", "path_type", "chapter", "is_active", "step_count", "updated_at"]
    list_filter = [ClassroomFilter, "path_type", "is_active"]
    list_select_related = ["user", "chapter__subject"]
    search_fields = ["name", "user__username", "user__first_name", "user__last_name"]
    fields = ["user", "name", "path_type", "chapter", "is_active", "ended_at", "description", "sequence"]
    readonly_fields = fields
    actions = ["rebuild"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    @admin.display(description=gettext_lazy("steps, in order"))
    def sequence(self, obj):
        """Each step's title, chapter and the path's note, with left-out steps listed after (one query)."""
        ids = [*obj.steps_sequence, *obj.omitted]
        steps = LearningStep.objects.select_related("chapter").in_bulk([uuid.UUID(i) for i in ids])
        rows = []
        for step_id in obj.steps_sequence:
            step = steps.get(uuid.UUID(step_id))
            note = (obj.step_notes.get(step_id) or {}).get("note", "")
            rows.append((step.chapter.title if step else "?", step.title if step else step_id, note))
        for step_id, reason in obj.omitted.items():
            step = steps.get(uuid.UUID(step_id))
            rows.append((step.chapter.title if step else "?", step.title if step else step_id,
                         _("left out: %(reason)s") % {"reason": reason}))
        return format_html("<ol>{}</ol>", format_html_join(
            "", "<li>{} › <strong>{}</strong> <span class='help'>{}</span></li>", rows
        ))

    @admin.action(description=gettext_lazy("Rebuild the selected learners' paths from the rules"))
    def rebuild(self, request, queryset):
        learners = {path.user for path in queryset.select_related("user")}
        changed = sum(rebuild_main_path(learner=learner, actor=request.user).changed for learner in learners)
        messages.success(request, ngettext(
            "%(changed)d of %(count)d learner's path changed.",
            "%(changed)d of %(count)d learners' paths changed.", len(learners),
        ) % {"changed": changed, "count": len(learners)})

    @admin.display(description=gettext_lazy("learner"), ordering="user__last_name")
    def learner(self, obj):
        return learner_name(obj.user)

    @admin.display(description=gettext_lazy("steps"))
    def step_count(self, obj):
        return len(obj.steps_sequence or [])


class UnmatchedFilter(admin.SimpleListFilter):
    title = gettext_lazy("unmatched entries")
    parameter_name = "unmatched"

    def lookups(self, request, model_admin):
        return [("yes", _("has unmatched entries")), ("no", _("everything matched")),
                ("unapplied", _("not applied yet"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(Q(unmatched=[]) | Q(unmatched__isnull=True))
        if self.value() == "no":
            return queryset.filter(unmatched=[], applied_at__isnull=False)
        if self.value() == "unapplied":
            return queryset.filter(applied_at__isnull=True)
        return queryset


@admin.register(Progress)
class ProgressAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """MARS-labs documents as received. Entries that matched no chapter are listed; fix the chapter
    titles (or subjects) in the curriculum, then "re-apply"."""

    list_display = ["id", "learner", "document_class", "unmatched_count", "applied_at", "created_at"]
    list_filter = [UnmatchedFilter, ClassroomFilter]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    fields = ["learner", "applied_at", "unmatched_entries", "progress_data", "created_at"]
    readonly_fields = fields
    actions = ["reapply_selected"]

    def has_add_permission(self, request):
        return False  # documents arrive through the API or import_marslabs, verbatim

    def has_change_permission(self, request, obj=None):
        return False

    def has_override_permission(self, request):
        return request.user.has_perm("progress.override_progress")

    @admin.display(description=gettext_lazy("learner"), ordering="user__last_name")
    def learner(self, obj):
        return learner_name(obj.user)

    @admin.display(description=gettext_lazy("class"))
    def document_class(self, obj):
        return (obj.progress_data or {}).get("class", "—")

    @admin.display(description=gettext_lazy("unmatched"))
    def unmatched_count(self, obj):
        count = len(obj.unmatched or [])
        return format_html("<strong>{}</strong>", count) if count else "0"

    @admin.display(description=gettext_lazy("unmatched entries"))
    def unmatched_entries(self, obj):
        entries = obj.unmatched or []
        if not entries:
            return _("Every entry matched a chapter.") if obj.applied_at else _("Not applied yet.")
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((e.get("subject", ""), e.get("list", ""), e.get("title", ""), e.get("reason", "")) for e in entries),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("subject"), _("list"), _("title"), _("why it did not match"), rows,
        )

    @admin.action(description=gettext_lazy("Re-apply the selected documents (after fixing chapter titles)"),
                  permissions=["override"])
    def reapply_selected(self, request, queryset):
        documents = list(queryset)
        reports = engine.apply_marslabs_documents(documents=documents, actor=request.user)
        completed = sum(r.completed for r in reports)
        unmatched = sum(len(r.unmatched) for r in reports)
        self.message_user(
            request,
            ngettext(
                "Applied %(docs)d document: %(completed)d steps newly completed; %(unmatched)d entries still "
                "unmatched.",
                "Applied %(docs)d documents: %(completed)d steps newly completed; %(unmatched)d entries still "
                "unmatched.",
                len(reports),
            ) % {"docs": len(reports), "completed": completed, "unmatched": unmatched},
            messages.WARNING if unmatched else messages.SUCCESS,
        )


@admin.register(ProgressEvent)
class ProgressEventAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Read-only: the event log is append-only history."""

    list_display = ["created_at", "learner", "kind", "step_label", "actor", "reason"]
    list_filter = [ClassroomFilter, "kind"]
    list_select_related = ["user", "step__chapter", "actor"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "reason"]
    list_per_page = 100

    @admin.display(description=gettext_lazy("learner"), ordering="user__last_name")
    def learner(self, obj):
        return learner_name(obj.user)

    @admin.display(description=gettext_lazy("step"))
    def step_label(self, obj):
        return str(obj.step) if obj.step else "—"

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(PathRule)
class PathRuleAdmin(admin.ModelAdmin):
    """What a personalized path does per background level. The three levels are fixed; their rules are not.

    A change applies to paths built from now on: rebuild paths (the learning-path
    list's action, or ``manage.py rebuild_paths``) to apply it to everyone.
    """

    list_display = ["background_level", "leave_out_optional", "test_out", "updated_at"]
    readonly_fields = ["background_level"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
