"""The curriculum in the admin, for teachers: subjects, chapters with their steps, import and export.

A chapter's page holds all its steps (stacked, in order), so a chapter can be
built on one page: positions can be swapped, criteria are a type and a
number, quizzes are written as text (curriculum/forms.py), step content has
a Markdown preview, and "View on site" opens the step as a learner sees it.
Changing how a step is completed warns with the number of learners working
on it, and links to a recompute preview (progress.engine.recompute).
"""

import copy

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, IntegerField, Max, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from progress.enums import DONE_STATUSES, Status
from progress.models import LearningProgress

from . import admin_views
from . import cache as curriculum_cache
from .admin_views import criteria_summary
from .forms import ChapterForm, ChapterListForm, ChapterListFormSet, StepForm, StepInlineFormSet
from .models import Chapter, LearningStep, Subject

ADMIN_JS = ["js/markdown_preview.js", "js/admin_criteria.js"]


def park_positions(model, pks, *, above):
    """Move rows onto temporary positions above every current and ``above`` position. Inside a transaction.

    The (chapter, order) and (textbook, order) unique constraints are checked
    row by row, so swapping two positions would collide half-way through the
    saves; parked rows then take their final positions one by one without
    ever meeting another row's. Queryset updates leave ``updated_at`` alone.
    """
    if not pks:
        return
    base = max(model.objects.aggregate(m=Max("order_index"))["m"] or 0, above) + 1
    for offset, pk in enumerate(pks):
        model.objects.filter(pk=pk).update(order_index=base + offset)


def _count_subquery(queryset, group_by, count="pk", distinct=False):
    return Coalesce(
        Subquery(queryset.order_by().values(group_by).annotate(n=Count(count, distinct=distinct)).values("n")[:1],
                 output_field=IntegerField()),
        0,
    )


def step_learner_annotations():
    """Per step: learners working on it (in progress) and learners done with it, as subqueries."""
    rows = LearningProgress.objects.filter(step=OuterRef("pk"))
    return {
        "learners_working": _count_subquery(rows.filter(status=Status.IN_PROGRESS), "step"),
        "learners_finished": _count_subquery(rows.filter(status__in=DONE_STATUSES), "step"),
    }


# --------------------------------------------------------------------------
# Subjects
# --------------------------------------------------------------------------


class SubjectChapterInline(admin.TabularInline):
    """The subject's chapters, read-only here: open one to edit it."""

    model = Chapter
    verbose_name_plural = gettext_lazy("chapters (open one to edit it and its steps)")
    fields = ["chapter_link", "grade", "order_index", "is_active", "step_count"]
    readonly_fields = fields
    ordering = ["grade", "order_index"]
    extra = 0
    show_change_link = False

    def get_queryset(self, request):
        steps = LearningStep.objects.filter(chapter=OuterRef("pk"))
        return super().get_queryset(request).annotate(step_total=_count_subquery(steps, "chapter"))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("chapter"))
    def chapter_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:curriculum_chapter_change", args=[obj.pk]), obj.title)

    @admin.display(description=gettext_lazy("steps"))
    def step_count(self, obj):
        return obj.step_total


@admin.register(Subject)
class SubjectAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "order", "language", "chapters"]
    search_fields = ["name", "code"]
    inlines = [SubjectChapterInline]

    def get_queryset(self, request):
        chapters = Chapter.objects.filter(subject=OuterRef("pk"))
        return super().get_queryset(request).annotate(chapter_total=_count_subquery(chapters, "subject"))

    @admin.display(description=gettext_lazy("chapters"), ordering="chapter_total")
    def chapters(self, obj):
        url = reverse("admin:curriculum_chapter_changelist") + f"?subject__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.chapter_total)


# --------------------------------------------------------------------------
# Chapters and their steps
# --------------------------------------------------------------------------

