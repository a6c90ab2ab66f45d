import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """The takedown register: requests, tombstones of removed sources, the audit log; and the
    SHA-256 of what was submitted, so a takedown can name a file."""

    dependencies = [
        ("contributors", "0001_initial"),
        ("sources", "0002_source_fingerprint"),
    ]

    operations = [
        migrations.AddField(
            model_name="source",
            name="file_sha256",
            field=models.CharField(
                blank=True,
                db_index=True,
                help_text=(
                    "SHA-256 of the bytes as submitted (the file, or the text's UTF-8), so a "
                    "takedown can name the file; blank for sources submitted before it was "
                    "recorded."
                ),
                max_length=64,
            ),
        ),
        migrations.CreateModel(
            name="Takedown",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "scope",
                    models.CharField(
                        choices=[
                            ("source", "source id"),
                            ("url", "exact URL"),
                            ("url_prefix", "URLs starting with"),
                            ("domain", "a domain and its subdomains"),
                            ("sha256", "SHA-256 of the submitted file or of the normalised text"),
                        ],
                        max_length=16,
                    ),
                ),
                ("value", models.CharField(max_length=2000)),
                ("reason", models.TextField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "requested_by",
                    models.ForeignKey(
                        blank=True,
                        help_text="The staff member or moderator who took it down.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="takedowns",
                        to="contributors.contributor",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("scope", "value"), name="takedown_unique_scope_value"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="SourceTombstone",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("former_source_id", models.PositiveBigIntegerField(unique=True)),
                (
                    "sha256",
                    models.CharField(
                        db_index=True, help_text="Of the normalised text.", max_length=64
                    ),
                ),
                ("file_sha256", models.CharField(blank=True, db_index=True, max_length=64)),
                ("url", models.CharField(blank=True, db_index=True, max_length=2000)),
                ("removed_at", models.DateTimeField(auto_now_add=True)),
                (
                    "takedown",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="tombstones",
                        to="sources.takedown",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="TakedownEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("requested", "Requested"),
                            ("source_removed", "Source Removed"),
                            ("resubmission_refused", "Resubmission Refused"),
                        ],
                        max_length=32,
                    ),
                ),
                ("former_source_id", models.PositiveBigIntegerField(blank=True, null=True)),
                ("counts", models.JSONField(blank=True, default=dict)),
                ("message", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="contributors.contributor",
                    ),
                ),
                (
                    "takedown",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="events",
                        to="sources.takedown",
                    ),
                ),
            ],
            options={
                "ordering": ["created_at", "id"],
            },
        ),
    ]
