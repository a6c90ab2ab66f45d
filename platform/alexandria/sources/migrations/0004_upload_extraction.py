import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sources", "0003_takedown"),
    ]

    operations = [
        migrations.AddField(
            model_name="source",
            name="attempts",
            field=models.PositiveSmallIntegerField(
                default=0,
                help_text="Times the reconciler restarted its current stage; past "
                "SOURCE_MAX_ATTEMPTS it fails instead.",
            ),
        ),
        migrations.AddField(
            model_name="source",
            name="failure_reason",
            field=models.TextField(
                blank=True, help_text="Why the source failed, as its submitter is told."
            ),
        ),
        migrations.AlterField(
            model_name="source",
            name="sha256",
            field=models.CharField(
                blank=True,
                help_text="Of the normalised text; empty until an upload's text is extracted.",
                max_length=64,
                null=True,
                unique=True,
            ),
        ),
        migrations.AlterField(
            model_name="source",
            name="status",
            field=models.CharField(
                choices=[
                    ("extracting", "Extracting"),
                    ("received", "Received"),
                    ("chunked", "Chunked"),
                    ("analysing", "Analysing"),
                    ("analysed", "Analysed"),
                    ("failed", "Failed"),
                ],
                default="received",
                max_length=16,
            ),
        ),
        migrations.CreateModel(
            name="SourceUpload",
            fields=[
                (
                    "source",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="upload",
                        serialize=False,
                        to="sources.source",
                    ),
                ),
                ("data", models.BinaryField()),
                ("content_type", models.CharField(blank=True, max_length=255)),
                ("filename", models.CharField(blank=True, max_length=255)),
                (
                    "title_given",
                    models.BooleanField(
                        default=False,
                        help_text="The member named it; else the document's title is used.",
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
    ]