STEP_FIELDSETS = [
    (None, {"fields": [("order_index", "title", "step_type")]}),
    (gettext_lazy("Content"), {"fields": ["content"]}),
    (gettext_lazy("Completed when"), {
        "fields": [("criteria_type", "criteria_seconds", "criteria_min_score"), "learners_note"],
    }),
    (gettext_lazy("Quiz"), {"fields": ["questions"]}),
    (gettext_lazy("Video, simulation, exercise"), {
        "fields": ["video_url", "simulation_url", "expected_answer", "instructions"],
    }),
]
ADVANCED_STEP_FIELDS = ["prerequisite_step"]
if hasattr(LearningStep, "optional_for_intermediate"):  # learning paths
    ADVANCED_STEP_FIELDS.append("optional_for_intermediate")
STEP_FIELDSETS.append((gettext_lazy("Advanced"), {"fields": ADVANCED_STEP_FIELDS, "classes": ["collapse"]}))


def learners_note(obj):
    """The "who is affected" line under a step's criteria (needs the step_learner_annotations)."""
    if obj is None or obj._state.adding:
        return _("A new step: nobody has started it.")
    working = getattr(obj, "learners_working", 0)
    finished = getattr(obj, "learners_finished", 0)
    if not working:
        return ngettext(
            "Nobody is working on this step right now (%(finished)d learner has finished it and stays finished).",
            "Nobody is working on this step right now (%(finished)d learners have finished it and stay finished).",
            finished,
        ) % {"finished": finished}
    return format_html(
        "<strong>⚠ {}</strong>",
        ngettext(
            "%(working)d learner is working on this step: if you change how it is completed, they keep the rule "
            "they started with until you recompute. %(finished)d have finished it and stay finished.",
            "%(working)d learners are working on this step: if you change how it is completed, they keep the rule "
            "they started with until you recompute. %(finished)d have finished it and stay finished.",
            working,
        ) % {"working": working, "finished": finished},
    )


class StepInline(admin.StackedInline):
    model = LearningStep
    fk_name = "chapter"
    form = StepForm
    formset = StepInlineFormSet
    fieldsets = STEP_FIELDSETS
    readonly_fields = ["learners_note"]
    ordering = ["order_index"]
    autocomplete_fields = ["prerequisite_step"]
    show_change_link = True
    verbose_name = gettext_lazy("step")
    verbose_name_plural = gettext_lazy("steps, in the order learners do them")

    def get_extra(self, request, obj=None, **kwargs):
        return 1 if obj is None else 0  # a new chapter starts with one empty step

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(**step_learner_annotations())

    @admin.display(description=gettext_lazy("learners"))
    def learners_note(self, obj):
        return learners_note(obj)


