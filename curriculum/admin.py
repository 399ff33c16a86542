from django.contrib import admin

from .models import Chapter, LearningStep, Subject


@admin.register(Subject)
class SubjectAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "order"]
    search_fields = ["name", "code"]


class LearningStepInline(admin.TabularInline):
    model = LearningStep
    fk_name = "chapter"
    extra = 0
    fields = ["order_index", "title", "step_type", "required_completion_criteria"]
    ordering = ["order_index"]


@admin.register(Chapter)
class ChapterAdmin(admin.ModelAdmin):
    list_display = ["title", "subject", "grade", "order_index", "is_active"]
    list_filter = ["subject", "grade", "is_active"]
    list_select_related = ["subject"]
    search_fields = ["title", "slug", "external_id"]
    prepopulated_fields = {"slug": ["title"]}
    raw_id_fields = ["prerequisite_chapter"]
    inlines = [LearningStepInline]


@admin.register(LearningStep)
class LearningStepAdmin(admin.ModelAdmin):
    list_display = ["title", "chapter", "order_index", "step_type"]
    list_filter = ["step_type", "chapter__subject"]
    list_select_related = ["chapter", "chapter__subject"]
    search_fields = ["title", "chapter__title"]
    raw_id_fields = ["chapter", "prerequisite_step"]
