from django.db import migrations

# The starting rules (issue: learning paths). Teachers change them in the admin.
RULES = [
    ("beginner", False, False),
    ("intermediate", True, False),
    ("advanced", False, True),
]


def seed_rules(apps, schema_editor):
    PathRule = apps.get_model("progress", "PathRule")
    for level, leave_out_optional, test_out in RULES:
        PathRule.objects.get_or_create(
            background_level=level, defaults={"leave_out_optional": leave_out_optional, "test_out": test_out}
        )


class Migration(migrations.Migration):
    dependencies = [("progress", "0003_learning_paths")]

    operations = [migrations.RunPython(seed_rules, migrations.RunPython.noop)]