@admin.register(Chapter)
class ChapterAdmin(admin.ModelAdmin):
    form = ChapterForm
    list_display = ["title", "subject", "grade", "order_index", "is_active", "steps", "learners_started"]
    list_display_links = ["title"]
    list_editable = ["order_index"]
    list_filter = ["subject", "grade", "is_active"]
    list_select_related = ["subject"]
    search_fields = ["title", "slug", "external_id", "subject__name"]
    autocomplete_fields = ["prerequisite_chapter"]
    inlines = [StepInline]
    actions = ["activate", "deactivate", "duplicate"]
    save_on_top = True
    fieldsets = [
        (None, {"fields": [("subject", "grade"), "title", "description", ("order_index", "is_active"), "language"]}),
        (gettext_lazy("Advanced"), {
            "fields": ["prerequisite_chapter", "slug", "external_id"], "classes": ["collapse"],
        }),
    ]

    class Media:
        js = ADMIN_JS

    def get_queryset(self, request):
        progress = LearningProgress.objects.filter(step__chapter=OuterRef("pk")).exclude(status=Status.NOT_STARTED)
        steps = LearningStep.objects.filter(chapter=OuterRef("pk"))
        return (
            super().get_queryset(request)
            .select_related("subject")
            .annotate(
                step_total=_count_subquery(steps, "chapter"),
                learner_total=_count_subquery(progress, "step__chapter", count="user", distinct=True),
            )
        )

    @admin.display(description=gettext_lazy("steps"), ordering="step_total")
    def steps(self, obj):
        return obj.step_total

    @admin.display(description=gettext_lazy("learners started"), ordering="learner_total")
    def learners_started(self, obj):
        return obj.learner_total

    # --- extra pages

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(lambda request: admin_views.import_view(self, request)),
                 name="curriculum_chapter_import"),
            path("export/", wrap(lambda request: admin_views.export_view(self, request)),
                 name="curriculum_chapter_export"),
            path("markdown-preview/", wrap(admin_views.markdown_preview), name="curriculum_markdown_preview"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_import": request.user.has_perms(admin_views.IMPORT_PERMISSIONS),
        }
        return super().changelist_view(request, extra_context)

    # --- saving: positions may swap

    def get_changelist_form(self, request, **kwargs):
        return ChapterListForm

    def get_changelist_formset(self, request, **kwargs):
        base = super().get_changelist_formset(request, formset=ChapterListFormSet, **kwargs)

        class RememberMoves(base):
            def clean(self):
                super().clean()
                request._parking = (Chapter, self.moving_rows(), self.highest_position())

        return RememberMoves

    def save_model(self, request, obj, form, change):
        parking = getattr(request, "_parking", None)
        if parking:  # the first row saved from the list: park every row that moves, once
            model, pks, above = parking
            park_positions(model, pks, above=above)
            request._parking = None
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        if isinstance(formset, StepInlineFormSet):
            park_positions(LearningStep, formset.moving_rows(), above=formset.highest_position())
            super().save_formset(request, form, formset, change)
            warn_about_criteria_changes(request, [f for f in formset.forms if f not in formset.deleted_forms])
            return
        super().save_formset(request, form, formset, change)

    # --- actions

    @admin.action(description=gettext_lazy("Open the selected chapters to learners (activate)"),
                  permissions=["change"])
    def activate(self, request, queryset):
        count = queryset.update(is_active=True)
        curriculum_cache.invalidate_on_commit()  # update() sends no save signals
        self.message_user(request, ngettext("%(n)d chapter is now open to learners.",
                                            "%(n)d chapters are now open to learners.", count) % {"n": count},
                          messages.SUCCESS)

    @admin.action(description=gettext_lazy("Hide the selected chapters from learners (deactivate)"),
                  permissions=["change"])
    def deactivate(self, request, queryset):
        count = queryset.update(is_active=False)
        curriculum_cache.invalidate_on_commit()  # update() sends no save signals
        self.message_user(request, ngettext(
            "%(n)d chapter is now hidden from learners (their progress is kept).",
            "%(n)d chapters are now hidden from learners (their progress is kept).", count) % {"n": count},
            messages.SUCCESS)

    @admin.action(description=gettext_lazy("Duplicate the selected chapters with their steps"),
                  permissions=["add"])
    def duplicate(self, request, queryset):
        for chapter in queryset.select_related("subject"):
            copy_ = duplicate_chapter(chapter)
            self.message_user(request, format_html(
                '{} <a href="{}">{}</a>',
                _("“%(old)s” was copied with its %(n)d steps as “%(new)s”, hidden from learners until you "
                  "activate it.") % {"old": chapter.title, "n": copy_.steps.count(), "new": copy_.title},
                reverse("admin:curriculum_chapter_change", args=[copy_.pk]), _("Open the copy"),
            ), messages.SUCCESS)


