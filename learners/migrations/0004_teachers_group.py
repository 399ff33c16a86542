"""The "Teachers" group and its permissions (learners/roles.py holds the list).

Permissions are normally created by a post_migrate signal, i.e. after every
migration has run, so on a fresh database they do not exist yet here:
``create_permissions`` makes them now for the apps the role needs.
``manage.py setup_roles`` re-applies the role later (idempotent).
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_teachers_group(apps, schema_editor):
    from learners.roles import apply_teacher_role  # imports no models at import time

    using = schema_editor.connection.alias
    for label in ("curriculum", "progress", "learners"):
        # The global app config only says the app has models; create_permissions
        # then reads the models (and writes the permissions) through ``apps``,
        # the historical registry.
        create_permissions(global_apps.get_app_config(label), apps=apps, verbosity=0, using=using)
    apply_teacher_role(apps=apps, using=using)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("learners", "0003_user_legacy_id"),
        ("curriculum", "0002_step_optional_for_intermediate"),
        # PathRule must exist: the role lists its permissions.
        ("progress", "0005_event_kind_path"),
    ]

    operations = [
        # Reversing keeps the group: it may have members and the data is harmless.
        migrations.RunPython(create_teachers_group, migrations.RunPython.noop),
    ]
