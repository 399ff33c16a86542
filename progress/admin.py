from django.contrib import admin

from .models import LearningPath, LearningProgress, Progress, ProgressEvent


@admin.register(LearningProgress)
class LearningProgressAdmin(admin.ModelAdmin):
    list_display = ["user", "step", "status", "completion_percentage", "updated_at"]
    list_filter = ["status"]
    list_select_related = ["user", "step", "step__chapter"]
    search_fields = ["user__username", "step__title"]
    raw_id_fields = ["user", "step"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(LearningPath)
class LearningPathAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "path_type", "updated_at"]
    list_filter = ["path_type"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]


@admin.register(Progress)
class ProgressAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "applied_at", "created_at"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]


@admin.register(ProgressEvent)
class ProgressEventAdmin(admin.ModelAdmin):
    """Read-only: the event log is append-only history."""

    list_display = ["created_at", "user", "kind", "step", "actor", "reason"]
    list_filter = ["kind"]
    list_select_related = ["user", "step", "actor"]
    search_fields = ["user__username", "reason"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