def duplicate_chapter(chapter):
    """A copy of ``chapter`` and its steps: "… (copy)", next free position, new slug, no external id, inactive.

    Prerequisites between its own steps point to the copies; others are kept.
    """
    with transaction.atomic():
        siblings = Chapter.objects.filter(subject_id=chapter.subject_id, grade=chapter.grade)
        titles = set(siblings.values_list("title", flat=True))
        stem = chapter.title[:240]
        title, n = f"{stem} ({_('copy')})", 2
        while title in titles:
            title, n = f"{stem} ({_('copy')} {n})", n + 1
        new = Chapter.objects.create(
            subject_id=chapter.subject_id, grade=chapter.grade, title=title, slug="",
            description=chapter.description, order_index=(siblings.aggregate(m=Max("order_index"))["m"] or 0) + 1,
            prerequisite_chapter_id=chapter.prerequisite_chapter_id, is_active=False, external_id=None,
        )
        skip = {"id", "chapter", "prerequisite_step", "created_at", "updated_at"}
        originals = list(chapter.steps.order_by("order_index"))
        copies = []
        for step in originals:
            twin = LearningStep(chapter=new)
            for model_field in LearningStep._meta.concrete_fields:
                if model_field.name not in skip:
                    setattr(twin, model_field.attname, copy.deepcopy(getattr(step, model_field.attname)))
            copies.append(twin)
        LearningStep.objects.bulk_create(copies)
        mapping = {old.pk: twin.pk for old, twin in zip(originals, copies, strict=True)}
        linked = []
        for old, twin in zip(originals, copies, strict=True):
            if old.prerequisite_step_id:
                twin.prerequisite_step_id = mapping.get(old.prerequisite_step_id, old.prerequisite_step_id)
                linked.append(twin)
        LearningStep.objects.bulk_update(linked, ["prerequisite_step"])
        curriculum_cache.invalidate_on_commit()  # bulk_create / bulk_update send no save signals
    return new


def warn_about_criteria_changes(request, forms):
    """After saving: for each step whose criteria changed while learners work on it, a warning with a link."""
    changed = [
        f.instance for f in forms
        if getattr(f, "original_criteria", None) not in (None, f.instance.required_completion_criteria)
    ]
    if not changed:
        return
    counts = admin_views.learner_counts([s.pk for s in changed])
    for step in changed:
        working = counts.get(step.pk, (0, 0))[0]
        if working:
            messages.warning(request, admin_views.criteria_change_message(step, working))


# --------------------------------------------------------------------------
# Steps on their own
# --------------------------------------------------------------------------


@admin.register(LearningStep)
class LearningStepAdmin(admin.ModelAdmin):
    form = StepForm
    list_display = ["title", "chapter_label", "order_index", "step_type", "completed_when", "learners_working",
                    "learners_finished"]
    list_filter = ["step_type", "chapter__subject", "chapter__grade"]
    list_select_related = ["chapter__subject"]
    search_fields = ["title", "chapter__title"]
    autocomplete_fields = ["chapter", "prerequisite_step"]
    readonly_fields = ["learners_note"]
    actions = ["recompute_selected"]
    save_on_top = True
    fieldsets = [(None, {"fields": ["chapter"]}), *STEP_FIELDSETS]

    class Media:
        js = ADMIN_JS

    def get_queryset(self, request):
        # select_related for __str__ (the chapter's title) in autocomplete answers and the change page.
        return (
            super().get_queryset(request).select_related("chapter__subject").annotate(**step_learner_annotations())
        )

    @admin.display(description=gettext_lazy("chapter"), ordering="chapter__title")
    def chapter_label(self, obj):
        return f"{obj.chapter.subject.code}: {obj.chapter.title}"

    @admin.display(description=gettext_lazy("completed when"))
    def completed_when(self, obj):
        return criteria_summary(obj.required_completion_criteria)

    @admin.display(description=gettext_lazy("working on it"), ordering="learners_working")
    def learners_working(self, obj):
        return obj.learners_working

    @admin.display(description=gettext_lazy("finished"), ordering="learners_finished")
    def learners_finished(self, obj):
        return obj.learners_finished

    @admin.display(description=gettext_lazy("learners"))
    def learners_note(self, obj):
        return learners_note(obj)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("recompute/", wrap(lambda request: admin_views.recompute_view(self, request)),
                 name="curriculum_learningstep_recompute"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_recompute": request.user.has_perms(admin_views.RECOMPUTE_PERMISSIONS),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:
            warn_about_criteria_changes(request, [form])

    def has_recompute_permission(self, request):
        return request.user.has_perms(admin_views.RECOMPUTE_PERMISSIONS)

    @admin.action(description=gettext_lazy("Recompute learners' progress with the current criteria (preview first)"),
                  permissions=["recompute"])
    def recompute_selected(self, request, queryset):
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return HttpResponseRedirect(reverse("admin:curriculum_learningstep_recompute") + f"?ids={ids}")

