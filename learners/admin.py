from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count
from django.http import Http404
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from .models import Classroom, User, UserProfile
from .roles import classrooms_for, scope_to_learners, sees_everyone


class ScopedAdminMixin:
    """Teachers see only rows about learners in their classrooms; superusers see everything.

    Subclasses say how to scope in ``scope_queryset``. The changelist, the
    change/history/delete pages, filters and actions all start from
    ``get_queryset``, so a row outside the teacher's classes is not listed and
    its URL answers 404 (not the admin's "perhaps it was deleted" redirect,
    which would confirm nothing either, but 404 is what a guessed URL gets
    everywhere else).
    """

    learner_field = "user"

    def scope_queryset(self, queryset, user):
        return scope_to_learners(queryset, user, self.learner_field)

    def get_queryset(self, request):
        return self.scope_queryset(super().get_queryset(request), request.user)

    def _object_or_404(self, request, object_id):
        if object_id is not None and self.get_object(request, unquote(object_id)) is None:
            raise Http404(_("Not found."))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._object_or_404(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._object_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._object_or_404(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def _in_scope(self, request, obj):
        return sees_everyone(request.user) or self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_view_permission(self, request, obj=None):
        allowed = super().has_view_permission(request, obj)
        return allowed and (obj is None or self._in_scope(request, obj))

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or self._in_scope(request, obj))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or self._in_scope(request, obj))


class UserProfileInline(admin.StackedInline):
    model = UserProfile
    can_delete = False
    extra = 0


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [UserProfileInline]
    list_display = ["username", "first_name", "last_name", "email", "is_staff", "is_active"]
    fieldsets = BaseUserAdmin.fieldsets + ((_("MARS Labs"), {"fields": ["age"]}),)


@admin.register(UserProfile)
class UserProfileAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["user", "username", "grade", "background_level", "preferred_language", "updated_at"]
    list_filter = ["grade", "background_level", "preferred_language"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    raw_id_fields = ["user"]
    readonly_fields = ["viewing_step", "last_heartbeat_at", "created_at", "updated_at"]

    @admin.display(description=_("username"), ordering="user__username")
    def username(self, obj):
        return obj.user.username


@admin.register(Classroom)
class ClassroomAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """A class: its teachers (who see its learners' progress) and learners. Teachers see their own classes."""

    list_display = ["name", "grade", "teacher_names", "learner_count", "reports"]
    list_filter = ["grade"]
    search_fields = ["name"]
    filter_horizontal = ["teachers", "learners"]
    readonly_fields = ["learner_list"]

    def scope_queryset(self, queryset, user):
        return queryset.filter(pk__in=classrooms_for(user).values("pk"))

    def get_queryset(self, request):
        return (
            super().get_queryset(request)
            .annotate(learner_total=Count("learners", distinct=True))
            .prefetch_related("teachers")
        )

    def get_fields(self, request, obj=None):
        fields = ["name", "grade", "teachers", "learners"]
        if obj is not None and not self.has_change_permission(request, obj):
            # Read-only (a teacher): names, not a 200-line select box.
            return ["name", "grade", "teachers", "learner_list"]
        return fields

    @admin.display(description=_("teachers"))
    def teacher_names(self, obj):
        return ", ".join(str(t) for t in obj.teachers.all()) or "—"

    @admin.display(description=_("learners"), ordering="learner_total")
    def learner_count(self, obj):
        return obj.learner_total

    @admin.display(description=_("reports"))
    def reports(self, obj):
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("reports:matrix", args=[obj.pk]), _("progress by chapter"),
            reverse("reports:attention", args=[obj.pk]), _("needs attention"),
        )

    @admin.display(description=_("learners"))
    def learner_list(self, obj):
        learners = obj.learners.order_by("last_name", "first_name", "username")
        if not learners:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "", '<li><a href="{}">{}</a> ({})</li>',
                ((reverse("reports:learner", args=[u.pk]), u.get_full_name() or u.username, u.username)
                 for u in learners),
            ),
        )
