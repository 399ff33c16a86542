from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Classroom, User, UserProfile


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
class UserProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "grade", "background_level", "preferred_language", "updated_at"]
    list_filter = ["grade", "background_level", "preferred_language"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    raw_id_fields = ["user"]


@admin.register(Classroom)
class ClassroomAdmin(admin.ModelAdmin):
    list_display = ["name", "grade"]
    list_filter = ["grade"]
    search_fields = ["name"]
    filter_horizontal = ["teachers", "learners"]
