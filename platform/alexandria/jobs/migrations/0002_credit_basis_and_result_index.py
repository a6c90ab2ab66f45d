from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="creditentry",
            name="basis",
            field=models.CharField(
                choices=[
                    ("agreed", "validated, agreed with another contributor's result"),
                    ("trusted", "validated, trusted node (not replicated)"),
                ],
                default="trusted",
                help_text="Why the result earned credit.",
                max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.RemoveIndex(model_name="job", name="job_kind_status"),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                fields=["kind", "status", "-priority", "id"], name="job_kind_lease_order"
            ),
        ),
        migrations.AddIndex(
            model_name="jobresult",
            index=models.Index(fields=["status", "created_at"], name="result_status_created"),
        ),
    ]
