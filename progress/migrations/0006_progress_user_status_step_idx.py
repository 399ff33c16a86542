# A learner's done steps from the index alone (class report matrix, roll-ups): docs/performance.md "Query plans".

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("progress", "0005_event_kind_path"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="learningprogress",
            index=models.Index(fields=["user", "status", "step"], name="progress_user_status_step_idx"),
        ),
    ]
