# The single-column indexes Django made for four foreign keys duplicate the leading column of
# composite indexes that stay (LearningProgress: the unique (user, step) and (step, status);
# ProgressEvent: (user, kind, created_at) and (step, kind)), so every lookup and cascade by
# learner or step keeps an index, and each write maintains two B-trees fewer per table.
#
# Only the indexes are dropped: AlterField(db_index=False) would make SQLite copy both tables
# (millions of rows) to change nothing else, so the database work is written out here.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

FIELDS = [
    ("learningprogress", "user"),
    ("learningprogress", "step"),
    ("progressevent", "user"),
    ("progressevent", "step"),
]


def _single_column_indexes(schema_editor, model, column):
    return schema_editor._constraint_names(model, [column], index=True, unique=False, primary_key=False)


def drop_indexes(apps, schema_editor):
    for model_name, field_name in FIELDS:
        model = apps.get_model("progress", model_name)
        column = model._meta.get_field(field_name).column
        for name in _single_column_indexes(schema_editor, model, column):
            schema_editor.execute(schema_editor._delete_index_sql(model, name))


def create_indexes(apps, schema_editor):
    for model_name, field_name in FIELDS:
        model = apps.get_model("progress", model_name)
        field = model._meta.get_field(field_name)
        if not _single_column_indexes(schema_editor, model, field.column):
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))


class Migration(migrations.Migration):
    dependencies = [
        ("curriculum", "0003_subject_chapter_language"),
        ("progress", "0006_progress_user_status_step_idx"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="learningprogress",
                    name="step",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="progress",
                        to="curriculum.learningstep",
                    ),
                ),
                migrations.AlterField(
                    model_name="learningprogress",
                    name="user",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="step_progress",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="progressevent",
                    name="step",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="events",
                        to="curriculum.learningstep",
                    ),
                ),
                migrations.AlterField(
                    model_name="progressevent",
                    name="user",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="progress_events",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
